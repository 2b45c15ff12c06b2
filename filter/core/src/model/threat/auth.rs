//! Weak authentication: what a request's `Authorization` header shows about how the API is
//! protected (duplicates, control characters, oversized values, malformed or short bearer
//! tokens, Basic credentials, JWTs signed with `none` or HS256, expired JWTs). The findings name
//! the check, never the credential.

use crate::base::credentials::base64url;
use crate::model::observation::Headers;

/// Longest `Authorization` value a client plausibly sends.
const MAX_AUTHORIZATION_CHARS: usize = 2048;
/// Bearer tokens that are not JWTs and are shorter than this are guessable.
const MIN_OPAQUE_TOKEN_CHARS: usize = 10;

macro_rules! auth_checks {
    ($($variant:ident = $name:literal, $default:literal, $what:literal;)+) => {
        /// One weak-authentication check, by the name the configuration uses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AuthCheck { $($variant),+ }

        impl AuthCheck {
            pub const ALL: &'static [AuthCheck] = &[$(AuthCheck::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(AuthCheck::$variant => $name),+ }
            }

            /// What the finding says (the excerpt of its event).
            pub fn finding(self) -> &'static str {
                match self { $(AuthCheck::$variant => $what),+ }
            }

            const fn on_by_default(self) -> bool {
                match self { $(AuthCheck::$variant => $default),+ }
            }

            pub fn parse(s: &str) -> Option<AuthCheck> {
                AuthCheck::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }
    };
}

auth_checks! {
    DuplicateHeader = "duplicate_header", true, "more than one Authorization header";
    ControlCharacters = "control_characters", true, "CR, LF or another control character in Authorization";
    Oversized = "oversized", true, "Authorization longer than 2048 characters";
    MalformedBearer = "malformed_bearer", true, "empty or malformed Bearer token";
    ShortBearer = "short_bearer", true, "opaque Bearer token shorter than 10 characters";
    Basic = "basic", false, "Basic credentials";
    JwtAlgNone = "jwt_alg_none", true, "JWT with alg none (unsigned)";
    JwtHs256 = "jwt_hs256", false, "JWT signed with HS256 (a shared secret)";
    JwtExpired = "jwt_expired", true, "expired JWT (exp in the past)";
}

/// A set of checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthChecks(u16);

impl AuthChecks {
    /// Every check but `basic` and `jwt_hs256`: both are legitimate in many APIs and would
    /// raise an event for every actor of such an API.
    pub const DEFAULT: AuthChecks = {
        let mut bits = 0u16;
        let mut i = 0;
        while i < AuthCheck::ALL.len() {
            if AuthCheck::ALL[i].on_by_default() {
                bits |= 1 << (AuthCheck::ALL[i] as u16);
            }
            i += 1;
        }
        AuthChecks(bits)
    };

    pub fn none() -> AuthChecks {
        AuthChecks(0)
    }
    pub fn with(self, check: AuthCheck) -> AuthChecks {
        AuthChecks(self.0 | (1 << (check as u16)))
    }
    pub fn contains(self, check: AuthCheck) -> bool {
        self.0 & (1 << (check as u16)) != 0
    }
}

