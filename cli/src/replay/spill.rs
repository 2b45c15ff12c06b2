//! The whole input sorted, in bounded memory, for input further out of order than the reorder
//! window holds: records are encoded into runs of half the memory allowed, each run sorted in
//! memory and written to an unnamed temporary file (gone once closed, however the process
//! ends) while the next one fills, and the runs are merged back in (time, file, line) order:
//! the order of a stable sort of the whole input. The last run stays in memory.

use crate::formats::Entry;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// A record's place: its time, its file's index, its line (unique within a file).
pub type Key = (u64, usize, usize);

/// Runs merged at once. Past this many, runs are merged into one longer run first, so that
/// the files open stay few and the merge's read buffers small.
const FAN_IN: usize = 64;
const READ_BUFFER_BYTES: usize = 64 << 10;
const WRITE_BUFFER_BYTES: usize = 256 << 10;

/// A record of the run in memory: its key and where its encoding lies in the arena.
struct Slot {
    key: Key,
    start: usize,
    end: usize,
}

const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

/// The records of one run in memory: their encodings back to back, and their slots.
#[derive(Default)]
struct RunBuffer {
    arena: Vec<u8>,
    slots: Vec<Slot>,
}

impl RunBuffer {
    fn bytes(&self) -> usize {
        self.arena.len() + self.slots.len() * SLOT_BYTES
    }
}

/// Takes records in any order; [`Sorter::finish`] hands them back sorted. A full run is sorted
/// and written on a thread of its own while the next one fills: two runs in memory at most.
pub struct Sorter {
    run_bytes: usize,
    /// The run being filled.
    run: RunBuffer,
    /// The thread writing full runs, once there is one.
    writer: Option<Writer>,
    stats: Stats,
}

struct Writer {
    /// Full runs to write; taken only once the one before is written.
    full: std::sync::mpsc::SyncSender<RunBuffer>,
    /// Runs written, emptied, to be filled again.
    emptied: std::sync::mpsc::Receiver<RunBuffer>,
    /// The runs on disk, by level (see [`Levels`]), and the bytes of the runs it wrote.
    thread: std::thread::JoinHandle<io::Result<(Levels, u64)>>,
}

/// What sorting took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    /// Records written to disk in sorted runs (the last run stays in memory).
    pub spilled_records: u64,
    /// Sorted runs written from memory.
    pub runs: u64,
    /// The bytes of those runs on disk (known once sorting is finished).
    pub spilled_bytes: u64,
}

impl Sorter {
    /// `memory_bytes`: memory for records, two runs of half of it, their encodings and slots
    /// together.
    pub fn new(memory_bytes: usize) -> Self {
        Sorter {
            run_bytes: (memory_bytes / 2).max(1),
            run: RunBuffer::default(),
            writer: None,
            stats: Stats::default(),
        }
    }

