//! actorwatch as an Envoy dynamic module: the same core and configuration as the Wasm filter,
//! as native code that calls Envoy directly.
//!
//! Each worker thread records matched responses into its own slot (no shared state per
//! request); one aggregator per configuration, on Envoy's main thread, takes the slots' records
//! every tick, counts, decides, delivers webhooks and fleet batches through Envoy's HTTP callouts
//! and hands the blocklist back to every slot. `abi` is the only unsafe code; every hook runs
//! behind the panic barrier (`barrier`). Without the `envoy` feature (the fuzz target) the crate
//! is the hosts' logic alone, driven through `StreamHost` and `Outbound`.
#![deny(unsafe_code)]

#[cfg(feature = "envoy")]
mod abi;
pub mod aggregator;
pub mod barrier;
pub mod filter;
#[cfg(feature = "envoy")]
mod module;
#[cfg(feature = "envoy")]
mod service;
pub mod shared;
