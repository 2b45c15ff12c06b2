//! Foundations: byte codecs, memory accounting, hashing, time and text helpers. Imports nothing
//! from the other layers.

pub(crate) mod address;
pub(crate) mod clock;
pub(crate) mod credentials;
pub(crate) mod hash;
pub(crate) mod hex;
pub(crate) mod memory;
pub(crate) mod paged;
pub(crate) mod rfc3339;
pub(crate) mod sizes;
pub(crate) mod status;
pub(crate) mod template;
pub(crate) mod url;
pub(crate) mod wire;
