# The two commands of the README. Each installs what is missing first.
.PHONY: test demo deps build lint

CARGO ?= cargo
export PATH := $(CURDIR)/.venv/bin:$(PATH)

deps:
	@scripts/install-deps.sh

# Builds (debug: on 2 cores much quicker than an LTO release build), starts kvs-local on a
# free port, streams, lists, plays back, prints a summary and stops what it started.
demo: deps
	@CARGO=$(CARGO) scripts/demo.sh

build: deps
	$(CARGO) build --workspace --all-targets --locked

# `cargo test` links the plugins' rlibs only; the loadable .so files that gst-inspect-1.0,
# gst-launch-1.0 and GST_PLUGIN_PATH tests use come from `cargo build`.
test: deps
	$(CARGO) build --workspace --locked
	$(CARGO) test --workspace --locked --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
