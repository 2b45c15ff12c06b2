# The filter as an OCI image for Istio's WasmPlugin (image/README.md). Included from the Makefile.

IMAGE_DIR := target/image
# The workspace version ([workspace.package] in Cargo.toml).
IMAGE_TAG ?= $(shell awk -F'"' '/^version = /{print $$2; exit}' Cargo.toml)

.PHONY: setup-image image test-image

## setup-image: docker-registry and skopeo from Debian's packages (test-image pushes and pulls with them)
setup-image:
	@command -v docker-registry >/dev/null && command -v skopeo >/dev/null || { \
		echo "installing docker-registry and skopeo from Debian's packages (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q docker-registry skopeo >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q docker-registry skopeo >/dev/null; }; \
	}
	@skopeo --version

## image: the filter as a reproducible OCI image layout -> target/image (push: skopeo copy
## oci:target/image:<tag> docker://<registry>/<repo>:<tag>); prints the manifest and wasm digests
image: build
	python3 image/build_image.py --wasm $(FILTER_WASM) --out $(IMAGE_DIR) --tag $(IMAGE_TAG)

## test-image: the image builds byte-identically twice, and a real registry (docker-registry on
## loopback) given it by skopeo serves the same digest and gives back the same .wasm
test-image: setup-image image
	python3 image/test_image.py $(FILTER_WASM)