    pub fn push(&mut self, key: Key, entry: &Entry) -> io::Result<()> {
        let start = self.run.arena.len();
        encode(entry, &mut self.run.arena);
        self.run.slots.push(Slot {
            key,
            start,
            end: self.run.arena.len(),
        });
        self.stats.records += 1;
        if self.run.bytes() >= self.run_bytes {
            self.spill()?;
        }
        Ok(())
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Hands the full run to the writing thread (once it is done with the one before).
    fn spill(&mut self) -> io::Result<()> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => self.writer.insert(Writer::start()),
        };
        let records = self.run.slots.len() as u64;
        let full = std::mem::take(&mut self.run);
        if writer.full.send(full).is_err() {
            // The thread stopped on an error: that error.
            return Err(match self.stop_writer() {
                Err(e) => e,
                Ok(_) => io::Error::other("the thread writing sorted runs stopped"),
            });
        }
        self.stats.spilled_records += records;
        self.stats.runs += 1;
        // The run before, written and emptied (none yet after the first).
        if let Ok(emptied) = writer.emptied.try_recv() {
            self.run = emptied;
        }
        Ok(())
    }

    /// Waits for the writing thread to write what it was given; the runs on disk and their
    /// bytes.
    fn stop_writer(&mut self) -> io::Result<Option<(Levels, u64)>> {
        let Some(writer) = self.writer.take() else {
            return Ok(None);
        };
        drop(writer.full);
        match writer.thread.join() {
            Ok(levels) => levels.map(Some),
            Err(_) => Err(io::Error::other("the thread writing sorted runs failed")),
        }
    }

    /// Every record pushed, in key order (the runs on disk merged with the one in memory), and
    /// what sorting took.
    pub fn finish(mut self) -> io::Result<(Merger, Stats)> {
        let (levels, spilled_bytes) = self.stop_writer()?.unwrap_or_default();
        self.stats.spilled_bytes = spilled_bytes;
        let mut run = std::mem::take(&mut self.run);
        run.slots.sort_unstable_by_key(|s| s.key);
        let memory = Run::Memory {
            arena: run.arena,
            slots: run.slots,
            next: 0,
        };
        let disk = levels.0.into_iter().flatten().map(Run::disk);
        Ok((
            Merger::new(disk.chain(std::iter::once(memory)))?,
            self.stats,
        ))
    }
}

impl Writer {
    fn start() -> Writer {
        // No queue: a full run is handed over only once the one before is written, so that
        // two runs at most are in memory.
        let (full, full_rx) = std::sync::mpsc::sync_channel::<RunBuffer>(0);
        let (emptied_tx, emptied) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let (mut levels, mut bytes) = (Levels::default(), 0);
            for mut run in full_rx {
                let (file, written) = write_run(&mut run)?;
                bytes += written;
                levels.add(0, file)?;
                run.arena.clear();
                run.slots.clear();
                let _ = emptied_tx.send(run);
            }
            Ok((levels, bytes))
        });
        Writer {
            full,
            emptied,
            thread,
        }
    }
}

/// Sorts a run and writes it to a temporary file; the file and its length.
fn write_run(run: &mut RunBuffer) -> io::Result<(File, u64)> {
    run.slots.sort_unstable_by_key(|s| s.key);
    let mut w = BufWriter::with_capacity(WRITE_BUFFER_BYTES, temp_file()?);
    let mut bytes = 0;
    for s in &run.slots {
        bytes += write_record(&mut w, s.key, run.arena.get(s.start..s.end).unwrap_or(&[]))?;
    }
    let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok((file, bytes))
}

/// Runs on disk by level: a run of level n+1 is FAN_IN runs of level n merged, so that no more
/// than FAN_IN files of a level are open.
#[derive(Default)]
struct Levels(Vec<Vec<File>>);

impl Levels {
    /// Files a run at `level`, merging the level into one run of the next once it is full.
    fn add(&mut self, mut level: usize, mut file: File) -> io::Result<()> {
        loop {
            if self.0.len() <= level {
                self.0.resize_with(level + 1, Vec::new);
            }
            let runs = &mut self.0[level];
            runs.push(file);
            if runs.len() < FAN_IN {
                return Ok(());
            }
            let mut merged = Merger::new(std::mem::take(runs).into_iter().map(Run::disk))?;
            let mut w = BufWriter::with_capacity(WRITE_BUFFER_BYTES, temp_file()?);
            while let Some((key, bytes)) = merged.next_raw()? {
                write_record(&mut w, key, bytes)?;
            }
            file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
            level += 1;
        }
    }
}

/// One sorted run being read back.
enum Run {
    Disk {
        reader: BufReader<File>,
        /// The key and encoding of the record at the head of the run, once read.
        head: Option<Key>,
        bytes: Vec<u8>,
        started: bool,
    },
    Memory {
        arena: Vec<u8>,
        slots: Vec<Slot>,
        next: usize,
    },
}

impl Run {
    fn disk(file: File) -> Run {
        Run::Disk {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            head: None,
            bytes: Vec::new(),
            started: false,
        }
    }

