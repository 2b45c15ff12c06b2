//! `replay`'s inputs merged by time as they are read: each file's records are put in order
//! within a reorder window, and the files are merged record by record, so that memory holds
//! what the window spans rather than the whole input.
//!
//! A record is due once the newest record read from its file is more than the window past it
//! (or its file has ended); once every file has a record due (or has ended), the oldest of
//! those goes first. Records of one millisecond go in file order, then
//! line order, as a stable sort of the whole input would put them. A record at most the window
//! older than the newest one read before it in its file is therefore always replayed in order;
//! one further behind is replayed in order if nothing newer has been replayed yet, and is late
//! otherwise: counted, not replayed (see [`Merge::late`]).

use crate::formats::{Entry, Item, Malformed, Records};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

/// What the merge reads: one file's records and malformed lines, in file order.
pub trait Source {
    fn next_item(&mut self) -> std::io::Result<Option<Item>>;
}

impl Source for Records {
    fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        Records::next_item(self)
    }
}

/// A record waiting for its turn, ordered by (time, line).
struct Held {
    ts_ms: u64,
    line: usize,
    entry: Entry,
}

impl Held {
    fn key(&self) -> (u64, usize) {
        (self.ts_ms, self.line)
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// One file's records read and not yet released. Records that come in order (the common case)
/// queue at the back of `run`; the others wait in a heap.
#[derive(Default)]
struct Window {
    run: VecDeque<Held>,
    stragglers: BinaryHeap<Reverse<Held>>,
}

impl Window {
    fn push(&mut self, held: Held) {
        match self.run.back() {
            Some(last) if held < *last => self.stragglers.push(Reverse(held)),
            _ => self.run.push_back(held),
        }
    }

    /// Whether the oldest record is a straggler.
    fn straggler_first(&self) -> bool {
        match (self.run.front(), self.stragglers.peek()) {
            (Some(run), Some(Reverse(straggler))) => straggler < run,
            (None, Some(_)) => true,
            _ => false,
        }
    }

    fn first(&self) -> Option<&Held> {
        if self.straggler_first() {
            self.stragglers.peek().map(|Reverse(h)| h)
        } else {
            self.run.front()
        }
    }

    fn pop(&mut self) -> Option<Held> {
        if self.straggler_first() {
            self.stragglers.pop().map(|Reverse(h)| h)
        } else {
            self.run.pop_front()
        }
    }
}

struct Input<S> {
    source: S,
    window: Window,
    /// The newest record time read from this file.
    newest_ms: u64,
    ended: bool,
    late: usize,
    first_late_line: Option<usize>,
}

/// Records later than the window, of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Late {
    pub records: usize,
    /// The line of the first of them.
    pub first_line: usize,
}

/// An input that could not be read, and why.
pub type ReadError = (usize, std::io::Error);

pub struct Merge<S> {
    inputs: Vec<Input<S>>,
    /// The time of each file's next record, if it has one that is due (at most one per file).
    heads: BinaryHeap<Reverse<(u64, usize)>>,
    window_ms: u64,
    /// The time of the last record released.
    released_ms: Option<u64>,
    started: bool,
    /// Malformed lines read, with their file's index, for the caller to report as they come.
    pub malformed: Vec<(usize, Malformed)>,
}

impl<S: Source> Merge<S> {
    pub fn new(sources: Vec<S>, window_ms: u64) -> Self {
        Merge {
            inputs: sources
                .into_iter()
                .map(|source| Input {
                    source,
                    window: Window::default(),
                    newest_ms: 0,
                    ended: false,
                    late: 0,
                    first_late_line: None,
                })
                .collect(),
            heads: BinaryHeap::new(),
            window_ms,
            released_ms: None,
            started: false,
            malformed: Vec::new(),
        }
    }

