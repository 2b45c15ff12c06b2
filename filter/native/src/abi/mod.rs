//! The whole unsafe surface of the module: Envoy's dynamic-module C ABI (the callbacks Envoy
//! exports, as Envoy 1.40 declares them in `source/extensions/dynamic_modules/abi/abi.h`, ABI
//! v0.2.0) and safe wrappers over them. Nothing outside this file touches a raw pointer.
//!
//! Envoy resolves these symbols when it loads the library (`RTLD_LAZY`): a callback this Envoy
//! lacked would abort it at its first call, so only names the 1.40 binary exports are declared
//! (the end-to-end suite checks the list against the binary with `nm -D`).
#![allow(unsafe_code)]

pub mod hooks;
pub mod service_hooks;

use crate::filter::StreamHost;
use std::ffi::c_void;
use std::marker::PhantomData;

/// The ABI version this module is built against, for `on_program_init`.
pub const ABI_VERSION: &std::ffi::CStr = c"v0.2.0";

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
    ptr: *const u8,
    length: usize,
}

impl ModuleBuffer {
    fn of(bytes: &[u8]) -> ModuleBuffer {
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
    key_ptr: *const u8,
    key_length: usize,
    value_ptr: *const u8,
    value_length: usize,
}

// envoy_dynamic_module_type_http_header_type
const REQUEST_HEADER: u32 = 0;
// envoy_dynamic_module_type_http_body_type
const RECEIVED_REQUEST_BODY: u32 = 0;
const BUFFERED_REQUEST_BODY: u32 = 1;
// envoy_dynamic_module_type_attribute_id
const ATTRIBUTE_RESPONSE_CODE: u32 = 15;
const ATTRIBUTE_SOURCE_ADDRESS: u32 = 24;
// envoy_dynamic_module_type_log_level
pub const LOG_INFO: u32 = 2;
pub const LOG_WARN: u32 = 3;
pub const LOG_ERROR: u32 = 4;
// envoy_dynamic_module_type_http_callout_init_result
const CALLOUT_SUCCESS: u32 = 0;
// envoy_dynamic_module_type_metrics_result
const METRICS_SUCCESS: u32 = 0;

/// The hooks' return values (envoy_dynamic_module_type_on_http_filter_*_status).
pub const HEADERS_CONTINUE: u32 = 0;
pub const HEADERS_STOP_ITERATION: u32 = 1;
pub const BODY_CONTINUE: u32 = 0;
pub const BODY_STOP_AND_BUFFER: u32 = 1;
pub const BODY_STOP_NO_BUFFER: u32 = 3;
pub const TRAILERS_CONTINUE: u32 = 0;
pub const TRAILERS_STOP_ITERATION: u32 = 1;

extern "C" {
    fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
    fn envoy_dynamic_module_callback_get_concurrency() -> u32;
    fn envoy_dynamic_module_callback_http_get_header(
        filter: *mut c_void,
        kind: u32,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        optional_count: *mut usize,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: *mut c_void, kind: u32)
        -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        kind: u32,
        result: *mut HeaderPair,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        filter: *mut c_void,
        id: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_get_attribute_int(
        filter: *mut c_void,
        id: u32,
        result: *mut u64,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_send_response(
        filter: *mut c_void,
        status: u32,
        headers: *const HeaderPair,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    fn envoy_dynamic_module_callback_http_get_body_size(filter: *mut c_void, kind: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        filter: *mut c_void,
        kind: u32,
    ) -> usize;
    fn envoy_dynamic_module_callback_http_get_body_chunks(
        filter: *mut c_void,
        kind: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_get_worker_index(filter: *mut c_void) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const HeaderPair,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(
        config: *mut c_void,
    ) -> *mut c_void;
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(
        scheduler: *mut c_void,
        event_id: u64,
    );
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(scheduler: *mut c_void);
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_set_gauge(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;

    fn envoy_dynamic_module_callback_bootstrap_extension_config_signal_init_complete(
        config: *mut c_void,
    );
    fn envoy_dynamic_module_callback_bootstrap_extension_timer_new(
        config: *mut c_void,
    ) -> *mut c_void;
    fn envoy_dynamic_module_callback_bootstrap_extension_timer_enable(
        timer: *mut c_void,
        delay_ms: u64,
    );
    fn envoy_dynamic_module_callback_bootstrap_extension_timer_delete(timer: *mut c_void);
    fn envoy_dynamic_module_callback_bootstrap_extension_http_callout(
        config: *mut c_void,
        callout_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *const HeaderPair,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_bootstrap_extension_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_bootstrap_extension_config_define_gauge(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *const ModuleBuffer,
        label_names_size: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_bootstrap_extension_config_increment_counter(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_bootstrap_extension_config_set_gauge(
        config: *mut c_void,
        id: usize,
        label_values: *const ModuleBuffer,
        label_values_size: usize,
        value: u64,
    ) -> u32;

    fn envoy_dynamic_module_callback_access_logger_get_headers_size(
        logger: *mut c_void,
        kind: u32,
    ) -> usize;
    fn envoy_dynamic_module_callback_access_logger_get_headers(
        logger: *mut c_void,
        kind: u32,
        result: *mut HeaderPair,
    ) -> bool;
    fn envoy_dynamic_module_callback_access_logger_get_header_value(
        logger: *mut c_void,
        kind: u32,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        total_count: *mut usize,
    ) -> bool;
    fn envoy_dynamic_module_callback_access_logger_get_response_code(logger: *mut c_void) -> u32;
    fn envoy_dynamic_module_callback_access_logger_get_downstream_remote_address(
        logger: *mut c_void,
        address: *mut EnvoyBuffer,
        port: *mut u32,
    ) -> bool;
    fn envoy_dynamic_module_callback_access_logger_get_worker_index(logger: *mut c_void) -> u32;
}

/// Writes to Envoy's log (component `dynamic_modules`).
pub fn log(level: u32, message: &str) {
    // SAFETY: Envoy reads the message during the call only.
    unsafe { envoy_dynamic_module_callback_log(level, ModuleBuffer::of(message.as_bytes())) }
}

/// Envoy's worker threads (`--concurrency`); main thread only.
pub fn concurrency() -> usize {
    // SAFETY: no arguments; called from config_new, on the main thread.
    unsafe { envoy_dynamic_module_callback_get_concurrency() as usize }
}

/// Bytes Envoy lent for the duration of a hook, as a string (lossily if not UTF-8).
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Envoy's buffer as a slice tied to the hook's borrow.
///
/// SAFETY: the caller guarantees `buf` came from Envoy during this hook and that nothing
/// changes the map it points into while the slice lives.
unsafe fn borrow<'a>(buf: EnvoyBuffer) -> &'a [u8] {
    if buf.ptr.is_null() || buf.length == 0 {
        return &[];
    }
    std::slice::from_raw_parts(buf.ptr, buf.length)
}

/// Envoy's header pairs as slices tied to the hook's borrow.
///
/// SAFETY: as for [`borrow`], for every pair.
unsafe fn borrow_pairs<'a>(pairs: &[HeaderPair]) -> Vec<(&'a [u8], &'a [u8])> {
    pairs
        .iter()
        .map(|p| {
            (
                borrow(EnvoyBuffer {
                    ptr: p.key_ptr,
                    length: p.key_length,
                }),
                borrow(EnvoyBuffer {
                    ptr: p.value_ptr,
                    length: p.value_length,
                }),
            )
        })
        .collect()
}

const EMPTY_PAIR: HeaderPair = HeaderPair {
    key_ptr: std::ptr::null(),
    key_length: 0,
    value_ptr: std::ptr::null(),
    value_length: 0,
};

/// Calls `f` with the headers as strings: borrowed when they are UTF-8, else copied lossily.
fn with_str_pairs<R>(raw: &[(&[u8], &[u8])], f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
    let borrowed: Option<Vec<(&str, &str)>> = raw
        .iter()
        .map(|(k, v)| Some((std::str::from_utf8(k).ok()?, std::str::from_utf8(v).ok()?)))
        .collect();
    match borrowed {
        Some(pairs) => f(&pairs),
        None => {
            let owned: Vec<(String, String)> =
                raw.iter().map(|(k, v)| (lossy(k), lossy(v))).collect();
            let pairs: Vec<(&str, &str)> = owned
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            f(&pairs)
        }
    }
}

/// `ip:port` as Envoy's `source.address` spells it (brackets around IPv6).
fn socket_address(ip: &str, port: u32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// One HTTP stream, for the duration of one hook on its worker thread.
pub struct Stream<'hook> {
    ptr: *mut c_void,
    hook: PhantomData<&'hook ()>,
}

impl<'hook> Stream<'hook> {
    /// SAFETY: `ptr` is the `filter_envoy_ptr` Envoy passed to the running hook.
    pub unsafe fn new(ptr: *mut c_void) -> Stream<'hook> {
        Stream {
            ptr,
            hook: PhantomData,
        }
    }

    fn header(&self, kind: u32, name: &str) -> Option<String> {
        let mut out = EnvoyBuffer {
            ptr: std::ptr::null(),
            length: 0,
        };
        // SAFETY: the stream pointer is live during the hook; Envoy writes `out` only.
        let found = unsafe {
            envoy_dynamic_module_callback_http_get_header(
                self.ptr,
                kind,
                ModuleBuffer::of(name.as_bytes()),
                &mut out,
                0,
                std::ptr::null_mut(),
            )
        };
        // SAFETY: `out` is Envoy's and is copied before the hook returns.
        found.then(|| lossy(unsafe { borrow(out) }))
    }

    pub fn request_header(&self, name: &str) -> Option<String> {
        self.header(REQUEST_HEADER, name)
    }

    /// The response's status, 0 if there is none (a stream reset before its response). From
    /// the stream's info (`response.code`): a number, no header lookup and no copy.
    pub fn response_status(&self) -> u16 {
        let mut code = 0u64;
        // SAFETY: the stream pointer is live during the hook; Envoy writes `code` only.
        let found = unsafe {
            envoy_dynamic_module_callback_http_filter_get_attribute_int(
                self.ptr,
                ATTRIBUTE_RESPONSE_CODE,
                &mut code,
            )
        };
        if found {
            u16::try_from(code).unwrap_or(0)
        } else {
            0
        }
    }

    /// The request's headers, borrowed from Envoy for this hook.
    pub fn request_headers(&self) -> Vec<(&'hook [u8], &'hook [u8])> {
        // SAFETY: the stream pointer is live during the hook.
        let size = unsafe {
            envoy_dynamic_module_callback_http_get_headers_size(self.ptr, REQUEST_HEADER)
        };
        if size == 0 {
            return Vec::new();
        }
        let mut pairs = vec![EMPTY_PAIR; size];
        // SAFETY: `pairs` holds exactly the `size` entries Envoy fills.
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_headers(
                self.ptr,
                REQUEST_HEADER,
                pairs.as_mut_ptr(),
            )
        };
        if !ok {
            return Vec::new();
        }
        // SAFETY: Envoy's buffers, untouched until the hook returns.
        unsafe { borrow_pairs(&pairs) }
    }

    /// The downstream peer as `ip:port` (`source.address`).
    pub fn peer(&self) -> Option<String> {
        let mut out = EnvoyBuffer {
            ptr: std::ptr::null(),
            length: 0,
        };
        // SAFETY: the stream pointer is live during the hook; Envoy writes `out` only.
        let found = unsafe {
            envoy_dynamic_module_callback_http_filter_get_attribute_string(
                self.ptr,
                ATTRIBUTE_SOURCE_ADDRESS,
                &mut out,
            )
        };
        // SAFETY: copied before the hook returns.
        found.then(|| lossy(unsafe { borrow(out) }))
    }

    /// Up to `max` bytes of the request body: what Envoy buffered so far, then the chunk that
    /// just arrived.
    pub fn request_body(&self, max: usize) -> Vec<u8> {
        let mut body = Vec::new();
        for kind in [BUFFERED_REQUEST_BODY, RECEIVED_REQUEST_BODY] {
            self.append_body(kind, max, &mut body);
        }
        body
    }

    /// Bytes of the request body Envoy holds: buffered so far and the chunk just received.
    pub fn request_body_size(&self) -> usize {
        [BUFFERED_REQUEST_BODY, RECEIVED_REQUEST_BODY]
            .into_iter()
            // SAFETY: the stream pointer is live during the hook.
            .map(|kind| unsafe { envoy_dynamic_module_callback_http_get_body_size(self.ptr, kind) })
            .sum()
    }

    fn body_chunks(&self, kind: u32) -> Vec<EnvoyBuffer> {
        // SAFETY: the stream pointer is live during the hook.
        let count =
            unsafe { envoy_dynamic_module_callback_http_get_body_chunks_size(self.ptr, kind) };
        if count == 0 {
            return Vec::new();
        }
        let empty = EnvoyBuffer {
            ptr: std::ptr::null(),
            length: 0,
        };
        let mut chunks = vec![empty; count];
        // SAFETY: `chunks` holds exactly the `count` entries Envoy fills.
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_body_chunks(self.ptr, kind, chunks.as_mut_ptr())
        };
        if ok {
            chunks
        } else {
            Vec::new()
        }
    }

    /// Up to `max` bytes of the chunk that just arrived.
    pub fn received_chunk(&self, max: usize, out: &mut Vec<u8>) {
        self.append_body(RECEIVED_REQUEST_BODY, max, out);
    }

    fn append_body(&self, kind: u32, max: usize, out: &mut Vec<u8>) {
        if out.len() >= max {
            return;
        }
        for chunk in self.body_chunks(kind) {
            // SAFETY: Envoy's chunk, copied before the hook returns.
            let bytes = unsafe { borrow(chunk) };
            let room = max.saturating_sub(out.len());
            out.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(bytes));
            if out.len() >= max {
                return;
            }
        }
    }

    /// Answers the request before the upstream.
    pub fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let pairs = module_pairs(headers);
        let details = b"actorwatch";
        // SAFETY: Envoy copies the headers, body and details during the call.
        unsafe {
            envoy_dynamic_module_callback_http_send_response(
                self.ptr,
                u32::from(status),
                pairs.as_ptr(),
                pairs.len(),
                ModuleBuffer::of(body),
                ModuleBuffer::of(details),
            )
        }
    }

    /// The worker thread this stream runs on (0-based).
    pub fn worker_index(&self) -> usize {
        // SAFETY: the stream pointer is live during the hook.
        unsafe { envoy_dynamic_module_callback_http_filter_get_worker_index(self.ptr) as usize }
    }
}

/// A filter configuration's Envoy side: callouts and metrics, used on the main thread.
#[derive(Clone, Copy)]
pub struct ConfigHandle(*mut c_void);

// SAFETY: Envoy's filter config object outlives every use (config_destroy comes last), and the
// module calls it from the main thread only (config_new, config_scheduled, callout_done).
unsafe impl Send for ConfigHandle {}
// SAFETY: as above; shared references are only used on the main thread.
unsafe impl Sync for ConfigHandle {}

impl ConfigHandle {
    /// SAFETY: `ptr` is the `config_envoy_ptr` of config_new, used until config_destroy.
    pub unsafe fn new(ptr: *mut c_void) -> ConfigHandle {
        ConfigHandle(ptr)
    }

    /// Starts a POST-like call to `cluster`; its answer arrives in config_http_callout_done.
    pub fn callout(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<u64, u32> {
        let pairs = module_pairs(headers);
        let mut id = 0u64;
        // SAFETY: Envoy copies the cluster name, headers and body during the call.
        let result = unsafe {
            envoy_dynamic_module_callback_http_filter_config_http_callout(
                self.0,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                pairs.as_ptr(),
                pairs.len(),
                ModuleBuffer::of(body),
                timeout_ms,
            )
        };
        if result == CALLOUT_SUCCESS {
            Ok(id)
        } else {
            Err(result)
        }
    }

    /// A counter (`gauge` false) or gauge named `name` under the module's metrics namespace.
    pub fn define_metric(&self, name: &str, gauge: bool) -> Option<usize> {
        let mut id = 0usize;
        let name = ModuleBuffer::of(name.as_bytes());
        // SAFETY: Envoy copies the name during the call; no labels.
        let result = unsafe {
            if gauge {
                envoy_dynamic_module_callback_http_filter_config_define_gauge(
                    self.0,
                    name,
                    std::ptr::null(),
                    0,
                    &mut id,
                )
            } else {
                envoy_dynamic_module_callback_http_filter_config_define_counter(
                    self.0,
                    name,
                    std::ptr::null(),
                    0,
                    &mut id,
                )
            }
        };
        (result == METRICS_SUCCESS).then_some(id)
    }

    /// A counter with one label.
    pub fn define_labeled_counter(&self, name: &str, label: &str) -> Option<usize> {
        let mut id = 0usize;
        let labels = [ModuleBuffer::of(label.as_bytes())];
        // SAFETY: Envoy copies the name and the label's name during the call.
        let result = unsafe {
            envoy_dynamic_module_callback_http_filter_config_define_counter(
                self.0,
                ModuleBuffer::of(name.as_bytes()),
                labels.as_ptr(),
                labels.len(),
                &mut id,
            )
        };
        (result == METRICS_SUCCESS).then_some(id)
    }

    pub fn increment_labeled_counter(&self, id: usize, label_value: &str, by: u64) {
        let values = [ModuleBuffer::of(label_value.as_bytes())];
        // SAFETY: an id this config defined with one label; Envoy copies the value.
        unsafe {
            envoy_dynamic_module_callback_http_filter_config_increment_counter(
                self.0,
                id,
                values.as_ptr(),
                values.len(),
                by,
            );
        }
    }

    pub fn increment_counter(&self, id: usize, by: u64) {
        // SAFETY: an id this config defined; no labels.
        unsafe {
            envoy_dynamic_module_callback_http_filter_config_increment_counter(
                self.0,
                id,
                std::ptr::null(),
                0,
                by,
            );
        }
    }

    pub fn set_gauge(&self, id: usize, value: u64) {
        // SAFETY: an id this config defined; no labels.
        unsafe {
            envoy_dynamic_module_callback_http_filter_config_set_gauge(
                self.0,
                id,
                std::ptr::null(),
                0,
                value,
            );
        }
    }

    /// A scheduler whose commits, from any thread, run config_scheduled on the main thread.
    pub fn scheduler(&self) -> Option<Scheduler> {
        // SAFETY: the config pointer is live; Envoy returns a scheduler or null.
        let ptr = unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_new(self.0) };
        (!ptr.is_null()).then_some(Scheduler(ptr))
    }
}

/// Puts an event on the main thread's queue (config_scheduled), from any thread.
pub struct Scheduler(*mut c_void);

// SAFETY: Envoy documents commit as callable from any thread; delete runs once, in Drop.
unsafe impl Send for Scheduler {}
// SAFETY: as above.
unsafe impl Sync for Scheduler {}

impl Scheduler {
    pub fn commit(&self, event_id: u64) {
        // SAFETY: the scheduler lives until Drop.
        unsafe {
            envoy_dynamic_module_callback_http_filter_config_scheduler_commit(self.0, event_id)
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // SAFETY: created by scheduler_new, deleted once.
        unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.0) }
    }
}

/// A callout's answer as Envoy lent it to config_http_callout_done: the `:status` header.
///
/// SAFETY: `headers` points to `count` pairs Envoy owns for the duration of the hook (or is null).
pub unsafe fn callout_status(headers: *const HeaderPair, count: usize) -> u16 {
    if headers.is_null() {
        return 0;
    }
    std::slice::from_raw_parts(headers, count)
        .iter()
        .find(|p| {
            borrow(EnvoyBuffer {
                ptr: p.key_ptr,
                length: p.key_length,
            }) == b":status"
        })
        .and_then(|p| {
            std::str::from_utf8(borrow(EnvoyBuffer {
                ptr: p.value_ptr,
                length: p.value_length,
            }))
            .ok()?
            .parse()
            .ok()
        })
        .unwrap_or(0)
}

/// A callout's body chunks as one buffer.
///
/// SAFETY: `chunks` points to `count` buffers Envoy owns for the duration of the hook (or is null).
pub unsafe fn callout_body(chunks: *const EnvoyBuffer, count: usize) -> Vec<u8> {
    if chunks.is_null() {
        return Vec::new();
    }
    let mut body = Vec::new();
    for chunk in std::slice::from_raw_parts(chunks, count) {
        body.extend_from_slice(borrow(*chunk));
    }
    body
}

/// Bytes Envoy passed to config_new (the filter's name or configuration), copied.
///
/// SAFETY: `buf` came from Envoy in the running hook.
pub unsafe fn copy(buf: EnvoyBuffer) -> Vec<u8> {
    borrow(buf).to_vec()
}

impl StreamHost for Stream<'_> {
    fn worker_index(&self) -> usize {
        Stream::worker_index(self)
    }

