//! An Envoy dynamic-module HTTP filter that does nothing: every hook returns at once. What Envoy
//! spends on it per request (the filter object it makes per stream, the hook calls) is the floor
//! under any dynamic-module filter, actorwatch's native module included (`make bench`).

use std::ffi::{c_char, c_void};

/// Any non-null pointer: Envoy only hands it back.
static CONFIG: u8 = 0;

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    c"v0.2.0".as_ptr()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    _config_envoy: *mut c_void,
    _name_ptr: *const u8,
    _name_len: usize,
    _config_ptr: *const u8,
    _config_len: usize,
) -> *const c_void {
    (&CONFIG as *const u8).cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    _filter_envoy: *mut c_void,
) -> *const c_void {
    config
}

/// Hooks whose answer Envoy reads: 0 is Continue for each.
macro_rules! continue_hooks {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            #[no_mangle]
            pub extern "C" fn $name($(_: $ty),*) -> u32 {
                0
            }
        )*
    };
}

/// Hooks without an answer.
macro_rules! void_hooks {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            #[no_mangle]
            pub extern "C" fn $name($(_: $ty),*) {}
        )*
    };
}

continue_hooks!(
    envoy_dynamic_module_on_http_filter_request_headers(f: *mut c_void, m: *const c_void, e: bool),
    envoy_dynamic_module_on_http_filter_request_body(f: *mut c_void, m: *const c_void, e: bool),
    envoy_dynamic_module_on_http_filter_request_trailers(f: *mut c_void, m: *const c_void),
    envoy_dynamic_module_on_http_filter_response_headers(f: *mut c_void, m: *const c_void, e: bool),
    envoy_dynamic_module_on_http_filter_response_body(f: *mut c_void, m: *const c_void, e: bool),
    envoy_dynamic_module_on_http_filter_response_trailers(f: *mut c_void, m: *const c_void),
);

void_hooks!(
    envoy_dynamic_module_on_http_filter_config_destroy(c: *const c_void),
    envoy_dynamic_module_on_http_filter_stream_complete(f: *mut c_void, m: *const c_void),
    envoy_dynamic_module_on_http_filter_destroy(m: *const c_void),
    envoy_dynamic_module_on_http_filter_http_callout_done(
        f: *mut c_void, m: *const c_void, id: u64, r: u32, h: *const c_void, hn: usize,
        b: *const c_void, bn: usize
    ),
    envoy_dynamic_module_on_http_filter_http_stream_headers(
        f: *mut c_void, m: *const c_void, id: u64, h: *const c_void, hn: usize, e: bool
    ),
    envoy_dynamic_module_on_http_filter_http_stream_data(
        f: *mut c_void, m: *const c_void, id: u64, d: *const c_void, dn: usize, e: bool
    ),
    envoy_dynamic_module_on_http_filter_http_stream_trailers(
        f: *mut c_void, m: *const c_void, id: u64, h: *const c_void, hn: usize
    ),
    envoy_dynamic_module_on_http_filter_http_stream_complete(f: *mut c_void, m: *const c_void, id: u64),
    envoy_dynamic_module_on_http_filter_http_stream_reset(f: *mut c_void, m: *const c_void, id: u64, r: u32),
    envoy_dynamic_module_on_http_filter_scheduled(f: *mut c_void, m: *const c_void, id: u64),
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
        f: *mut c_void, m: *const c_void
    ),
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
        f: *mut c_void, m: *const c_void
    ),
);
