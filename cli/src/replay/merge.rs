//! `replay`'s inputs merged by time as they are read: each file's records are put in order
//! within a reorder window, and the files are merged record by record, so that memory holds
//! what the window spans rather than the whole input.
//!
//! A record is due once the newest record read from its file is more than the window past it
//! (or its file has ended, or the records held take more than the memory allowed them); once
//! every file has a record due (or has ended), the oldest of those goes first. Records of one
//! millisecond go in file order, then line order, as a stable sort of the whole input would put
//! them. A record at most the window older than the newest one read before it in its file is
//! therefore always released in order; one further behind is in order if nothing newer has
//! been released yet, and out of order otherwise: the merge stops there
//! ([`Next::OutOfOrder`]), and the caller sorts the whole input instead.

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
    /// What holding it costs, about (see [`entry_bytes`]).
    bytes: usize,
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

/// The memory a held record takes, about: its own size and its strings' (allocator overhead
/// left out).
fn entry_bytes(e: &Entry) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    std::mem::size_of::<Held>()
        + e.method.len()
        + e.path.len()
        + text(&e.peer)
        + text(&e.host)
        + text(&e.country)
        + text(&e.body)
        + text(&e.response_body)
        + e.headers
            .iter()
            .map(|(k, v)| std::mem::size_of::<(String, String)>() + k.len() + v.len())
            .sum::<usize>()
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
}

/// The first record found older than one already released: more than the window behind the
/// newest record read before it in its file (or behind a record the memory limit released
/// early).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder {
    pub file: usize,
    pub line: usize,
}

/// What the merge hands out next.
#[derive(Debug)]
pub enum Next {
    Record(Entry),
    /// A record older than one already released: the input must be sorted whole.
    OutOfOrder(OutOfOrder),
    /// Every file has ended.
    End,
}

/// An input that could not be read, and why.
pub type ReadError = (usize, std::io::Error);

pub struct Merge<S> {
    inputs: Vec<Input<S>>,
    /// The time of each file's next record, if it has one that is due (at most one per file).
    heads: BinaryHeap<Reverse<(u64, usize)>>,
    window_ms: u64,
    /// Held records beyond this many bytes (all files together) are released early.
    held_limit_bytes: usize,
    held_bytes: usize,
    /// The time of the last record released.
    released_ms: Option<u64>,
    started: bool,
    /// Malformed lines read, with their file's index, for the caller to report as they come.
    pub malformed: Vec<(usize, Malformed)>,
}

impl<S: Source> Merge<S> {
    pub fn new(sources: Vec<S>, window_ms: u64, held_limit_bytes: usize) -> Self {
        Merge {
            inputs: sources
                .into_iter()
                .map(|source| Input {
                    source,
                    window: Window::default(),
                    newest_ms: 0,
                    ended: false,
                })
                .collect(),
            heads: BinaryHeap::new(),
            window_ms,
            held_limit_bytes,
            held_bytes: 0,
            released_ms: None,
            started: false,
            malformed: Vec::new(),
        }
    }

