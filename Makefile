# actorwatch: `make demo` runs the main job, `make test` runs every test.
# Everything a target needs is installed into git-ignored folders of this checkout (.tools/).

SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
# wasm-bindgen-test-runner must match the wasm-bindgen in Cargo.lock exactly.
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3}' Cargo.lock)
RUNNER := $(TOOLS)/bin/wasm-bindgen-test-runner

.PHONY: all setup test test-native test-wasm build-wasm bench lint ci demo clean-tools

all: test

## setup: Rust targets and components, and wasm-bindgen-test-runner pinned to Cargo.lock
setup:
	@rustup target add wasm32-wasip1 wasm32-unknown-unknown >/dev/null
	@rustup component add rustfmt clippy >/dev/null
	@command -v node >/dev/null || { echo "make: node is needed to run the wasm tests (apt-get install nodejs)"; exit 1; }
	@if [ "$$($(RUNNER) --version 2>/dev/null | awk '{print $$2}')" != "$(WASM_BINDGEN_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) into $(TOOLS) (a few minutes, once)"; \
		cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS) --quiet; \
	fi

## test: every test, natively and as WebAssembly
test: setup test-native test-wasm build-wasm

test-native:
	cargo test --workspace --locked

# The core's unit and integration tests compiled to wasm32-unknown-unknown, run under Node.
test-wasm:
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(RUNNER) \
		cargo test -p actorwatch-core --target wasm32-unknown-unknown --locked

# The core must build for the proxy-wasm target as well.
build-wasm:
	cargo build -p actorwatch-core --target wasm32-wasip1 --release --locked

## lint: what CI checks besides the tests
lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## bench: criterion benchmarks of the core and the bytes-per-actor measurement
bench: setup
	bash bench/run.sh

ci: lint test

demo:
	@echo "make demo runs Envoy with the actorwatch filter; it arrives with the proxy-wasm filter (filter/proxy)."
	@exit 1

clean-tools:
	rm -rf $(TOOLS)
