//! Any bytes as a configuration: validation never panics; an accepted configuration builds an
//! engine and a recorder, and every error names a key path. Environment variables whose name
//! starts with `S` are set (to their name, twice), so `{"env": ...}` references resolve too.
#![no_main]

use actorwatch_core::{Config, Engine, Recorder};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| name.starts_with('S').then(|| name.repeat(2));
    match Config::from_json_with_env(text.as_bytes(), &env) {
        Ok(cfg) => {
            let cfg = Arc::new(cfg);
            let _ = Recorder::new(Arc::clone(&cfg));
            let _ = Engine::with_shared_config(cfg, 1);
        }
        Err(errors) => {
            let message = errors.to_string();
            assert!(!message.is_empty());
        }
    }
});
