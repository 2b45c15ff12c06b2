//! Output held back until the input has been read to its end: a record out of order found
//! late in the input changes everything replayed before it, so nothing may be printed before.
//! Held in memory up to a limit, then in an anonymous temporary file. Not tempfile's
//! `SpooledTempFile`: that writes to its file unbuffered (the output comes a few bytes per
//! call), and copying back here tells a temporary file that cannot be read from an output that
//! was closed.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

/// Output kept in memory up to this, then moved to a temporary file.
const MEMORY_LIMIT_BYTES: usize = 8 << 20;

#[derive(Default)]
pub struct HeldOutput {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
}

impl Write for HeldOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.memory.len() + buf.len() > MEMORY_LIMIT_BYTES {
            let mut file = BufWriter::with_capacity(256 << 10, super::spill::temp_file()?);
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write(buf),
            None => {
                self.memory.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Why the held output did not all reach its destination.
#[derive(Debug)]
pub enum CopyError {
    /// The temporary file could not be read back.
    Held(io::Error),
    /// The destination took no more (a closed pipe).
    Out,
}

impl HeldOutput {
    /// Writes everything held to `out`, in order.
    pub fn copy_to(self, out: &mut impl Write) -> Result<(), CopyError> {
        let Some(file) = self.file else {
            return out.write_all(&self.memory).map_err(|_| CopyError::Out);
        };
        let mut file = file
            .into_inner()
            .map_err(|e| CopyError::Held(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(CopyError::Held)?;
        let mut chunk = vec![0u8; 256 << 10];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CopyError::Held(e)),
            };
            out.write_all(&chunk[..n]).map_err(|_| CopyError::Out)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_memory_limit_comes_back_whole_and_in_order() {
        let mut held = HeldOutput::default();
        let mut expected = Vec::new();
        for i in 0..(MEMORY_LIMIT_BYTES / 1000 * 3) {
            let line = format!("{i:0999}\n");
            held.write_all(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        assert!(held.file.is_some());
        let mut out = Vec::new();
        held.copy_to(&mut out).unwrap();
        assert!(out == expected, "{} bytes of {}", out.len(), expected.len());
    }
}
