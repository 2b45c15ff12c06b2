//! Delivery: the outbox of webhook POSTs (batches, retries, takeover) and their signatures.
//! Imports `base`, `model` and `protocol`.

pub(crate) mod outbox;
pub(crate) mod signature;
