# SmartRecruiters assessment-partner connector. `make dev` to play, `make test` for everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3

.PHONY: help setup build dev stack-up stack-down demo test test-unit test-stack lint fmt clean-local

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Install the tools the local stack needs (idempotent): moto, cfn-lint, cargo-lambda
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt

build: ## Build every crate (debug)
	cargo build --workspace --all-targets

stack-up: setup build ## Start moto, the SR simulator, cargo lambda watch and the SQS poller
	infra/stack.sh up

stack-down: ## Stop the local stack
	infra/stack.sh down

demo: ## Run the spine once against a running stack
	cargo run --quiet -p connector-tests --bin spine-demo

dev: stack-up ## Start the stack, run the spine once, stay up until Ctrl-C
	@trap 'infra/stack.sh down' EXIT INT TERM; \
	cargo run --quiet -p connector-tests --bin spine-demo && \
	echo && echo "The stack stays up; Ctrl-C stops it (logs in .local/)." && \
	while true; do sleep 3600; done

lint: ## rustfmt, clippy (warnings are errors) and cfn-lint on the SAM template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml

test-unit: ## Unit tests of pure logic (no stack needed)
	cargo test --workspace --exclude connector-tests
	$(PYTHON) -m pytest -q infra/test_local_stack.py

test-stack: ## Integration and end-to-end tests against the local stack (starts and stops it)
	@trap 'infra/stack.sh down' EXIT; \
	infra/stack.sh up && cargo test -p connector-tests --tests -- --test-threads 4

test: setup build lint test-unit test-stack ## The whole suite, from a fresh clone

clean-local: stack-down ## Remove the local stack's state and logs
	rm -rf .local