    fn request_header(&self, name: &str) -> Option<String> {
        Stream::request_header(self, name)
    }

    fn with_request_headers<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        with_str_pairs(&self.request_headers(), f)
    }

    fn response_status(&self) -> u16 {
        Stream::response_status(self)
    }

    fn peer(&self) -> Option<String> {
        Stream::peer(self)
    }

    fn request_body(&self, max: usize) -> Vec<u8> {
        Stream::request_body(self, max)
    }

    fn request_body_size(&self) -> usize {
        Stream::request_body_size(self)
    }

    fn received_chunk(&self, max: usize, out: &mut Vec<u8>) {
        Stream::received_chunk(self, max, out)
    }

    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        Stream::send_response(self, status, headers, body)
    }

    fn now_ms(&self) -> u64 {
        crate::module::now_ms()
    }
}

/// One access-log entry, for the duration of the log hook on its worker thread. Read like a
/// stream whose request cannot be answered any more.
pub struct LogEntry<'hook> {
    ptr: *mut c_void,
    hook: PhantomData<&'hook ()>,
}

impl<'hook> LogEntry<'hook> {
    /// SAFETY: `ptr` is the `logger_envoy_ptr` Envoy passed to the running log hook.
    pub unsafe fn new(ptr: *mut c_void) -> LogEntry<'hook> {
        LogEntry {
            ptr,
            hook: PhantomData,
        }
    }

    fn request_headers(&self) -> Vec<(&'hook [u8], &'hook [u8])> {
        // SAFETY: the entry pointer is live during the hook.
        let size = unsafe {
            envoy_dynamic_module_callback_access_logger_get_headers_size(self.ptr, REQUEST_HEADER)
        };
        if size == 0 {
            return Vec::new();
        }
        let mut pairs = vec![EMPTY_PAIR; size];
        // SAFETY: `pairs` holds exactly the `size` entries Envoy fills.
        let ok = unsafe {
            envoy_dynamic_module_callback_access_logger_get_headers(
                self.ptr,
                REQUEST_HEADER,
                pairs.as_mut_ptr(),
            )
        };
        if !ok {
            return Vec::new();
        }
        // SAFETY: Envoy's buffers, untouched until the hook returns.
        unsafe { borrow_pairs(&pairs) }
    }
}

