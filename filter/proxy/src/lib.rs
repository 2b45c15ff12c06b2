//! actorwatch as a proxy-wasm filter for Envoy and Istio.
//!
//! Every worker thread's VM records matched responses locally (no shared state per request)
//! and hands a compact delta to one aggregating engine on each tick. The aggregator is the
//! singleton service when Envoy's config declares one (root id `actorwatch_singleton`), else
//! the worker VM holding a lease in shared data. Only the aggregator counts, decides and sends
//! webhooks; it publishes the blocklist back to every worker through shared data.

mod aggregator;
mod host;
mod http;
mod inspection;
mod root;
mod shared;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| Box::new(root::Root::new(context_id)));
}}
