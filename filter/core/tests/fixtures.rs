//! The fixtures copied into the repository still equal their sources beside the checkout.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

/// `tests/fixtures/akto-webhook-example.json` is Akto's documented example, byte for byte, as
/// `../shared/akto-webhook-example.json` holds it (when that folder sits beside the checkout).
#[test]
fn the_akto_example_equals_its_source_in_shared() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = root.join("tests/fixtures/akto-webhook-example.json");
    let source = root.join("../../../shared/akto-webhook-example.json");
    let copy = std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
    if !source.exists() {
        println!(
            "skipped: {} does not exist, nothing to compare the copy with",
            source.display()
        );
        return;
    }
    let source = std::fs::read(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    assert!(
        copy == source,
        "tests/fixtures/akto-webhook-example.json differs from ../shared's: copy it again"
    );
}
