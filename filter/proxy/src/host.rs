//! Host calls the filter makes, wrapped so that none of them can panic: the SDK's trait
//! methods unwrap host errors and its string getters panic on non-UTF-8 bytes.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType, Status};
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

pub fn header(map: MapType, name: &str) -> Option<String> {
    hostcalls::get_map_value_bytes(map, name)
        .ok()
        .flatten()
        .map(lossy)
}

pub fn property(path: &[&str]) -> Option<String> {
    hostcalls::get_property(path.to_vec())
        .ok()
        .flatten()
        .map(lossy)
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

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
}

/// The request headers as one buffer in proxy-wasm's pair encoding: one host call and no
/// per-header copies (the SDK's getters decode every pair, and the `request.headers` property
/// goes through Envoy's expression evaluator, each costing several times more).
pub fn raw_request_headers() -> Option<Vec<u8>> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: on success the host hands over a buffer of `size` bytes that it allocated through
    // this module's allocator (`proxy_on_memory_allocate`); it is ours to own and free.
    unsafe {
        match proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) {
            Status::Ok if !data.is_null() => Some(Vec::from_raw_parts(data, size, size)),
            _ => None,
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
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]) as usize)
    };
    let count = word(0)?;
    let mut sizes = Vec::with_capacity(count.min(1024));
    for i in 0..count {
        sizes.push((word(4 + i * 8)?, word(8 + i * 8)?));
    }
    let mut at = 4 + count * 8;
    let mut out = Vec::with_capacity(sizes.len());
    for (k, v) in sizes {
        let key = bytes.get(at..at + k)?;
        at += k + 1;
        let value = bytes.get(at..at + v)?;
        at += v + 1;
        out.push((lossy(key.to_vec()), lossy(value.to_vec())));
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::decode_pairs;

    fn encode(pairs: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
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
    }
}