/// The first check among `checks` that the request's `Authorization` header fails, if any.
/// `now_ms` decides whether a JWT has expired.
pub(crate) fn weak_authentication(
    headers: &dyn Headers,
    checks: AuthChecks,
    now_ms: u64,
) -> Option<AuthCheck> {
    let mut count = 0usize;
    let mut first: Option<&str> = None;
    headers.for_each(&mut |name, _| {
        if name.eq_ignore_ascii_case("authorization") {
            count += 1;
        }
    });
    if count == 0 {
        return None;
    }
    if count > 1 && checks.contains(AuthCheck::DuplicateHeader) {
        return Some(AuthCheck::DuplicateHeader);
    }
    if let Some(v) = headers.get("authorization") {
        first = Some(v);
    }
    let value = first?;
    let fails =
        |check: AuthCheck, failed: bool| (failed && checks.contains(check)).then_some(check);
    if let Some(c) = fails(
        AuthCheck::ControlCharacters,
        value.chars().any(|c| c.is_control() && c != '\t'),
    ) {
        return Some(c);
    }
    if let Some(c) = fails(
        AuthCheck::Oversized,
        value.chars().count() > MAX_AUTHORIZATION_CHARS,
    ) {
        return Some(c);
    }
    let value = value.trim();
    let (scheme, credentials) = match value.split_once([' ', '\t']) {
        Some((s, rest)) => (s, rest.trim()),
        None => (value, ""),
    };
    if scheme.eq_ignore_ascii_case("basic") {
        return fails(AuthCheck::Basic, true);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if credentials.is_empty() || !credentials.chars().all(token_char) {
        return fails(AuthCheck::MalformedBearer, true);
    }
    let Some(jwt) = Jwt::parse(credentials) else {
        return fails(
            AuthCheck::ShortBearer,
            credentials.len() < MIN_OPAQUE_TOKEN_CHARS,
        );
    };
    let alg = jwt.alg.to_ascii_lowercase();
    if let Some(c) = fails(AuthCheck::JwtAlgNone, alg == "none") {
        return Some(c);
    }
    if let Some(c) = fails(AuthCheck::JwtHs256, alg == "hs256") {
        return Some(c);
    }
    let expired = jwt.exp.is_some_and(|exp| exp.saturating_mul(1000) < now_ms);
    fails(AuthCheck::JwtExpired, expired)
}

/// What a JWT's header and claims say about its strength.
struct Jwt {
    alg: String,
    exp: Option<u64>,
}

impl Jwt {
    /// A token of three dot-separated base64url parts whose first two are JSON objects.
    fn parse(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value = serde_json::from_slice(&base64url(header)?).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&base64url(claims)?).ok()?;
        let alg = header.get("alg")?.as_str()?.to_string();
        let exp = claims.get("exp").and_then(|e| {
            e.as_u64()
                .or_else(|| e.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        });
        claims.is_object().then_some(Jwt { alg, exp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn b64(s: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn jwt(header: &str, claims: &str) -> String {
        format!("Bearer {}.{}.c2ln", b64(header), b64(claims))
    }

    const NOW_MS: u64 = 1_800_000_000_000;

    fn check(headers: &[(&str, &str)], checks: AuthChecks) -> Option<AuthCheck> {
        weak_authentication(&headers, checks, NOW_MS)
    }

    #[test]
    fn each_default_check_fires_on_its_case_and_not_on_a_strong_token() {
        let d = AuthChecks::DEFAULT;
        let strong = jwt(
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"sub":"1","exp":1800000001}"#,
        );
        assert_eq!(check(&[("authorization", &strong)], d), None);
        assert_eq!(check(&[("x-other", "1")], d), None);
        assert_eq!(
            check(&[("authorization", &strong), ("Authorization", &strong)], d),
            Some(AuthCheck::DuplicateHeader)
        );
        assert_eq!(
            check(&[("authorization", "Bearer abc\r\ndef")], d),
            Some(AuthCheck::ControlCharacters)
        );
        let long = format!("Bearer {}", "a".repeat(2042));
        assert_eq!(long.len(), 2049);
        assert_eq!(
            check(&[("authorization", &long)], d),
            Some(AuthCheck::Oversized)
        );
        assert_eq!(check(&[("authorization", &long[..2048])], d), None);
        assert_eq!(
            check(&[("authorization", "Bearer ")], d),
            Some(AuthCheck::MalformedBearer)
        );
        assert_eq!(
            check(&[("authorization", "Bearer a\"b")], d),
            Some(AuthCheck::MalformedBearer)
        );
        assert_eq!(
            check(&[("authorization", "Bearer 123456789")], d),
            Some(AuthCheck::ShortBearer)
        );
        assert_eq!(check(&[("authorization", "Bearer 1234567890")], d), None);
        let none = jwt(r#"{"alg":"none"}"#, r#"{"sub":"1"}"#);
        assert_eq!(
            check(&[("authorization", &none)], d),
            Some(AuthCheck::JwtAlgNone)
        );
        let expired = jwt(r#"{"alg":"RS256"}"#, r#"{"exp":1799999999}"#);
        assert_eq!(
            check(&[("authorization", &expired)], d),
            Some(AuthCheck::JwtExpired)
        );
    }

    #[test]
    fn opt_in_checks_fire_only_when_configured() {
        let hs = jwt(r#"{"alg":"HS256"}"#, r#"{"sub":"1"}"#);
        let basic = [("authorization", "Basic dXNlcjpwYXNz")];
        assert_eq!(check(&[("authorization", &hs)], AuthChecks::DEFAULT), None);
        assert_eq!(check(&basic, AuthChecks::DEFAULT), None);
        let all = AuthCheck::ALL
            .iter()
            .fold(AuthChecks::none(), |s, c| s.with(*c));
        assert_eq!(
            check(&[("authorization", &hs)], all),
            Some(AuthCheck::JwtHs256)
        );
        assert_eq!(check(&basic, all), Some(AuthCheck::Basic));
        assert_eq!(
            check(&[("authorization", "Bearer ")], AuthChecks::none()),
            None
        );
    }
}