    /// Moves to the run's next record (the first, on the first call); its key, if any.
    fn advance(&mut self) -> io::Result<Option<Key>> {
        match self {
            Run::Disk {
                reader,
                head,
                bytes,
                started,
            } => {
                if !*started {
                    *started = true;
                    reader.seek(SeekFrom::Start(0))?;
                }
                *head = read_record(reader, bytes)?;
                Ok(*head)
            }
            Run::Memory { slots, next, .. } => {
                *next += 1;
                Ok(slots.get(*next - 1).map(|s| s.key))
            }
        }
    }

    /// The encoding of the record `advance` moved to.
    fn bytes(&self) -> &[u8] {
        match self {
            Run::Disk { bytes, .. } => bytes,
            Run::Memory { arena, slots, next } => next
                .checked_sub(1)
                .and_then(|i| slots.get(i))
                .and_then(|s| arena.get(s.start..s.end))
                .unwrap_or(&[]),
        }
    }
}

/// Sorted runs merged by key.
pub struct Merger {
    runs: Vec<Run>,
    heads: BinaryHeap<Reverse<(Key, usize)>>,
    /// The run whose head was handed out last, to move on before the next.
    taken: Option<usize>,
}

impl Merger {
    fn new(runs: impl Iterator<Item = Run>) -> io::Result<Merger> {
        let mut merger = Merger {
            runs: runs.collect(),
            heads: BinaryHeap::new(),
            taken: None,
        };
        for (i, run) in merger.runs.iter_mut().enumerate() {
            if let Some(key) = run.advance()? {
                merger.heads.push(Reverse((key, i)));
            }
        }
        Ok(merger)
    }

    /// The next record's key and encoding.
    fn next_raw(&mut self) -> io::Result<Option<(Key, &[u8])>> {
        if let Some(i) = self.taken.take() {
            if let Some(key) = self.runs[i].advance()? {
                self.heads.push(Reverse((key, i)));
            }
        }
        let Some(Reverse((key, i))) = self.heads.pop() else {
            return Ok(None);
        };
        self.taken = Some(i);
        Ok(Some((key, self.runs[i].bytes())))
    }

    /// The next record in key order.
    #[cfg(test)]
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        let mut entry = empty_entry();
        Ok(self.next_into(&mut entry)?.then_some(entry))
    }

    /// Decodes the next record in key order into `entry`, reusing its strings; `false` at the
    /// end.
    pub fn next_into(&mut self, entry: &mut Entry) -> io::Result<bool> {
        match self.next_raw()? {
            Some((key, bytes)) => decode_into(key.0, bytes, entry).map(|()| true),
            None => Ok(false),
        }
    }
}

/// An entry to decode records into.
pub fn empty_entry() -> Entry {
    Entry {
        ts_ms: 0,
        method: String::new(),
        path: String::new(),
        status: 0,
        peer: None,
        host: None,
        headers: Vec::new(),
        country: None,
        body: None,
        response_body: None,
    }
}

