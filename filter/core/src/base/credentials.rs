//! Which request headers carry credentials: never copied into samples, and reported as hashes
//! when an actor is taken from them.

/// Header names whose values are credentials: an actor taken from them is reported as a hash.
pub(crate) fn is_credential_header(name: &str) -> bool {
    const PARTS: [&str; 8] = [
        "auth",
        "token",
        "key",
        "secret",
        "session",
        "password",
        "credential",
        "cookie",
    ];
    let name = name.as_bytes();
    PARTS.iter().any(|part| {
        name.windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
    })
}

/// Headers never copied into samples, whatever the config says.
pub(crate) const ALWAYS_REDACTED: [&str; 4] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
];

/// Decodes base64url (padding optional; the standard alphabet's `+` and `/` accepted too).
pub(crate) fn base64url(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