    /// The next record in time order, until every file has ended or a record comes out of
    /// order (after which the merge has nothing more to say).
    pub fn next(&mut self) -> Result<Next, ReadError> {
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
            self.held_bytes = self.held_bytes.saturating_sub(held.bytes);
            if self
                .released_ms
                .is_some_and(|released| held.ts_ms < released)
            {
                self.heads.clear();
                return Ok(Next::OutOfOrder(OutOfOrder {
                    file,
                    line: held.line,
                }));
            }
            self.fill(file)?;
            self.released_ms = Some(held.ts_ms);
            return Ok(Next::Record(held.entry));
        }
        Ok(Next::End)
    }

    /// Reads file `i` until its oldest record is due (or the file ends), and enters that record
    /// among the heads.
    fn fill(&mut self, i: usize) -> Result<(), ReadError> {
        let input = &mut self.inputs[i];
        loop {
            if let Some(first) = input.window.first() {
                if input.ended
                    || input.newest_ms.saturating_sub(first.ts_ms) > self.window_ms
                    || self.held_bytes > self.held_limit_bytes
                {
                    self.heads.push(Reverse((first.ts_ms, i)));
                    return Ok(());
                }
            } else if input.ended {
                return Ok(());
            }
            match input.source.next_item() {
                Ok(Some(Item::Record { line, entry })) => {
                    input.newest_ms = input.newest_ms.max(entry.ts_ms);
                    let bytes = entry_bytes(&entry);
                    self.held_bytes += bytes;
                    input.window.push(Held {
                        ts_ms: entry.ts_ms,
                        line,
                        bytes,
                        entry,
                    });
                }
                Ok(Some(Item::Malformed(m))) => self.malformed.push((i, m)),
                Ok(None) => input.ended = true,
                Err(e) => return Err((i, e)),
            }
        }
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
                                response_body: None,
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

    /// The paths in the order released, and the record out of order that stopped the merge.
    fn merged(files: Vec<Lines>, window_ms: u64) -> (Vec<String>, Option<OutOfOrder>) {
        let mut m = Merge::new(files, window_ms, usize::MAX);
        let mut out = Vec::new();
        loop {
            match m.next().unwrap() {
                Next::Record(e) => out.push(e.path),
                Next::OutOfOrder(o) => return (out, Some(o)),
                Next::End => return (out, None),
            }
        }
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
        let (out, stop) = merged(vec![file], 10_000);
        assert_eq!(out, ["a", "a2", "b", "c", "d", "e"]);
        assert_eq!(stop, None);
    }

    #[test]
    fn files_interleave_by_time_and_ties_go_in_file_order() {
        let a = records(&[(1_000, "a1"), (2_000, "a2"), (4_000, "a4"), (90_000, "a90")]);
        let b = records(&[(1_000, "b1"), (3_000, "b3"), (4_000, "b4")]);
        let c = records(&[]);
        let (out, stop) = merged(vec![a, b, c], 0);
        assert_eq!(out, ["a1", "b1", "a2", "b3", "a4", "b4", "a90"]);
        assert_eq!(stop, None);
    }

    #[test]
    fn a_record_exactly_the_window_behind_is_in_order_and_one_further_behind_stops_the_merge() {
        let lines = [
            (100_000, "first"),
            // 60.001 s past "first": "first" is released.
            (160_001, "newest"),
            // Exactly 60 s behind the newest, after "first": in order.
            (100_001, "exactly"),
            // The same time as "first", after it in line order: in order.
            (100_000, "tie"),
        ];
        let (out, stop) = merged(vec![records(&lines)], 60_000);
        assert_eq!(out, ["first", "tie", "exactly", "newest"]);
        assert_eq!(stop, None);
        // 60.002 s behind the newest and older than "first": out of order, on line 5.
        let mut late = lines.to_vec();
        late.extend([(99_999, "late"), (99_000, "later")]);
        let (out, stop) = merged(vec![records(&late)], 60_000);
        assert_eq!(out, ["first", "tie"]);
        assert_eq!(stop, Some(OutOfOrder { file: 0, line: 5 }));
    }

    #[test]
    fn a_record_far_behind_is_in_order_while_nothing_newer_was_released() {
        let file = records(&[(500_000, "b"), (100_000, "a"), (500_001, "c")]);
        let (out, stop) = merged(vec![file], 60_000);
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(stop, None);
    }

    #[test]
    fn a_record_out_of_order_names_its_file_and_line() {
        let a = records(&[(2_000, "a2"), (80_000, "a80")]);
        // b1 comes after b140, more than the window behind it, once b70 was released.
        let b = records(&[(70_000, "b70"), (140_000, "b140"), (1_000, "b1")]);
        let (out, stop) = merged(vec![a, b], 60_000);
        assert_eq!(out, ["a2", "b70"]);
        assert_eq!(stop, Some(OutOfOrder { file: 1, line: 3 }));
    }

    #[test]
    fn malformed_lines_are_handed_over_as_read() {
        let file = Lines::new(&[Some((1_000, "a")), None, Some((2_000, "b")), None]);
        let mut m = Merge::new(vec![file], 0, usize::MAX);
        let mut out = Vec::new();
        while let Next::Record(e) = m.next().unwrap() {
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

    /// The most records held at once while merging `lines` to the end.
    fn most_held(lines: &[(u64, String)], window_ms: u64, limit_bytes: usize) -> (usize, usize) {
        let refs: Vec<(u64, &str)> = lines.iter().map(|(t, p)| (*t, p.as_str())).collect();
        let mut m = Merge::new(vec![records(&refs)], window_ms, limit_bytes);
        let (mut n, mut most) = (0, 0);
        while let Next::Record(_) = m.next().unwrap() {
            n += 1;
            let w = &m.inputs[0].window;
            most = most.max(w.run.len() + w.stragglers.len());
        }
        (n, most)
    }

    #[test]
    fn memory_holds_the_window_not_the_input() {
        // 100,000 records 1 ms apart through a 1 s window: at most about 1,000 held.
        let lines: Vec<(u64, String)> = (0..100_000u64)
            .map(|i| (1_000_000 + i, i.to_string()))
            .collect();
        let (n, most) = most_held(&lines, 1_000, usize::MAX);
        assert_eq!(n, 100_000);
        assert!(most <= 1_002, "{most}");
        // A window of a day, but room for about 100 records: no more are held.
        let one = entry_bytes(&match records(&[(0, "99999")]).0.pop_front() {
            Some(Item::Record { entry, .. }) => entry,
            _ => unreachable!(),
        });
        let (n, most) = most_held(&lines, 86_400_000, 100 * one);
        assert_eq!(n, 100_000);
        assert!((100..=104).contains(&most), "{most}");
    }

    #[test]
    fn a_record_behind_one_released_early_for_memory_is_out_of_order() {
        // Within the 1 h window, but the limit (about 2 records) releases "b" before "a" is read.
        let file = records(&[(3_000, "c"), (2_000, "b"), (4_000, "d"), (1_000, "a")]);
        let one = entry_bytes(&match records(&[(0, "a")]).0.pop_front() {
            Some(Item::Record { entry, .. }) => entry,
            _ => unreachable!(),
        });
        let mut m = Merge::new(vec![file], 3_600_000, 2 * one);
        let mut out = Vec::new();
        let stop = loop {
            match m.next().unwrap() {
                Next::Record(e) => out.push(e.path),
                Next::OutOfOrder(o) => break Some(o),
                Next::End => break None,
            }
        };
        assert_eq!(out, ["b"]);
        assert_eq!(stop, Some(OutOfOrder { file: 0, line: 4 }));
        // With room for all four, the same records come out sorted.
        let file = records(&[(3_000, "c"), (2_000, "b"), (4_000, "d"), (1_000, "a")]);
        assert_eq!(merged(vec![file], 3_600_000).0, ["a", "b", "c", "d"]);
    }
}
