//! Delivery: every sink's outbox of POSTs (batches, retries, takeover), the formats their
//! bodies are written in, and signatures. Imports `base`, `model` and `protocol`.

pub(crate) mod format;
pub(crate) mod outbox;
pub(crate) mod signature;
pub(crate) mod sinks;
