//! `replay`'s inputs, opened so that they can be read again from their start should one need
//! sorting whole: a regular file by a second handle, rewound; standard input or a pipe through
//! a copy made as it is read.

use super::spill;
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::rc::Rc;

/// Input read per system call.
const READ_BUFFER: usize = 256 << 10;

/// How an input is read again from its start, should it need sorting whole.
pub enum Again {
    /// A regular file: a second handle on it, rewound.
    File(File),
    /// Standard input or a pipe: what the first reading took, copied to a temporary file as it
    /// was read, then the rest of the stream.
    Copied {
        copy: File,
        rest: Box<dyn Read>,
        /// Why the copy stopped, if it did.
        failed: Rc<RefCell<Option<String>>>,
    },
    /// A stream no copy of which could be made: why.
    Unavailable(String),
}

impl Again {
    pub fn reopen(self) -> std::io::Result<Box<dyn BufRead>> {
        let input: Box<dyn Read> = match self {
            Again::File(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                Box::new(file)
            }
            Again::Copied { failed, .. } if failed.borrow().is_some() => {
                let why = failed.borrow().clone().unwrap_or_default();
                return Err(cannot_read_again(&why));
            }
            Again::Copied { mut copy, rest, .. } => {
                copy.seek(SeekFrom::Start(0))?;
                Box::new(copy.chain(rest))
            }
            Again::Unavailable(why) => return Err(cannot_read_again(&why)),
        };
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, input)))
    }
}

fn cannot_read_again(why: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "out of order, and no copy to read it again and sort it: {why}"
    ))
}

/// Reads `inner`, copying every byte read to `copy` while it can: a stream in order never
/// needs the copy, so a failing copy (a full disk) only stops the copying.
struct Tee<R> {
    inner: R,
    copy: Option<File>,
    failed: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(copy) = &mut self.copy {
            if let Err(e) = copy.write_all(buf.get(..n).unwrap_or_default()) {
                *self.failed.borrow_mut() = Some(format!("copying to a temporary file: {e}"));
                self.copy = None;
            }
        }
        Ok(n)
    }
}

/// `path` (`-`: standard input) for its first reading, and how to read it again.
pub fn open_input(path: &Path) -> std::io::Result<(Box<dyn BufRead>, Again)> {
    let (input, rest): (Box<dyn Read>, Box<dyn Read>) = if path.as_os_str() == "-" {
        (Box::new(std::io::stdin()), Box::new(std::io::stdin()))
    } else {
        let file = File::open(path)?;
        if file.metadata()?.is_file() {
            let again = Again::File(file.try_clone()?);
            return Ok((Box::new(BufReader::with_capacity(READ_BUFFER, file)), again));
        }
        // A pipe (`<(zcat ...)`): the second handle reads on where the first stops.
        let rest = file.try_clone()?;
        (Box::new(file), Box::new(rest))
    };
    let copies = spill::temp_file().and_then(|copy| Ok((copy.try_clone()?, copy)));
    let (copy, again) = match copies {
        Ok((copy, kept)) => {
            let failed = Rc::new(RefCell::new(None));
            let again = Again::Copied {
                copy: kept,
                rest,
                failed: Rc::clone(&failed),
            };
            (Some((copy, failed)), again)
        }
        Err(e) => (None, Again::Unavailable(e.to_string())),
    };
    let input: Box<dyn Read> = match copy {
        Some((copy, failed)) => Box::new(Tee {
            inner: input,
            copy: Some(copy),
            failed,
        }),
        None => input,
    };
    Ok((
        Box::new(BufReader::with_capacity(READ_BUFFER, input)),
        again,
    ))
}
