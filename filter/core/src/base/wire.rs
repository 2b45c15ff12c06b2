//! The versioned binary codec of everything that crosses VMs and Durable Objects (worker deltas,
//! blocklist snapshots, counting-state snapshots): little-endian varints, length-prefixed
//! strings, and a bounds-checked reader that never panics on any input.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    BadMagic,
    UnsupportedVersion(u8),
    Truncated,
    BadUtf8,
    BadTag(u8),
    TooLarge,
    /// A state snapshot taken under another configuration.
    OtherConfig,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadMagic => f.write_str("not an actorwatch delta"),
            WireError::UnsupportedVersion(v) => write!(f, "unsupported delta version {v}"),
            WireError::Truncated => f.write_str("delta is truncated"),
            WireError::BadUtf8 => f.write_str("delta holds a string that is not UTF-8"),
            WireError::BadTag(t) => write!(f, "delta holds an unknown tag {t}"),
            WireError::TooLarge => f.write_str("delta holds a value out of range"),
            WireError::OtherConfig => f.write_str("snapshot of another configuration"),
        }
    }
}

impl std::error::Error for WireError {}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A bounds-checked reader over delta or blocklist bytes: never panics on any input.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn byte(&mut self) -> Result<u8, WireError> {
        let (&b, rest) = self.bytes.split_first().ok_or(WireError::Truncated)?;
        self.bytes = rest;
        Ok(b)
    }
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let (head, rest) = self.bytes.split_at_checked(N).ok_or(WireError::Truncated)?;
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
    pub fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    return Err(WireError::TooLarge);
                }
                return Ok(v);
            }
        }
        Err(WireError::TooLarge)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError::TooLarge)?;
        let (head, rest) = self
            .bytes
            .split_at_checked(len)
            .ok_or(WireError::Truncated)?;
        self.bytes = rest;
        Ok(head)
    }
    pub fn str(&mut self) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| WireError::BadUtf8)
    }
}
