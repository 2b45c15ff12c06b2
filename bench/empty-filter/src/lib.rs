//! Baselines for the Envoy benchmarks, built from the same SDK as actorwatch:
//! - with no plugin configuration, an HTTP filter that does nothing: what any Rust proxy-wasm
//!   filter costs;
//! - configured `read_status`, a filter that only reads each response's `:status`: the least a
//!   filter that counts responses by status must pay (one host call that returns data).

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(Root { read_status: false }));
}}

struct Root {
    read_status: bool,
}

struct Baseline {
    read_status: bool,
}

impl Context for Root {}
impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        self.read_status = config.trim_ascii() == b"read_status";
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Baseline {
            read_status: self.read_status,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

impl Context for Baseline {}
impl HttpContext for Baseline {
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.read_status {
            let _status = hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, ":status");
        }
        Action::Continue
    }
}
