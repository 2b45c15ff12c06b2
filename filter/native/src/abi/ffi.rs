//! The C side of Envoy's dynamic-module ABI v0.2.0 as this module uses it: the buffer and header
//! types, the enum values, and the callbacks' declarations.

use std::ffi::c_void;

/// Bytes Envoy owns, valid during the hook that received them.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EnvoyBuffer {
    pub ptr: *const u8,
    pub length: usize,
}

/// Bytes the module owns, read by Envoy during the call only.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ModuleBuffer {
    pub ptr: *const u8,
    pub length: usize,
}

impl ModuleBuffer {
    pub(super) fn of(bytes: &[u8]) -> ModuleBuffer {
        ModuleBuffer {
            ptr: bytes.as_ptr(),
            length: bytes.len(),
        }
    }
}

/// A header as a pair of buffers (Envoy's or the module's: the same layout).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HeaderPair {
    pub key_ptr: *const u8,
    pub key_length: usize,
    pub value_ptr: *const u8,
    pub value_length: usize,
}

// envoy_dynamic_module_type_http_header_type
pub(super) const REQUEST_HEADER: u32 = 0;
pub(super) const RESPONSE_HEADER: u32 = 2;
// envoy_dynamic_module_type_http_body_type
pub(super) const RECEIVED_REQUEST_BODY: u32 = 0;
pub(super) const BUFFERED_REQUEST_BODY: u32 = 1;
pub(super) const RECEIVED_RESPONSE_BODY: u32 = 2;
// envoy_dynamic_module_type_attribute_id
pub(super) const ATTRIBUTE_RESPONSE_CODE: u32 = 15;
pub(super) const ATTRIBUTE_SOURCE_ADDRESS: u32 = 24;
// envoy_dynamic_module_type_log_level
pub const LOG_INFO: u32 = 2;
pub const LOG_WARN: u32 = 3;
pub const LOG_ERROR: u32 = 4;
// envoy_dynamic_module_type_http_callout_init_result
pub(super) const CALLOUT_SUCCESS: u32 = 0;
// envoy_dynamic_module_type_metrics_result
pub(super) const METRICS_SUCCESS: u32 = 0;

/// The hooks' return values (envoy_dynamic_module_type_on_http_filter_*_status).
pub const HEADERS_CONTINUE: u32 = 0;
pub const HEADERS_STOP_ITERATION: u32 = 1;
pub const BODY_CONTINUE: u32 = 0;
pub const BODY_STOP_AND_BUFFER: u32 = 1;
pub const BODY_STOP_NO_BUFFER: u32 = 3;
pub const TRAILERS_CONTINUE: u32 = 0;
pub const TRAILERS_STOP_ITERATION: u32 = 1;

extern "C" {
    pub(super) fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
    pub(super) fn envoy_dynamic_module_callback_get_concurrency() -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_get_header(
        filter: *mut c_void,
        kind: u32,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        optional_count: *mut usize,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_get_headers_size(
        filter: *mut c_void,
        kind: u32,
    ) -> usize;
    pub(super) fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        kind: u32,
        result: *mut HeaderPair,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        filter: *mut c_void,
        id: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_filter_get_attribute_int(
        filter: *mut c_void,
        id: u32,
        result: *mut u64,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_send_response(
        filter: *mut c_void,
        status: u32,
        headers: *const HeaderPair,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    pub(super) fn envoy_dynamic_module_callback_http_get_body_size(
        filter: *mut c_void,
        kind: u32,
    ) -> usize;
    pub(super) fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        filter: *mut c_void,
        kind: u32,
    ) -> usize;
    pub(super) fn envoy_dynamic_module_callback_http_get_body_chunks(
        filter: *mut c_void,
        kind: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_http_filter_get_worker_index(
        filter: *mut c_void,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const HeaderPair,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(
        config: *mut c_void,
    ) -> *mut c_void;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(
        scheduler: *mut c_void,
        event_id: u64,
    );
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(
        scheduler: *mut c_void,
    );
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_http_filter_config_set_gauge(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;

    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_config_signal_init_complete(
        config: *mut c_void,
    );
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_timer_new(
        config: *mut c_void,
    ) -> *mut c_void;
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_timer_enable(
        timer: *mut c_void,
        delay_ms: u64,
    );
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_timer_delete(
        timer: *mut c_void,
    );
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_http_callout(
        config: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const HeaderPair,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_config_define_gauge(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_config_increment_counter(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_bootstrap_extension_config_set_gauge(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;

    pub(super) fn envoy_dynamic_module_callback_access_logger_get_headers_size(
        logger: *mut c_void,
        kind: u32,
    ) -> usize;
    pub(super) fn envoy_dynamic_module_callback_access_logger_get_headers(
        logger: *mut c_void,
        kind: u32,
        result: *mut HeaderPair,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_access_logger_get_header_value(
        logger: *mut c_void,
        kind: u32,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        total_count: *mut usize,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_access_logger_get_response_code(
        logger: *mut c_void,
    ) -> u32;
    pub(super) fn envoy_dynamic_module_callback_access_logger_get_downstream_remote_address(
        logger: *mut c_void,
        address: *mut EnvoyBuffer,
        port: *mut u32,
    ) -> bool;
    pub(super) fn envoy_dynamic_module_callback_access_logger_get_worker_index(
        logger: *mut c_void,
    ) -> u32;
}