impl StreamHost for LogEntry<'_> {
    fn worker_index(&self) -> usize {
        // SAFETY: the entry pointer is live during the hook.
        unsafe { envoy_dynamic_module_callback_access_logger_get_worker_index(self.ptr) as usize }
    }

    fn request_header(&self, name: &str) -> Option<String> {
        let mut out = EnvoyBuffer {
            ptr: std::ptr::null(),
            length: 0,
        };
        // SAFETY: the entry pointer is live during the hook; Envoy writes `out` only.
        let found = unsafe {
            envoy_dynamic_module_callback_access_logger_get_header_value(
                self.ptr,
                REQUEST_HEADER,
                ModuleBuffer::of(name.as_bytes()),
                &mut out,
                0,
                std::ptr::null_mut(),
            )
        };
        // SAFETY: copied before the hook returns.
        found.then(|| lossy(unsafe { borrow(out) }))
    }

    fn with_request_headers<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        with_str_pairs(&self.request_headers(), f)
    }

    fn response_status(&self) -> u16 {
        // SAFETY: the entry pointer is live during the hook.
        let code =
            unsafe { envoy_dynamic_module_callback_access_logger_get_response_code(self.ptr) };
        u16::try_from(code).unwrap_or(0)
    }

    fn peer(&self) -> Option<String> {
        let mut address = EnvoyBuffer {
            ptr: std::ptr::null(),
            length: 0,
        };
        let mut port = 0u32;
        // SAFETY: the entry pointer is live during the hook; Envoy writes the two outputs only.
        let found = unsafe {
            envoy_dynamic_module_callback_access_logger_get_downstream_remote_address(
                self.ptr,
                &mut address,
                &mut port,
            )
        };
        // SAFETY: copied before the hook returns.
        found.then(|| socket_address(&lossy(unsafe { borrow(address) }), port))
    }

    // The body is gone by the time a response is logged; nothing can be answered any more.
    fn request_body(&self, _max: usize) -> Vec<u8> {
        Vec::new()
    }

    fn request_body_size(&self) -> usize {
        0
    }

    fn received_chunk(&self, _max: usize, _out: &mut Vec<u8>) {}

    fn send_response(&self, _status: u16, _headers: &[(&str, &str)], _body: &[u8]) {}

    fn now_ms(&self) -> u64 {
        crate::module::now_ms()
    }
}