/// A new temporary file, unnamed: gone once closed, however the process ends.
pub fn temp_file() -> io::Result<File> {
    tempfile::tempfile().map_err(|e| {
        let dir = std::env::temp_dir();
        io::Error::new(
            e.kind(),
            format!("a temporary file in {}: {e}", dir.display()),
        )
    })
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a sorted run read back damaged ({what})"),
    )
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// `None` as 0, a string as its length plus one, then its bytes.
fn put_option(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

// Runs are encoded by hand rather than through serde (bincode, postcard): a run is written and
// read back by the same process within one replay, so it needs no format versioning, and
// `decode_into` reuses an entry's strings, where a serde decoder would allocate each of
// millions of records afresh. Corrupt runs are errors ([`damaged`]), never panics.

/// A record's fields but its time (which is in its key).
fn encode(e: &Entry, out: &mut Vec<u8>) {
    put_varint(out, u64::from(e.status));
    put_str(out, &e.method);
    put_str(out, &e.path);
    put_option(out, e.peer.as_deref());
    put_option(out, e.host.as_deref());
    put_option(out, e.country.as_deref());
    put_option(out, e.body.as_deref());
    put_option(out, e.response_body.as_deref());
    put_varint(out, e.headers.len() as u64);
    for (name, value) in &e.headers {
        put_str(out, name);
        put_str(out, value);
    }
}

/// A bounds-checked reader of one record's encoding.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first().ok_or_else(|| damaged("cut short"))?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(damaged("a number too long"))
    }

    fn take(&mut self, len: u64) -> io::Result<&str> {
        let len = usize::try_from(len).map_err(|_| damaged("a length too long"))?;
        if len > self.0.len() {
            return Err(damaged("cut short"));
        }
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(text).map_err(|_| damaged("not UTF-8"))
    }

    /// Reads a string into `out`, reusing its allocation.
    fn str_into(&mut self, out: &mut String) -> io::Result<()> {
        let len = self.varint()?;
        let text = self.take(len)?;
        out.clear();
        out.push_str(text);
        Ok(())
    }

    fn option_into(&mut self, out: &mut Option<String>) -> io::Result<()> {
        match self.varint()? {
            0 => *out = None,
            len => {
                let text = self.take(len - 1)?;
                let s = out.get_or_insert_with(String::new);
                s.clear();
                s.push_str(text);
            }
        }
        Ok(())
    }
}

/// Decodes a record's encoding into `e`, reusing its strings (a replay decodes millions).
fn decode_into(ts_ms: u64, bytes: &[u8], e: &mut Entry) -> io::Result<()> {
    let mut f = Fields(bytes);
    e.ts_ms = ts_ms;
    e.status = u16::try_from(f.varint()?).map_err(|_| damaged("a status out of range"))?;
    f.str_into(&mut e.method)?;
    f.str_into(&mut e.path)?;
    f.option_into(&mut e.peer)?;
    f.option_into(&mut e.host)?;
    f.option_into(&mut e.country)?;
    f.option_into(&mut e.body)?;
    f.option_into(&mut e.response_body)?;
    let count = usize::try_from(f.varint()?).map_err(|_| damaged("a count too long"))?;
    // A damaged count runs out of bytes, header by header.
    e.headers.truncate(count);
    for i in 0..count {
        if i == e.headers.len() {
            e.headers.push((String::new(), String::new()));
        }
        let (name, value) = &mut e.headers[i];
        f.str_into(name)?;
        f.str_into(value)?;
    }
    Ok(())
}

/// A record in a run file: its key, the length of its encoding, the encoding. The bytes
/// written.
fn write_record(w: &mut impl Write, key: Key, bytes: &[u8]) -> io::Result<u64> {
    let mut head = Vec::with_capacity(32);
    put_varint(&mut head, key.0);
    put_varint(&mut head, key.1 as u64);
    put_varint(&mut head, key.2 as u64);
    put_varint(&mut head, bytes.len() as u64);
    w.write_all(&head)?;
    w.write_all(bytes)?;
    Ok((head.len() + bytes.len()) as u64)
}

/// The next varint of a run file; `None` at its end.
fn read_varint(r: &mut impl BufRead) -> io::Result<Option<u64>> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = match r.fill_buf()?.first() {
            Some(&b) => b,
            None if shift == 0 => return Ok(None),
            None => return Err(damaged("cut short")),
        };
        r.consume(1);
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(damaged("a number too long"))
}

