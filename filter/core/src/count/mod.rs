//! Counting: exact windows, the table of tracked keys, samples, the blocklist and quiet list,
//! threat-rule trackers, and the `Detector` over them. Imports `base`, `model` and `protocol`.

pub(crate) mod blocklist;
pub(crate) mod detector;
pub(crate) mod sample_store;
pub(crate) mod table;
pub(crate) mod tracker;
pub(crate) mod window;
