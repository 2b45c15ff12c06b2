//! The whole unsafe surface of the module: Envoy's dynamic-module C ABI (the callbacks Envoy
//! exports, as Envoy 1.40 declares them in `source/extensions/dynamic_modules/abi/abi.h`, ABI
//! v0.2.0) and safe wrappers over them. Nothing outside this module touches a raw pointer.
//!
//! - `ffi`: the C types and the callbacks' declarations. Envoy resolves them when it loads the
//!   library (`RTLD_LAZY`): a callback this Envoy lacked would abort it at its first call, so
//!   only names the 1.40 binary exports are declared (the end-to-end suite checks the list
//!   against the binary with `nm -D`).
//! - `stream`: one HTTP stream or access-log entry during one hook (`Stream`, `LogEntry`).
//! - `config`: a configuration's callouts and metrics, the filter's scheduler, the bootstrap
//!   extension's timer (`EnvoyConfig`, `ConfigHandle`, `ServiceHandle`).
//! - `hooks`, `service_hooks`: the exported hooks.
#![allow(unsafe_code)]

mod config;
mod ffi;
pub mod hooks;
pub mod service_hooks;
mod stream;

pub use config::{ConfigHandle, EnvoyConfig, Scheduler, ServiceHandle, Timer};
pub use ffi::{EnvoyBuffer, HeaderPair, LOG_ERROR, LOG_INFO, LOG_WARN};
pub use stream::{LogEntry, Stream};

use ffi::*;

/// The ABI version this module is built against, for `on_program_init`.
pub const ABI_VERSION: &std::ffi::CStr = c"v0.2.0";

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

/// A callout's answer as Envoy lends it to a callout-done hook: its `:status` (0 if none) and
/// its body, copied.
///
/// SAFETY: `headers` and `chunks` point to `header_count` pairs and `chunk_count` buffers Envoy
/// owns for the duration of the hook (or are null).
pub unsafe fn callout_answer(
    headers: *const HeaderPair,
    header_count: usize,
    chunks: *const EnvoyBuffer,
    chunk_count: usize,
) -> (u16, Vec<u8>) {
    (
        callout_status(headers, header_count),
        callout_body(chunks, chunk_count),
    )
}

/// A callout's answer as Envoy lent it to a callout-done hook: the `:status` header.
///
/// SAFETY: `headers` points to `count` pairs Envoy owns for the duration of the hook (or is null).
unsafe fn callout_status(headers: *const HeaderPair, count: usize) -> u16 {
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
unsafe fn callout_body(chunks: *const EnvoyBuffer, count: usize) -> Vec<u8> {
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
