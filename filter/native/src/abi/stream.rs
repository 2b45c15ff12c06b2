//! One HTTP stream ([`Stream`]) or access-log entry ([`LogEntry`]) for the duration of one hook on
//! its worker thread, and how each reads as a [`StreamHost`].

use super::ffi::*;
use super::{
    borrow, borrow_pairs, lossy, module_pairs, socket_address, with_str_pairs, EMPTY_PAIR,
};
use crate::filter::StreamHost;
use std::ffi::c_void;
use std::marker::PhantomData;

/// The request's headers through a pair of callbacks (how many, then all of them).
///
/// SAFETY: `ptr` is live during the running hook and the slices do not outlive it.
unsafe fn request_headers<'a>(
    ptr: *mut c_void,
    size: unsafe extern "C" fn(*mut c_void, u32) -> usize,
    get: unsafe extern "C" fn(*mut c_void, u32, *mut HeaderPair) -> bool,
) -> Vec<(&'a [u8], &'a [u8])> {
    let count = size(ptr, REQUEST_HEADER);
    if count == 0 {
        return Vec::new();
    }
    let mut pairs = vec![EMPTY_PAIR; count];
    // `pairs` holds exactly the `count` entries Envoy fills.
    if !get(ptr, REQUEST_HEADER, pairs.as_mut_ptr()) {
        return Vec::new();
    }
    borrow_pairs(&pairs)
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
        // SAFETY: the stream pointer is live during this hook, which the result's borrow is tied to.
        unsafe {
            request_headers(
                self.ptr,
                envoy_dynamic_module_callback_http_get_headers_size,
                envoy_dynamic_module_callback_http_get_headers,
            )
        }
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

    fn response_header(&self, name: &str) -> Option<String> {
        self.header(RESPONSE_HEADER, name)
    }

    fn received_response_chunk(&self, max: usize, out: &mut Vec<u8>) {
        self.append_body(RECEIVED_RESPONSE_BODY, max, out)
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
        // SAFETY: the entry pointer is live during this hook, which the result's borrow is tied to.
        unsafe {
            request_headers(
                self.ptr,
                envoy_dynamic_module_callback_access_logger_get_headers_size,
                envoy_dynamic_module_callback_access_logger_get_headers,
            )
        }
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
