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