/// Reads a run file's next record into `bytes`; its key, or `None` at the end of the run.
fn read_record(r: &mut impl BufRead, bytes: &mut Vec<u8>) -> io::Result<Option<Key>> {
    let Some(ts_ms) = read_varint(r)? else {
        return Ok(None);
    };
    let mut field = || -> io::Result<usize> {
        let v = read_varint(r)?.ok_or_else(|| damaged("cut short"))?;
        usize::try_from(v).map_err(|_| damaged("a number too long"))
    };
    let (file, line, len) = (field()?, field()?, field()?);
    bytes.clear();
    // Read as it comes rather than allocated up front: a damaged length is an error.
    r.take(len as u64).read_to_end(bytes)?;
    if bytes.len() != len {
        return Err(damaged("cut short"));
    }
    Ok(Some((ts_ms, file, line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts_ms: u64, path: &str) -> Entry {
        Entry {
            ts_ms,
            method: "GET".into(),
            path: path.into(),
            status: 404,
            peer: Some("203.0.113.7:1".into()),
            host: None,
            headers: vec![("user-agent".into(), "scan/1 \\x16 é".into())],
            country: Some("IN".into()),
            body: Some(String::new()),
            response_body: None,
        }
    }

    #[test]
    fn a_record_reads_back_as_it_was_written() {
        let e = entry(1_747_162_300_123, "/a?b=\"c\"");
        let mut bytes = Vec::new();
        encode(&e, &mut bytes);
        let mut decoded = empty_entry();
        decode_into(e.ts_ms, &bytes, &mut decoded).unwrap();
        assert_eq!(decoded, e);
        // Into an entry that held another record: nothing of it is left.
        let other = Entry {
            peer: None,
            country: None,
            body: None,
            response_body: None,
            headers: Vec::new(),
            ..entry(7, "/other")
        };
        let mut short = Vec::new();
        encode(&other, &mut short);
        decode_into(7, &short, &mut decoded).unwrap();
        assert_eq!(decoded, other);
        // Cut anywhere, it is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(
                decode_into(1, &bytes[..cut], &mut decoded).is_err(),
                "{cut}"
            );
        }
    }

    /// Pushes `n` records in a fixed pseudo-random order through a sorter of `memory_bytes`;
    /// the paths in the order they come back, and the stats.
    fn sorted(n: u64, memory_bytes: usize) -> (Vec<String>, Stats) {
        let mut sorter = Sorter::new(memory_bytes);
        // Times 0..n/4 over n records, so that most times are shared by several lines.
        let mut x = 88_172_645_463_325_252u64;
        for line in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ts = x % (n / 4).max(1);
            sorter
                .push((ts, 0, line as usize), &entry(ts, &format!("{ts}/{line}")))
                .unwrap();
        }
        let (mut merged, stats) = sorter.finish().unwrap();
        let mut out = Vec::new();
        while let Some(e) = merged.next_entry().unwrap() {
            out.push(e.path);
        }
        (out, stats)
    }

    fn expected(paths: &[String]) -> Vec<String> {
        let mut keyed: Vec<(u64, usize, &String)> = paths
            .iter()
            .map(|p| {
                let (ts, line) = p.split_once('/').unwrap();
                (ts.parse().unwrap(), line.parse().unwrap(), p)
            })
            .collect();
        keyed.sort();
        keyed.into_iter().map(|(_, _, p)| p.clone()).collect()
    }

    #[test]
    fn records_come_back_in_key_order_from_memory_alone() {
        let (out, stats) = sorted(1_000, usize::MAX);
        assert_eq!(out.len(), 1_000);
        assert_eq!(out, expected(&out));
        assert_eq!(
            (stats.runs, stats.spilled_records, stats.spilled_bytes),
            (0, 0, 0)
        );
    }

    #[test]
    fn records_come_back_in_key_order_through_levels_of_runs_on_disk() {
        // 4 or 5 records a run: more than FAN_IN² runs, so runs of runs are merged too.
        let mut longest = Vec::new();
        encode(&entry(0, "6249/24999"), &mut longest);
        let (out, stats) = sorted(25_000, 2 * 4 * (SLOT_BYTES + longest.len()));
        assert_eq!(out.len(), 25_000);
        assert_eq!(out, expected(&out));
        assert!(stats.runs as usize > FAN_IN * FAN_IN, "{stats:?}");
        assert!(stats.spilled_records > 24_000, "{stats:?}");
        // Each record's encoding and its key, at least.
        assert!(
            stats.spilled_bytes > stats.spilled_records * longest.len() as u64,
            "{stats:?}"
        );
    }
}
