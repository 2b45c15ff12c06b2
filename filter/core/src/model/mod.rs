//! The model: the configuration, who an actor is, what a host observed, the record the engine
//! counts, samples, findings, Akto's payload and the metrics. Imports only `base`.

pub(crate) mod actor;
pub(crate) mod attack;
pub(crate) mod choices;
pub(crate) mod config;
pub(crate) mod export;
pub(crate) mod findings;
pub(crate) mod jwt;
pub(crate) mod metrics;
pub(crate) mod observation;
pub(crate) mod payload;
pub(crate) mod record;
pub(crate) mod reply;
pub(crate) mod sample;
pub(crate) mod taxonomy;
pub(crate) mod texts;
pub(crate) mod threat;
