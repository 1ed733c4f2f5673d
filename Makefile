# DeepLens: `make run` starts the product, `make test` runs the whole suite. Both install what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/base.txt requirements/dev.txt

.PHONY: run services test test-fast lint format bench install install-ml system-deps manage clean help

help:
	@echo "make run        start DeepLens (embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL are set)"
	@echo "make test       lint, then the whole test suite"
	@echo "make lint       ruff check + format check"
	@echo "make bench      run the benchmarks, figures to var/bench/results.json"
	@echo "make services   only the embedded PostgreSQL and Redis"
	@echo "make manage ARGS='...'  a manage.py command against the embedded servers"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(REQUIREMENTS)
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

# The embedding models (torch, torchvision, open-clip-torch): a large install, only where they run.
install-ml: $(STAMP)
	$(BIN)/pip install --quiet -r requirements/ml.txt

# Debian's chromium for the browser tests (never a browser download); skipped where it is present.
system-deps:
	@./scripts/install-system-deps

run: install
	$(BIN)/python -m deeplens.runner

services: install
	$(BIN)/python -m deeplens.runner services

manage: install
	$(BIN)/python -m deeplens.runner manage $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m tests.benchmarks.run --out var/bench/results.json

clean:
	rm -rf var/test var/bench
