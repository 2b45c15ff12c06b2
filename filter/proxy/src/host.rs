//! Host calls the filter makes, wrapped so that none of them can panic: the SDK's trait
//! methods unwrap host errors, its getters panic on statuses they do not expect, and its string
//! getters panic on non-UTF-8 bytes.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType};
use std::time::UNIX_EPOCH;

pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A header's value. Through the raw ABI: the SDK's getter panics on a status it does not
/// expect, and Envoy answers `BadArgument` when a map is gone (a stream reset before its
/// response headers, an HTTP call that timed out), which a client can provoke at will.
pub fn header(map: MapType, name: &str) -> Option<String> {
    // SAFETY: the host only reads `name` during the call.
    returned_buffer(|data, size| unsafe {
        proxy_get_header_map_value(map, name.as_ptr(), name.len(), data, size)
    })
    .map(lossy)
}

/// A property (`["source", "address"]`), through the raw ABI for the same reason as [`header`].
pub fn property(path: &[&str]) -> Option<String> {
    let serialized = path.join("\0");
    // SAFETY: the host only reads the path during the call.
    returned_buffer(|data, size| unsafe {
        proxy_get_property(serialized.as_ptr(), serialized.len(), data, size)
    })
    .map(lossy)
}

/// Answers the request locally; whether the host accepted. Through the raw ABI for the same
/// reason as [`header`].
pub fn send_local_response(status: u32, headers: &[(&str, &str)], body: &[u8]) -> bool {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    let headers = encode_pairs(&headers);
    // SAFETY: the host only reads the buffers passed, for the duration of the call.
    let result = unsafe {
        proxy_send_local_response(
            status,
            std::ptr::null(),
            0,
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    };
    result == STATUS_OK
}

/// proxy-wasm's pair encoding (see [`decode_pairs`]).
fn encode_pairs(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        4 + pairs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 10)
            .sum::<usize>(),
    );
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

/// The buffer a host call hands back through its two out-parameters, if it succeeded with one.
fn returned_buffer(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Option<Vec<u8>> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    if call(&mut data, &mut size) != STATUS_OK || data.is_null() {
        return None;
    }
    // SAFETY: on success the host allocated `size` bytes at `data` with this module's
    // allocator (`proxy_on_memory_allocate`) and gave up ownership.
    Some(unsafe { Vec::from_raw_parts(data, size, size) })
}

/// Unpredictable seed for hash keys and ids: the host's randomness (WASI `random_get`), mixed
/// with the time in case it is unavailable.
pub fn seed(context_id: u32) -> u64 {
    let mut bytes = [0u8; 8];
    let random = getrandom::fill(&mut bytes).map_or(0, |_| u64::from_le_bytes(bytes));
    let nanos = hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    random ^ nanos.rotate_left(17) ^ u64::from(context_id).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Host calls return a plain status code: read as an integer, since a code this SDK does not
/// know must not be turned into its enum.
const STATUS_OK: u32 = 0;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
}

/// A header map as one buffer in proxy-wasm's pair encoding: one host call and no
/// per-header copies (the SDK's getters decode every pair, and the `request.headers` property
/// goes through Envoy's expression evaluator, each costing several times more).
pub fn raw_headers(map: MapType) -> Option<Vec<u8>> {
    // SAFETY: the host only writes the buffer's address and size.
    returned_buffer(|data, size| unsafe { proxy_get_header_map_pairs(map, data, size) })
}

/// The pairs of a pair-encoded buffer as slices of it, with one allocation; `None` if the
/// buffer is malformed or holds bytes that are not UTF-8 (then [`decode_pairs`] decodes lossily).
pub fn borrow_pairs(bytes: &[u8]) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    walk_pairs(bytes, |k, v| {
        out.push((std::str::from_utf8(k).ok()?, std::str::from_utf8(v).ok()?));
        Some(())
    })?;
    Some(out)
}

/// Calls `f` with the request's headers, read in one host call and borrowed from its buffer
/// (decoded lossily if they are not UTF-8).
pub fn with_request_headers<R>(f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
    let raw = raw_headers(MapType::HttpRequestHeaders).unwrap_or_default();
    match borrow_pairs(&raw) {
        Some(pairs) => f(&pairs),
        None => {
            let owned = decode_pairs(&raw);
            let pairs: Vec<(&str, &str)> = owned
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            f(&pairs)
        }
    }
}

/// Decodes proxy-wasm's pair encoding (a map property such as `request.headers`): a u32
/// count, then (key length, value length) u32 pairs, then each key and value followed by NUL.
/// Malformed input gives no pairs.
pub fn decode_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    try_decode_pairs(bytes).unwrap_or_default()
}

fn try_decode_pairs(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    walk_pairs(bytes, |k, v| {
        out.push((lossy(k.to_vec()), lossy(v.to_vec())));
        Some(())
    })?;
    Some(out)
}

/// Calls `each` with every (key, value) of a pair-encoded buffer; `None` if the buffer is
/// malformed or `each` gives up.
fn walk_pairs<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(&'a [u8], &'a [u8]) -> Option<()>,
) -> Option<()> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]) as usize)
    };
    let count = word(0)?;
    let mut at = count.checked_mul(8)?.checked_add(4)?;
    for i in 0..count {
        let (k, v) = (word(4 + i * 8)?, word(8 + i * 8)?);
        let key = bytes.get(at..at.checked_add(k)?)?;
        at = at.checked_add(k)?.checked_add(1)?;
        let value = bytes.get(at..at.checked_add(v)?)?;
        at = at.checked_add(v)?.checked_add(1)?;
        each(key, value)?;
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::{borrow_pairs, decode_pairs, encode_pairs as encode};

    #[test]
    fn decodes_pairs_and_survives_garbage() {
        let bytes = encode(&[(":path", b"/a"), ("x-bin", b"\xff\xfeok"), ("empty", b"")]);
        assert_eq!(
            decode_pairs(&bytes),
            vec![
                (":path".to_string(), "/a".to_string()),
                ("x-bin".to_string(), "\u{fffd}\u{fffd}ok".to_string()),
                ("empty".to_string(), String::new())
            ]
        );
        // Any cut into the data loses pairs, never panics (the final NUL is not required).
        for cut in 0..bytes.len() - 1 {
            assert!(decode_pairs(&bytes[..cut]).is_empty(), "cut {cut}");
        }
        assert!(decode_pairs(&[0xff, 0xff, 0xff, 0xff]).is_empty());
        assert!(borrow_pairs(&[0xff, 0xff, 0xff, 0xff]).is_none());
    }

    #[test]
    fn encoded_pairs_decode_back() {
        let pairs = [(":status", "429"), ("retry-after", "7"), ("empty", "")];
        let bytes: Vec<(&str, &[u8])> = pairs.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        let decoded = decode_pairs(&encode(&bytes));
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn borrows_utf8_pairs_and_leaves_other_bytes_to_the_lossy_decoder() {
        let bytes = encode(&[(":path", b"/a"), ("x-api-key", b"k1"), ("empty", b"")]);
        assert_eq!(
            borrow_pairs(&bytes),
            Some(vec![(":path", "/a"), ("x-api-key", "k1"), ("empty", "")])
        );
        for cut in 0..bytes.len() - 1 {
            assert!(borrow_pairs(&bytes[..cut]).is_none(), "cut {cut}");
        }
        let binary = encode(&[(":path", b"/a"), ("x-bin", b"\xff")]);
        assert!(borrow_pairs(&binary).is_none());
        assert_eq!(decode_pairs(&binary).len(), 2);
    }
}