    /// The next record in time order; `None` when every file has ended.
    pub fn next(&mut self) -> Result<Option<Entry>, ReadError> {
        if !self.started {
            self.started = true;
            for i in 0..self.inputs.len() {
                self.fill(i)?;
            }
        }
        while let Some(Reverse((_, file))) = self.heads.pop() {
            let Some(held) = self.inputs[file].window.pop() else {
                continue;
            };
            self.fill(file)?;
            if self
                .released_ms
                .is_some_and(|released| held.ts_ms < released)
            {
                let input = &mut self.inputs[file];
                input.late += 1;
                input.first_late_line.get_or_insert(held.line);
                continue;
            }
            self.released_ms = Some(held.ts_ms);
            return Ok(Some(held.entry));
        }
        Ok(None)
    }

    /// Reads file `i` until its oldest record is due (or the file ends), and enters that record
    /// among the heads.
    fn fill(&mut self, i: usize) -> Result<(), ReadError> {
        let input = &mut self.inputs[i];
        loop {
            if let Some(first) = input.window.first() {
                if input.ended || input.newest_ms.saturating_sub(first.ts_ms) > self.window_ms {
                    self.heads.push(Reverse((first.ts_ms, i)));
                    return Ok(());
                }
            } else if input.ended {
                return Ok(());
            }
            match input.source.next_item() {
                Ok(Some(Item::Record { line, entry })) => {
                    input.newest_ms = input.newest_ms.max(entry.ts_ms);
                    input.window.push(Held {
                        ts_ms: entry.ts_ms,
                        line,
                        entry,
                    });
                }
                Ok(Some(Item::Malformed(m))) => self.malformed.push((i, m)),
                Ok(None) => input.ended = true,
                Err(e) => return Err((i, e)),
            }
        }
    }

    /// The records of file `i` that came after newer ones had been replayed (so more than the
    /// window behind the newest record read before them): not replayed, since out of order they
    /// would count differently than at their place in time, and the engine takes a time more
    /// than 5 s back for its clock stepping back, which starts every window afresh.
    pub fn late(&self, i: usize) -> Option<Late> {
        let input = self.inputs.get(i)?;
        Some(Late {
            records: input.late,
            first_line: input.first_late_line?,
        })
    }

