# DeepLens: `make run` starts the product, `make test` runs the whole suite. Both install what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ML_STAMP := $(VENV)/.installed-ml
REQUIREMENTS := requirements/base.txt requirements/dev.txt

.PHONY: azurite oidc-provider oidc-dev run services test test-fast lint format bench example-trace install install-ml system-deps manage clean help

help:
	@echo "make run        start DeepLens (embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL are set)"
	@echo "make test       lint, then the whole test suite"
	@echo "make lint       ruff (lint, format), mypy, import-linter layers, no import cycles"
	@echo "make bench      run the benchmarks, figures to var/bench/results.json"
	@echo "make example-trace  upload one image with tracing on; the trace to var/traces/example.jsonl"
	@echo "make services   only the embedded PostgreSQL and Redis"
	@echo "make manage ARGS='...'  a manage.py command against the embedded servers"
	@echo "make oidc-dev   a local OpenID provider on 127.0.0.1:9400 to try single sign-on with make run"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(REQUIREMENTS)
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

# The embedding models (torch, torchvision, open-clip-torch): a large install, only where they run.
# `make run` works without it (the built-in descriptor needs no torch); tests and bench install it.
$(ML_STAMP): $(STAMP) requirements/ml.txt
	$(BIN)/pip install --quiet -r requirements/ml.txt
	touch $(ML_STAMP)

install-ml: $(ML_STAMP)

# Debian's chromium (browser tests) and prometheus (alert rule tests); each skipped where present.
system-deps:
	@./scripts/install-system-deps

# Azurite, Microsoft's Azure Blob emulator, for the Azure storage tests (npm, into var/azurite).
AZURITE := var/azurite/node_modules/.bin/azurite-blob
$(AZURITE):
	npm install --silent --no-audit --no-fund --prefix var/azurite azurite@3.35.0

azurite: $(AZURITE)

# A real OpenID provider (npm oidc-provider, OpenID Certified) for the single sign-on tests, into
# var/oidc-provider; tests/oidc/op.mjs configures and starts it on loopback.
OIDC_PROVIDER := var/oidc-provider/node_modules/oidc-provider/package.json
$(OIDC_PROVIDER):
	npm install --silent --no-audit --no-fund --prefix var/oidc-provider oidc-provider@9.13.3

oidc-provider: $(OIDC_PROVIDER)

# Start that provider for trying SSO with `make run` (see README, Sign-in): issuer http://127.0.0.1:9400,
# client deeplens / deeplens-dev-secret, redirect URI of the demo workspace's provider `dev`.
oidc-dev: $(OIDC_PROVIDER)
	OIDC_MODULES=var/oidc-provider/node_modules OP_CONFIG='{"port": 9400, "clients": [{"client_id": "deeplens", "client_secret": "deeplens-dev-secret", "redirect_uris": ["http://demo.localhost:8000/accounts/sso/dev/callback/"]}]}' node tests/oidc/op.mjs

run: install
	$(BIN)/python -m deeplens.runner

services: install
	$(BIN)/python -m deeplens.runner services

manage: install
	$(BIN)/python -m deeplens.runner manage $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=. $(BIN)/lint-imports --no-cache
	PYTHONPATH=. $(BIN)/python scripts/import_cycles.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install install-ml system-deps azurite oidc-provider lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow" $(PYTEST_ARGS)

bench: install install-ml
	$(BIN)/python -m tests.benchmarks.run --out var/bench/results.json

# The whole product with DEEPLENS_TRACING=file: one upload's trace (web request -> worker stages) and
# the /metrics page after it, under var/traces/.
example-trace: install
	$(BIN)/python scripts/example_trace.py --out var/traces

clean:
	rm -rf var/test var/bench
