//! The validator's machinery: reading typed values at a key path, collecting every error with
//! the path and the value (never a secret's), and secrets given inline or named in the host's
//! environment.

use super::{ConfigError, EnvLookup};
use serde_json::{Map, Value};
use std::fmt;

pub(super) struct Validator<'e> {
    pub(super) errors: Vec<ConfigError>,
    pub(super) env: EnvLookup<'e>,
}

/// A secret as the configuration gave it: its value, and the environment variable it was read
/// from (`None`: written in the configuration itself).
pub(super) struct Secret {
    pub(super) value: String,
    pub(super) from_env: Option<String>,
}

impl Secret {
    /// How an error about the value names where it came from (never the value itself).
    pub(super) fn source(&self) -> String {
        match &self.from_env {
            Some(name) => format!(" (from environment variable {name})"),
            None => String::new(),
        }
    }
}

/// A portable environment variable name: 1-128 characters of `A-Z 0-9 _`, not starting with a
/// digit. Lower case is refused so that a secret pasted where its name belongs (API tokens are
/// mostly mixed case) is an invalid name, which errors never echo, rather than a valid one.
pub(super) fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn show(value: &Value) -> String {
    let mut s = value.to_string();
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// An object being read: remembers which keys were used so the rest can be reported as unknown.
pub(super) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    known: &'static [&'static str],
}

impl<'a> Obj<'a> {
    /// The value at `key`; an explicit `null` counts as absent (the default applies).
    pub(super) fn get(&self, key: &'static str) -> Option<&'a Value> {
        debug_assert!(self.known.contains(&key));
        self.map.get(key).filter(|v| !v.is_null())
    }
    pub(super) fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

impl Validator<'_> {
    pub(super) fn err(&mut self, path: &str, message: impl fmt::Display, got: &Value) {
        self.errors.push(ConfigError {
            path: path.to_string(),
            message: format!("{message}, got {}", show(got)),
        });
    }

    pub(super) fn object<'a>(
        &mut self,
        path: &str,
        value: &'a Value,
        known: &'static [&'static str],
    ) -> Option<Obj<'a>> {
        let Some(map) = value.as_object() else {
            self.err(path_or_root(path), "must be an object", value);
            return None;
        };
        for (key, v) in map {
            if !known.contains(&key.as_str()) {
                self.errors.push(ConfigError {
                    path: join(path, key),
                    message: format!(
                        "unknown key (known keys: {}), got {}",
                        known.join(", "),
                        show(v)
                    ),
                });
            }
        }
        Some(Obj {
            path: path.to_string(),
            map,
            known,
        })
    }

    pub(super) fn uint(
        &mut self,
        obj: &Obj,
        key: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> u64 {
        let Some(v) = obj.get(key) else {
            return default;
        };
        let path = obj.path(key);
        match v.as_u64() {
            Some(n) if n < min => {
                self.err(&path, format_args!("must be >= {min}"), v);
                default
            }
            Some(n) if n > max => {
                self.err(&path, format_args!("must be <= {max}"), v);
                default
            }
            Some(n) => n,
            None => {
                self.err(
                    &path,
                    format_args!("must be an integer in {min}..={max}"),
                    v,
                );
                default
            }
        }
    }

    pub(super) fn string(&mut self, obj: &Obj, key: &'static str) -> Option<String> {
        let v = obj.get(key)?;
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(&obj.path(key), "must be a string", v);
                None
            }
        }
    }

    pub(super) fn nonempty_string(
        &mut self,
        obj: &Obj,
        key: &'static str,
        default: &str,
    ) -> String {
        match self.string(obj, key) {
            Some(s) if s.trim().is_empty() => {
                self.err(&obj.path(key), "must not be empty", &Value::String(s));
                default.to_string()
            }
            Some(s) => s,
            None => default.to_string(),
        }
    }

    /// One of `all` (a configuration enum's values and names), `default` when absent.
    pub(super) fn choose<T: Copy>(
        &mut self,
        obj: &Obj,
        key: &'static str,
        all: &[(T, &'static str)],
        default: T,
    ) -> T {
        let Some(v) = obj.get(key) else {
            return default;
        };
        match all.iter().find(|(_, name)| v.as_str() == Some(*name)) {
            Some((value, _)) => *value,
            None => {
                let quoted: Vec<String> = all.iter().map(|(_, c)| format!("\"{c}\"")).collect();
                self.err(
                    &obj.path(key),
                    format_args!("must be one of {}", quoted.join(", ")),
                    v,
                );
                default
            }
        }
    }

    pub(super) fn array<'a>(&mut self, obj: &Obj<'a>, key: &'static str) -> Option<&'a Vec<Value>> {
        let v = obj.get(key)?;
        match v.as_array() {
            Some(a) => Some(a),
            None => {
                self.err(&obj.path(key), "must be an array", v);
                None
            }
        }
    }

    /// A secret string: written inline, or `{"env": "NAME"}` read through the host's lookup.
    /// `expected` says what the key accepts. Errors name the key path and the variable, never a
    /// value: anything written where a secret belongs may be one.
    pub(super) fn secret(&mut self, path: &str, value: &Value, expected: &str) -> Option<Secret> {
        if let Some(s) = value.as_str() {
            return Some(Secret {
                value: s.to_string(),
                from_env: None,
            });
        }
        let Some(map) = value.as_object() else {
            self.errors.push(ConfigError {
                path: path.to_string(),
                message: format!("must be {expected}, got a non-string value"),
            });
            return None;
        };
        for key in map.keys().filter(|k| *k != "env") {
            self.errors.push(ConfigError {
                path: join(path, key),
                message: "unknown key (known keys: env), its value is not shown".into(),
            });
        }
        let env_path = join(path, "env");
        let name = match map.get("env") {
            None | Some(Value::Null) => {
                self.errors.push(ConfigError {
                    path: env_path,
                    message: "is required, got nothing".into(),
                });
                return None;
            }
            Some(Value::String(name)) if is_env_name(name) => name,
            Some(v) => {
                let got = match v.as_str() {
                    Some(s) => format!("a string of {} characters", s.chars().count()),
                    None => "a non-string value".into(),
                };
                self.errors.push(ConfigError {
                    path: env_path,
                    message: format!(
                        "must be an environment variable name (1-128 characters of A-Z 0-9 _, not starting with a digit), got {got}"
                    ),
                });
                return None;
            }
        };
        let problem = match (self.env)(name) {
            Some(value) if !value.is_empty() => {
                return Some(Secret {
                    value,
                    from_env: Some(name.clone()),
                })
            }
            Some(_) => "is empty",
            None => "is not set",
        };
        self.errors.push(ConfigError {
            path: path.to_string(),
            message: format!("environment variable {name} {problem}"),
        });
        None
    }

    pub(super) fn header_name(&mut self, path: &str, v: &Value) -> Option<String> {
        match v.as_str() {
            Some(s) if is_token(s) => Some(s.to_ascii_lowercase()),
            _ => {
                self.err(path, "must be an HTTP header name", v);
                None
            }
        }
    }

    pub(super) fn required_string(&mut self, obj: &Obj, key: &'static str) -> String {
        match obj.get(key) {
            None => {
                self.errors.push(ConfigError {
                    path: obj.path(key),
                    message: "is required, got nothing".into(),
                });
                String::new()
            }
            Some(_) => self.string(obj, key).unwrap_or_default(),
        }
    }
}

pub(super) fn path_or_root(path: &str) -> &str {
    if path.is_empty() {
        "(document)"
    } else {
        path
    }
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
