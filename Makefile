# SmartRecruiters assessment-partner connector. `make dev` to play, `make test` for everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3

.PHONY: help setup setup-browser setup-kombo build dev stack-up stack-down demo configure test test-unit test-stack lint doc release-build bench redrive replay clean-local

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Install the tools the local stack needs (idempotent): moto, cfn-lint, cargo-lambda; the local OpenID provider (npm oidc-provider)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	npm ci --prefix infra/oidc-provider --no-audit --no-fund --silent

setup-browser: ## Install Debian's Chromium and playwright-core for the consent-page browser test
	bash infra/install-browser.sh

setup-kombo: ## Install Kombo's SDKs for the contract tests in tests/kombo (kombo from PyPI, @kombo-api/sdk from npm)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/kombo/requirements.txt
	npm ci --prefix tests/kombo --no-audit --no-fund --silent

build: ## Build every crate (debug)
	cargo build --workspace --all-targets

stack-up: setup build ## Start moto, the SR simulator, cargo lambda watch, the SQS pollers and the stream poller
	infra/stack.sh up

stack-down: ## Stop the local stack
	infra/stack.sh down

demo: ## Run the spine once against a running stack
	cargo run --quiet -p connector-tests --bin spine-demo

# `make configure` registers the local stack; for a deployment pass STACK_OUTPUTS=outputs.json
# (from `aws cloudformation describe-stacks --stack-name <stack> --query 'Stacks[0].Outputs'`) or API_BASE_URL=https://…
SETTINGS ?=
configure: ## Register the partner configuration with SR (PUT /partner/configuration)
	cargo run --quiet -p connector-cli --bin connector -- \
	  $(if $(STACK_OUTPUTS),configure --stack-outputs $(STACK_OUTPUTS),$(if $(API_BASE_URL),configure --api-base-url $(API_BASE_URL),--env-file .local/stack.env configure --local-prefix http://127.0.0.1:$${LAMBDA_PORT:-9000}/lambda-url)) \
	  $(if $(SETTINGS),--settings $(SETTINGS))

# Operations on the running local stack; for a deployment use the `connector` CLI with the
# stack's outputs in the environment (infra/README.md "Operating it").
redrive: ## Move the results dead-letter queue back into the results queue (connector dlq redrive)
	cargo run --quiet -p connector-cli --bin connector -- --env-file .local/stack.env dlq redrive

replay: ## Re-send an order's latest result to SR: make replay ORDER=<orderId>
	@test -n "$(ORDER)" || { echo "usage: make replay ORDER=<orderId>" >&2; exit 2; }
	cargo run --quiet -p connector-cli --bin connector -- --env-file .local/stack.env orders replay $(ORDER)

dev: stack-up ## Start the stack, run the spine once, stay up until Ctrl-C
	@trap 'infra/stack.sh down' EXIT INT TERM; \
	cargo run --quiet -p connector-tests --bin spine-demo && \
	echo && echo "The stack stays up; Ctrl-C stops it (logs in .local/)." && \
	while true; do sleep 3600; done

lint: ## rustfmt, clippy (warnings are errors), rustdoc, one-way module dependencies in shared/; cfn-lint, sam validate --lint and checkov on the template
	cargo fmt --all -- --check
	$(PYTHON) infra/check_layers.py shared/src
	cargo clippy --workspace --all-targets -- -D warnings
	$(MAKE) --no-print-directory doc
	bash infra/template_checks.sh

# The crate docs: shared/README.md is the `connector` crate's front page, then its modules.
doc: ## Build the crate docs (cargo doc, warnings are errors); prints where connector/index.html is
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
	@echo "crate docs: $$($(PYTHON) infra/cargo_target.py)/doc/connector/index.html"

test-unit: ## Unit tests of pure logic (no stack needed)
	cargo test --workspace --exclude connector-tests --exclude connector-cli
	cargo test -p connector-cli --lib --bins
	$(PYTHON) -m pytest -q infra/test_local_stack.py infra/test_repo_checks.py

test-stack: ## Integration, e2e, CLI, Kombo SDK, schemathesis and browser tests against the local stack (starts and stops it); then every AWS call the functions made is checked against template.yaml's IAM
	@trap 'infra/stack.sh down' EXIT; \
	infra/stack.sh up \
	  && cargo test -p connector-tests --tests -- --test-threads 4 \
	  && cargo test -p connector-cli --tests \
	  && $(PYTHON) -m pytest -q tests/kombo \
	  && node --test tests/kombo/ \
	  && bash infra/schemathesis.sh \
	  && node --test tests/browser/ \
	  && $(PYTHON) infra/aws_calls.py

test: setup setup-browser setup-kombo build lint test-unit test-stack ## The whole suite, from a fresh clone

FUNCTIONS := oauth-token list-packages get-package create-order create-inline-order consent \
	disable-integration vendor-api result-publisher webhook-dispatcher order-stream
release-build: ## Build every function in release mode with cargo lambda (host target)
	cargo lambda build --release $(addprefix -p ,$(FUNCTIONS))

# Starts the local stack, measures, stops it. `BENCH_ARGS=--quick` for a short run.
BENCH_ARGS ?=
bench: setup build ## Benchmarks (not tests) vs same-run baselines: table on stdout, JSON in infra/bench/results/latest.json
	@trap 'infra/stack.sh down' EXIT; \
	infra/stack.sh up && cargo run --release -p connector-bench --bin bench -- $(BENCH_ARGS)

clean-local: stack-down ## Remove the local stack's state and logs
	rm -rf .local
