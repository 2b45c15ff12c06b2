//! A claim of the JWT a request carries in `Authorization: Bearer`, for `jwt:<claim>` actor
//! sources: read as it is, or only from a token whose HS256 signature verifies with the
//! configured key (RFC 7515, RFC 7518 section 3.2).

use crate::base::credentials::base64url;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// An HS256 key: its bytes never appear in `Debug` output (configurations are printed).
#[derive(Clone)]
pub(crate) struct Hs256Key(pub(crate) Box<[u8]>);

impl std::fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hs256Key(<redacted>)")
    }
}

/// The claim `claim` of the bearer token in `authorization`, as text (a string, or a number
/// as JSON writes it). With `hs256_secret`, only a token whose header says `HS256` and whose
/// signature verifies with it; without, any well-formed token (its claims can be forged).
pub(crate) fn claim(
    authorization: &str,
    claim: &str,
    hs256_secret: Option<&[u8]>,
) -> Option<String> {
    let token = authorization.trim();
    let scheme = token.get(..7)?;
    if !scheme.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let token = token[7..].trim();
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    if let Some(secret) = hs256_secret {
        let header: serde_json::Value = serde_json::from_slice(&base64url(header)?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
        mac.update(&token.as_bytes()[..header_and_claims_len(token)?]);
        mac.verify_slice(&base64url(signature)?).ok()?;
    }
    let claims: serde_json::Value = serde_json::from_slice(&base64url(claims)?).ok()?;
    match claims.get(claim)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The length of `header.claims`, the text an HS256 signature covers.
fn header_and_claims_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// RFC 7515 appendix A.1: an HS256 JWS, its key, and its claims (`"iss": "joe"`).
    const RFC7515_A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC7515_A1_KEY: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    #[test]
    fn jwt_claims_verified_with_the_rfc_7515_example() {
        let key = base64url(RFC7515_A1_KEY).unwrap();
        let bearer = format!("Bearer {RFC7515_A1_TOKEN}");
        assert_eq!(claim(&bearer, "iss", Some(&key)).as_deref(), Some("joe"));
        assert_eq!(
            claim(&bearer, "exp", Some(&key)).as_deref(),
            Some("1300819380")
        );
        // A claim that is not a string or number, or absent, names no actor.
        assert_eq!(
            claim(&bearer, "http://example.com/is_root", Some(&key)),
            None
        );
        assert_eq!(claim(&bearer, "sub", Some(&key)), None);
        // Another key, a changed signature or changed claims: not verified.
        let mut other = key.clone();
        other[0] ^= 1;
        assert_eq!(claim(&bearer, "iss", Some(&other)), None);
        let forged_sig = bearer.replace("dBjft", "dBjfu");
        assert_eq!(claim(&forged_sig, "iss", Some(&key)), None);
        let (head, rest) = RFC7515_A1_TOKEN.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        // {"iss":"eve"} with the original signature.
        let forged = format!("Bearer {head}.eyJpc3MiOiJldmUifQ.{sig}");
        assert_eq!(claim(&forged, "iss", Some(&key)), None);
        // Without a key the same forged token is believed: that is what unverified means.
        assert_eq!(claim(&forged, "iss", None).as_deref(), Some("eve"));
        // alg "none" never verifies.
        let none = "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UifQ.";
        assert_eq!(claim(none, "iss", Some(&key)), None);
        assert_eq!(claim("Basic am9lOnB3", "iss", None), None);
    }

    #[test]
    fn a_jwt_claim_is_the_actor_and_falls_back_to_the_peer() {
        let c = crate::Config::from_json_str(
            r#"{"actor": {"sources": ["jwt:iss", "peer"]}, "webhook": {"url": "http://127.0.0.1/"}}"#,
        )
        .unwrap()
        .actor;
        assert_eq!(c.header_names().collect::<Vec<_>>(), ["authorization"]);
        let h = |v: &str| vec![("authorization".to_string(), v.to_string())];
        let r = c
            .resolve(
                Some("192.0.2.7"),
                &h(&format!("Bearer {}", RFC7515_A1_TOKEN)),
            )
            .unwrap();
        assert_eq!(c.display(&r.key), "jwt:iss:joe");
        assert_eq!(r.ip, "192.0.2.7".parse().ok());
        let r = c
            .resolve(Some("192.0.2.7"), &h("Bearer not-a-jwt"))
            .unwrap();
        assert_eq!(c.display(&r.key), "192.0.2.7");
    }

    #[test]
    fn jwt_settings_are_checked() {
        let err = |actor: &str| {
            let json =
                format!(r#"{{"actor": {actor}, "webhook": {{"url": "http://127.0.0.1/"}}}}"#);
            crate::Config::from_json_str(&json).unwrap_err().to_string()
        };
        let short = err(r#"{"sources": ["jwt:sub"], "jwt_hs256_secret": "0123456789abcdef"}"#);
        assert!(
            short.contains("actor.jwt_hs256_secret") && short.contains("at least 32 bytes"),
            "{short}"
        );
        assert!(
            !short.contains("0123456789abcdef"),
            "the secret is never echoed: {short}"
        );
        let alone =
            err(r#"{"sources": ["peer"], "jwt_hs256_secret": "0123456789abcdef0123456789abcdef"}"#);
        assert!(
            alone.contains("no actor source is \"jwt:<claim>\""),
            "{alone}"
        );
        let claim = err(r#"{"sources": ["jwt:"]}"#);
        assert!(
            claim.contains("actor.sources[0]") && claim.contains("jwt:<claim>"),
            "{claim}"
        );
        let ok = r#"{"actor": {"sources": ["jwt:sub", "peer"], "jwt_hs256_secret": "0123456789abcdef0123456789abcdef"}, "webhook": {"url": "http://127.0.0.1/"}}"#;
        assert!(crate::Config::from_json_str(ok).is_ok());
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let c = crate::Config::from_json_str(
            r#"{"actor": {"sources": ["jwt:sub"], "jwt_hs256_secret": "s3cr3t-0123456789abcdef-0123456789"},
                "webhook": {"url": "http://127.0.0.1/"}}"#,
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("s3cr3t"));
        // Nor as the bytes of the key: 115 is 's', 51 is '3'.
        assert!(!shown.contains("115, 51, 99"));
    }
}
