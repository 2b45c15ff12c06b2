//! `x-actorwatch-signature: t=<unix secs>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-actorwatch-signature";
pub const DELIVERY_HEADER: &str = "x-actorwatch-delivery";

fn mac(secret: &[u8], t_secs: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so the fallback (a fixed zero key) is never used; it only
    // keeps this path free of panics.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(t_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` signed at `t_secs`.
pub fn sign(secret: &[u8], t_secs: u64, body: &[u8]) -> String {
    let tag = mac(secret, t_secs, body).finalize().into_bytes();
    let mut out = format!("t={t_secs},v1=");
    crate::base::hex::encode_into(&mut out, &tag);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    Mismatch,
    /// `t` is further than the tolerance from the receiver's clock (a replay or a bad clock).
    Stale,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Malformed => "signature header is malformed",
            SignatureError::Mismatch => "signature does not match the body",
            SignatureError::Stale => "signature timestamp is outside the tolerance",
        })
    }
}

/// Checks a signature header against `body`, in constant time, allowing `tolerance_secs` of
/// clock difference. Several `v1=` values (secret rotation) are accepted.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if t.abs_diff(now_secs) > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for candidate in candidates {
        let Some(tag) = crate::base::hex::decode(candidate) else {
            continue;
        };
        if mac(secret, t, body).verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn rfc4231_case_2_vector() {
        // The MAC underneath, against RFC 4231 test case 2.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sign_covers_timestamp_and_body() {
        let s = sign(b"0123456789abcdef", 1_700_000_000, b"{\"a\":1}");
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"0123456789abcdef").unwrap();
        m.update(b"1700000000.{\"a\":1}");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(s, format!("t=1700000000,v1={hex}"));
    }

    #[test]
    fn verify_accepts_good_and_rejects_bad() {
        let key = b"0123456789abcdef";
        let body = b"{\"maliciousEvents\":[]}";
        let h = sign(key, 1000, body);
        assert_eq!(verify(key, &h, body, 1000, 300), Ok(()));
        assert_eq!(verify(key, &h, body, 1300, 300), Ok(()));
        assert_eq!(verify(key, &h, body, 1301, 300), Err(SignatureError::Stale));
        assert_eq!(
            verify(key, &h, b"{}", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another-secret-0", &h, body, 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(key, "v1=00", body, 1000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(key, "t=1000", body, 1000, 300),
            Err(SignatureError::Malformed)
        );
        let rotated = format!("{},v1=deadbeef", h);
        assert_eq!(verify(key, &rotated, body, 1000, 300), Ok(()));
    }
}
