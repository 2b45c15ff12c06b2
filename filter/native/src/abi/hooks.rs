//! The hooks Envoy calls (`envoy_dynamic_module_on_*`). Each one turns Envoy's pointers into the
//! module's objects and runs the work inside the panic barrier, whose fail-open answer lets the
//! request through.
//!
//! Ownership: config_new boxes a [`Module`] and Envoy hands its pointer back until
//! config_destroy; filter_new boxes a [`StreamState`] until filter_destroy. Envoy keeps a filter
//! configuration alive while any of its streams exists, so a stream may point at its module.

use super::{
    callout_answer, copy, ConfigHandle, EnvoyBuffer, HeaderPair, Stream, ABI_VERSION,
    BODY_CONTINUE, BODY_STOP_AND_BUFFER, BODY_STOP_NO_BUFFER, HEADERS_CONTINUE,
    HEADERS_STOP_ITERATION, TRAILERS_CONTINUE, TRAILERS_STOP_ITERATION,
};
use crate::barrier::guard;
use crate::filter::{StreamFilter, Verdict};
use crate::module::Module;
use std::ffi::{c_char, c_void};

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    crate::barrier::quiet_panics();
    ABI_VERSION.as_ptr()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: *mut c_void,
    name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: Envoy's buffers for this hook, copied; its config object lives until
        // config_destroy.
        let (_name, config, handle) =
            unsafe { (copy(name), copy(config), ConfigHandle::new(config_envoy)) };
        match Module::new(&config, handle) {
            Some(module) => Box::into_raw(Box::new(module)) as *const c_void,
            None => std::ptr::null(),
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(module: *const c_void) {
    if module.is_null() {
        return;
    }
    // SAFETY: the pointer config_new boxed; Envoy destroys each configuration once.
    let module = unsafe { Box::from_raw(module as *mut Module) };
    guard((), move || module.close());
}

/// One stream's state: its module and the filter's progress.
struct StreamState {
    module: *const Module,
    filter: StreamFilter,
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    module: *const c_void,
    _filter_envoy: *mut c_void,
) -> *mut c_void {
    if module.is_null() {
        return std::ptr::null_mut();
    }
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(StreamState {
            module: module as *const Module,
            filter: StreamFilter::default(),
        }))
        .cast()
    })
}

/// Runs `work` with the stream's state and Envoy's stream, inside the barrier.
fn with_stream<R>(
    filter_envoy: *mut c_void,
    state: *mut c_void,
    fail_open: R,
    work: impl FnOnce(&mut StreamFilter, &Module, &Stream) -> R,
) -> R {
    if state.is_null() {
        return fail_open;
    }
    // SAFETY: `state` is the box filter_new made, used by this stream's worker only; its module
    // outlives the stream (see the top of this file); `filter_envoy` is live during the hook.
    let (state, stream) = unsafe { (&mut *(state as *mut StreamState), Stream::new(filter_envoy)) };
    // SAFETY: as above.
    let module = unsafe { &*state.module };
    guard(fail_open, || work(&mut state.filter, module, &stream))
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy: *mut c_void,
    state: *mut c_void,
    end_of_stream: bool,
) -> u32 {
    with_stream(filter_envoy, state, HEADERS_CONTINUE, |f, m, s| {
        match f.request_headers(m.shared(), s, end_of_stream) {
            Verdict::Continue => HEADERS_CONTINUE,
            Verdict::Hold | Verdict::Answered => HEADERS_STOP_ITERATION,
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    filter_envoy: *mut c_void,
    state: *mut c_void,
    end_of_stream: bool,
) -> u32 {
    with_stream(filter_envoy, state, BODY_CONTINUE, |f, m, s| {
        match f.request_body(m.shared(), s, end_of_stream) {
            Verdict::Continue => BODY_CONTINUE,
            Verdict::Hold => BODY_STOP_AND_BUFFER,
            Verdict::Answered => BODY_STOP_NO_BUFFER,
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    filter_envoy: *mut c_void,
    state: *mut c_void,
) -> u32 {
    // Trailers end a held body: inspect it now.
    with_stream(filter_envoy, state, TRAILERS_CONTINUE, |f, m, s| {
        match f.request_trailers(m.shared(), s) {
            Verdict::Continue | Verdict::Hold => TRAILERS_CONTINUE,
            Verdict::Answered => TRAILERS_STOP_ITERATION,
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter_envoy: *mut c_void,
    state: *mut c_void,
    _end_of_stream: bool,
) -> u32 {
    with_stream(filter_envoy, state, HEADERS_CONTINUE, |f, m, s| {
        f.response_headers(m.shared(), s);
        HEADERS_CONTINUE
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    filter_envoy: *mut c_void,
    state: *mut c_void,
    _end_of_stream: bool,
) -> u32 {
    // Streamed: the chunk goes on; its first bytes are copied when a rule reads the body.
    with_stream(filter_envoy, state, BODY_CONTINUE, |f, m, s| {
        f.response_body(m.shared(), s);
        BODY_CONTINUE
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
) -> u32 {
    TRAILERS_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    filter_envoy: *mut c_void,
    state: *mut c_void,
) {
    with_stream(filter_envoy, state, (), |f, m, s| f.complete(m.shared(), s))
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(state: *mut c_void) {
    if state.is_null() {
        return;
    }
    // SAFETY: the box filter_new made; Envoy destroys each stream's filter once.
    let state = unsafe { Box::from_raw(state as *mut StreamState) };
    guard((), move || drop(state));
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(
    _config_envoy: *mut c_void,
    module: *const c_void,
    _event_id: u64,
) {
    if module.is_null() {
        return;
    }
    // SAFETY: the configuration's box, live until config_destroy; main thread.
    let module = unsafe { &*(module as *const Module) };
    guard((), || module.tick());
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    _config_envoy: *mut c_void,
    module: *const c_void,
    callout_id: u64,
    _result: u32,
    headers: *const HeaderPair,
    headers_size: usize,
    body_chunks: *const EnvoyBuffer,
    body_chunks_size: usize,
) {
    if module.is_null() {
        return;
    }
    // SAFETY: the configuration's box, live until config_destroy; Envoy's answer buffers live
    // during this hook and are copied.
    let (module, (status, body)) = unsafe {
        (
            &*(module as *const Module),
            callout_answer(headers, headers_size, body_chunks, body_chunks_size),
        )
    };
    guard((), || module.answered(callout_id, status, &body));
}

// Hooks this filter has no use for; Envoy requires every one of them.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _callout_id: u64,
    _result: u32,
    _headers: *const HeaderPair,
    _headers_size: usize,
    _body_chunks: *const EnvoyBuffer,
    _body_chunks_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _stream_id: u64,
    _headers: *const HeaderPair,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _stream_id: u64,
    _data: *const EnvoyBuffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _stream_id: u64,
    _trailers: *const HeaderPair,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _stream_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _stream_id: u64,
    _reason: u32,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
    _event_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _filter_envoy: *mut c_void,
    _state: *mut c_void,
) {
}
