# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
NATIVE := services/audit/native
# Rust's tools, where rustup puts them, for the audit log's native hot path (optional:
# without cargo the log runs in Python, slower; see docs/build.md).
export PATH := $(HOME)/.cargo/bin:$(PATH)
# Built only where `cargo --version` answers: rustup's proxy with no toolchain installed
# (or a broken one) is on PATH but cannot build, and the log then runs in Python.
CARGO_FOUND := $(shell PATH="$(PATH)" command -v cargo 2>/dev/null)
CARGO := $(if $(CARGO_FOUND),$(if $(shell PATH="$(PATH)" cargo --version >/dev/null 2>&1 && echo ok),$(CARGO_FOUND)))
NO_NATIVE_WHY := $(if $(filter command line,$(origin CARGO)),CARGO= given,$(if $(CARGO_FOUND),'$(CARGO_FOUND) --version' failed: no working Rust toolchain,no cargo on PATH))
# The stamp names whether the native module was built, so that cargo appearing later
# makes the next `make venv` build it.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(NATIVE)/Cargo.* $(NATIVE)/pyproject.toml $(NATIVE)/*.pyi $(NATIVE)/src/*.rs | sha1sum | cut -c1-12)-$(if $(CARGO),native,python)

.PHONY: demo test test-fast test-faults up down status venv lint format services token screenshots models docs assets

demo: venv up ## The whole stack, then a story that exercises it.
	BREACH_CLOCK=$${BREACH_CLOCK:-stored} AUDIT_RECIPIENTS_SETTLE_SECONDS=$${AUDIT_RECIPIENTS_SETTLE_SECONDS:-2} \
	  AUDIT_RECIPIENTS_RECHECK_SECONDS=$${AUDIT_RECIPIENTS_RECHECK_SECONDS:-10} \
	  bash deploy/local/services.sh start
	$(VENV)/bin/python -m deploy.demo
	@bash deploy/local/services.sh status
	@echo "The stack keeps running; 'make down' stops it."

test: venv ## ruff, mypy and pytest against the real broker and database.
	bash deploy/local/test.sh $(PYTEST_ARGS)

test-faults: venv ## The fault suite: brokers of a three-broker cluster killed under load (docs/faults.md).
	bash deploy/local/postgres.sh start
	$(VENV)/bin/pytest -q -s -m fault tests/faults $(PYTEST_ARGS)

test-fast: venv ## The unit and fast layers: no broker, no database, under a minute.
	$(VENV)/bin/pytest -q -m "not integration and not slow and not fault" $(PYTEST_ARGS)

venv: $(STAMP)
$(STAMP): pyproject.toml $(wildcard $(NATIVE)/Cargo.* $(NATIVE)/src/*.rs)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) is missing; install Python 3.11 or newer."; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
ifeq ($(CARGO),)
	@echo "note: the audit log's native module was not built ($(NO_NATIVE_WHY)); the log runs in Python. To build it, install Rust with rustup (https://rustup.rs; 'rustup default stable' for a toolchain), then run 'make venv' again."
else
	$(VENV)/bin/pip install -q ./$(NATIVE)
endif
	@rm -f $(VENV)/.installed-* && touch $@

up: venv ## Kafka and PostgreSQL, started if not running.
	bash deploy/local/kafka.sh start
	bash deploy/local/postgres.sh start

services: up ## The five services in the background.
	bash deploy/local/services.sh start

down: ## Stop everything these scripts started.
	bash deploy/local/services.sh stop
	bash deploy/local/smtp.sh stop
	bash deploy/local/kafka.sh stop
	bash deploy/local/postgres.sh stop

status:
	@bash deploy/local/kafka.sh status
	@bash deploy/local/postgres.sh status
	@bash deploy/local/smtp.sh status
	@bash deploy/local/services.sh status

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services tests bench deploy devtools client privacyctl
	$(VENV)/bin/lint-imports

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

screenshots: venv ## The notices in their scripts, every service's /docs and /asyncapi, and the console's pages as Chromium renders them, in docs/screenshots/ (the console's need the stack: make up).
	bash deploy/local/browser.sh install
	SCREENSHOTS_DIR=docs/screenshots $(VENV)/bin/pytest -q tests/services/notifier/test_screenshots.py tests/shared/test_pages_offline.py tests/services/console/test_browser.py

assets: venv ## shared/static/vendor/ again from the npm packages pinned in its manifest.toml (needs npm)
	$(VENV)/bin/python -m devtools.vendor_assets

token: venv ## make token ROLE=subject USER_ID=... (or ORG_ID=...)
	@$(VENV)/bin/python -m shared.auth --role $(ROLE) $(if $(USER_ID),--user-id $(USER_ID)) $(if $(ORG_ID),--org-id $(ORG_ID))

models: venv ## client/models/ again from the services' OpenAPI documents
	$(VENV)/bin/python -m devtools.openapi_models

docs: venv ## the user's manual as a site in build/site (strict; docs/cli.md regenerated first)
	$(VENV)/bin/python -m devtools.site