    pub fn sources(&self) -> impl Iterator<Item = &S> {
        self.inputs.iter().map(|i| &i.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of records (time, path) and malformed lines (`None`), numbered from 1.
    struct Lines(VecDeque<Item>);

    impl Lines {
        fn new(lines: &[Option<(u64, &str)>]) -> Self {
            Lines(
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| match l {
                        Some((ts_ms, path)) => Item::Record {
                            line: i + 1,
                            entry: Entry {
                                ts_ms: *ts_ms,
                                method: "GET".into(),
                                path: path.to_string(),
                                status: 404,
                                peer: None,
                                host: None,
                                headers: Vec::new(),
                                country: None,
                                body: None,
                            },
                        },
                        None => Item::Malformed(Malformed {
                            line: i + 1,
                            reason: "bad".into(),
                        }),
                    })
                    .collect(),
            )
        }
    }

    impl Source for Lines {
        fn next_item(&mut self) -> std::io::Result<Option<Item>> {
            Ok(self.0.pop_front())
        }
    }

    fn records(lines: &[(u64, &str)]) -> Lines {
        Lines::new(&lines.iter().map(|l| Some(*l)).collect::<Vec<_>>())
    }

    /// The paths in the order released.
    fn merged(files: Vec<Lines>, window_ms: u64) -> (Vec<String>, Merge<Lines>) {
        let mut m = Merge::new(files, window_ms);
        let mut out = Vec::new();
        while let Some(e) = m.next().unwrap() {
            out.push(e.path);
        }
        (out, m)
    }

    #[test]
    fn records_out_of_order_within_the_window_come_out_sorted_and_ties_keep_line_order() {
        let file = records(&[
            (3_000, "c"),
            (1_000, "a"),
            (3_000, "d"),
            (2_000, "b"),
            (1_000, "a2"),
            (9_000, "e"),
        ]);
        let (out, m) = merged(vec![file], 10_000);
        assert_eq!(out, ["a", "a2", "b", "c", "d", "e"]);
        assert_eq!(m.late(0), None);
    }

    #[test]
    fn files_interleave_by_time_and_ties_go_in_file_order() {
        let a = records(&[(1_000, "a1"), (2_000, "a2"), (4_000, "a4"), (90_000, "a90")]);
        let b = records(&[(1_000, "b1"), (3_000, "b3"), (4_000, "b4")]);
        let c = records(&[]);
        let (out, _) = merged(vec![a, b, c], 0);
        assert_eq!(out, ["a1", "b1", "a2", "b3", "a4", "b4", "a90"]);
    }

    #[test]
    fn a_record_exactly_the_window_behind_is_in_order_and_one_further_behind_is_late() {
        let file = records(&[
            (100_000, "first"),
            // 60.001 s past "first": "first" is released.
            (160_001, "newest"),
            // Exactly 60 s behind the newest, after "first": in order.
            (100_001, "exactly"),
            // The same time as "first", after it in line order: in order.
            (100_000, "tie"),
            // 60.002 s behind and older than "first": late.
            (99_999, "late"),
            (99_000, "later"),
        ]);
        let (out, m) = merged(vec![file], 60_000);
        assert_eq!(out, ["first", "tie", "exactly", "newest"]);
        assert_eq!(
            m.late(0),
            Some(Late {
                records: 2,
                first_line: 5
            })
        );
    }

    #[test]
    fn a_record_far_behind_is_in_order_while_nothing_newer_was_replayed() {
        let file = records(&[(500_000, "b"), (100_000, "a"), (500_001, "c")]);
        let (out, m) = merged(vec![file], 60_000);
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(m.late(0), None);
    }

    #[test]
    fn a_late_record_is_counted_in_its_file_and_the_merge_goes_on() {
        let a = records(&[(2_000, "a2"), (80_000, "a80")]);
        // b1 comes after b140, more than the window behind it, once b70 was replayed.
        let b = records(&[(70_000, "b70"), (140_000, "b140"), (1_000, "b1")]);
        let (out, m) = merged(vec![a, b], 60_000);
        assert_eq!(out, ["a2", "b70", "a80", "b140"]);
        assert_eq!(m.late(0), None);
        assert_eq!(
            m.late(1),
            Some(Late {
                records: 1,
                first_line: 3
            })
        );
    }

    #[test]
    fn malformed_lines_are_handed_over_as_read() {
        let file = Lines::new(&[Some((1_000, "a")), None, Some((2_000, "b")), None]);
        let mut m = Merge::new(vec![file], 0);
        let mut out = Vec::new();
        while let Some(e) = m.next().unwrap() {
            out.push(e.path);
        }
        assert_eq!(out, ["a", "b"]);
        assert_eq!(
            m.malformed
                .iter()
                .map(|(f, b)| (*f, b.line))
                .collect::<Vec<_>>(),
            [(0, 2), (0, 4)]
        );
    }

    #[test]
    fn memory_holds_the_window_not_the_input() {
        // 100,000 records 1 ms apart through a 1 s window: at most about 1,000 held.
        let lines: Vec<(u64, String)> = (0..100_000u64)
            .map(|i| (1_000_000 + i, i.to_string()))
            .collect();
        let refs: Vec<(u64, &str)> = lines.iter().map(|(t, p)| (*t, p.as_str())).collect();
        let mut m = Merge::new(vec![records(&refs)], 1_000);
        let (mut n, mut most) = (0, 0);
        while m.next().unwrap().is_some() {
            n += 1;
            let w = &m.inputs[0].window;
            most = most.max(w.run.len() + w.stragglers.len());
        }
        assert_eq!(n, 100_000);
        assert!(most <= 1_002, "{most}");
    }
}