/// The bootstrap extension's Envoy side: timer, callouts and metrics, on the main thread.
#[derive(Clone, Copy)]
pub struct ServiceHandle(*mut c_void);

// SAFETY: Envoy's bootstrap configuration outlives every use; the module calls it from the main
// thread only (every bootstrap hook runs there).
unsafe impl Send for ServiceHandle {}
// SAFETY: as above.
unsafe impl Sync for ServiceHandle {}

impl ServiceHandle {
    /// SAFETY: `ptr` is the `config_envoy_ptr` of the bootstrap's config_new.
    pub unsafe fn new(ptr: *mut c_void) -> ServiceHandle {
        ServiceHandle(ptr)
    }

    /// Lets Envoy finish starting (it waits for every bootstrap extension to say so).
    pub fn init_complete(&self) {
        // SAFETY: the config pointer is live.
        unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_config_signal_init_complete(self.0)
        }
    }

    /// A one-shot main-thread timer (re-armed in each firing).
    pub fn timer(&self) -> Option<Timer> {
        // SAFETY: the config pointer is live; Envoy returns a timer or null.
        let ptr = unsafe { envoy_dynamic_module_callback_bootstrap_extension_timer_new(self.0) };
        (!ptr.is_null()).then_some(Timer(ptr))
    }

    pub fn callout(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<u64, u32> {
        let pairs = module_pairs(headers);
        let mut id = 0u64;
        // SAFETY: Envoy copies the cluster name, headers and body during the call.
        let result = unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_http_callout(
                self.0,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                pairs.as_ptr(),
                pairs.len(),
                ModuleBuffer::of(body),
                timeout_ms,
            )
        };
        if result == CALLOUT_SUCCESS {
            Ok(id)
        } else {
            Err(result)
        }
    }

    pub fn define_metric(&self, name: &str, gauge: bool) -> Option<usize> {
        let mut id = 0usize;
        let name = ModuleBuffer::of(name.as_bytes());
        // SAFETY: Envoy copies the name during the call; no labels.
        let result = unsafe {
            if gauge {
                envoy_dynamic_module_callback_bootstrap_extension_config_define_gauge(
                    self.0,
                    name,
                    std::ptr::null(),
                    0,
                    &mut id,
                )
            } else {
                envoy_dynamic_module_callback_bootstrap_extension_config_define_counter(
                    self.0,
                    name,
                    std::ptr::null(),
                    0,
                    &mut id,
                )
            }
        };
        (result == METRICS_SUCCESS).then_some(id)
    }

    /// A counter with one label.
    pub fn define_labeled_counter(&self, name: &str, label: &str) -> Option<usize> {
        let mut id = 0usize;
        let labels = [ModuleBuffer::of(label.as_bytes())];
        // SAFETY: Envoy copies the name and the label's name during the call.
        let result = unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_config_define_counter(
                self.0,
                ModuleBuffer::of(name.as_bytes()),
                labels.as_ptr(),
                labels.len(),
                &mut id,
            )
        };
        (result == METRICS_SUCCESS).then_some(id)
    }

    pub fn increment_labeled_counter(&self, id: usize, label_value: &str, by: u64) {
        let values = [ModuleBuffer::of(label_value.as_bytes())];
        // SAFETY: an id this config defined with one label; Envoy copies the value.
        unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_config_increment_counter(
                self.0,
                id,
                values.as_ptr(),
                values.len(),
                by,
            );
        }
    }

    pub fn increment_counter(&self, id: usize, by: u64) {
        // SAFETY: an id this config defined; no labels.
        unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_config_increment_counter(
                self.0,
                id,
                std::ptr::null(),
                0,
                by,
            );
        }
    }

    pub fn set_gauge(&self, id: usize, value: u64) {
        // SAFETY: an id this config defined; no labels.
        unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_config_set_gauge(
                self.0,
                id,
                std::ptr::null(),
                0,
                value,
            );
        }
    }
}

/// A main-thread timer of the bootstrap extension.
pub struct Timer(*mut c_void);

// SAFETY: created, armed and deleted on the main thread only.
unsafe impl Send for Timer {}
// SAFETY: as above.
unsafe impl Sync for Timer {}

impl Timer {
    pub fn arm(&self, delay_ms: u64) {
        // SAFETY: the timer lives until Drop.
        unsafe { envoy_dynamic_module_callback_bootstrap_extension_timer_enable(self.0, delay_ms) }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: created by timer_new, deleted once.
        unsafe { envoy_dynamic_module_callback_bootstrap_extension_timer_delete(self.0) }
    }
}

fn module_pairs(headers: &[(&str, &str)]) -> Vec<HeaderPair> {
    headers
        .iter()
        .map(|(k, v)| HeaderPair {
            key_ptr: k.as_ptr(),
            key_length: k.len(),
            value_ptr: v.as_ptr(),
            value_length: v.len(),
        })
        .collect()
}
