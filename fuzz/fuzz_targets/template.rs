//! Path templating on any string: bounded, query-free, idempotent, and never longer than the
//! cap on kept paths plus the longest replacement growth.
#![no_main]

use actorwatch_core::internals::{strip_query, template, truncate, MAX_URL_BYTES};
use actorwatch_core::request_url_parts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|path: &str| {
    let t = template(path);
    assert!(!t.contains('?') && !t.contains('#'), "{t}");
    assert_eq!(template(&t), t, "templating is idempotent");
    assert!(t.len() <= MAX_URL_BYTES, "{}", t.len());
    let stripped = strip_query(path);
    assert!(path.starts_with(stripped));
    let cut = truncate(path, 100);
    assert!(cut.len() <= 100 && path.starts_with(cut));
    let (host, rest) = request_url_parts(path);
    assert!(path.contains(host));
    assert!(rest == "/" || path.contains(rest));
});
