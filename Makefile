# The two commands of the README. Each installs what is missing first.
.PHONY: test demo deps build lint

CARGO ?= cargo
export PATH := $(CURDIR)/.venv/bin:$(PATH)

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets --locked

test: deps
	$(CARGO) test --workspace --locked --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
