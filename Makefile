# Developer entry points. `make run` and `make test` work on a fresh machine:
# uv is bootstrapped into .tools/, the project into .venv/, and PostgreSQL is
# run by devtools/localpg.py from the installed server binaries or, where there
# are none, from the pgserver wheel (optional extra `localpg`). No Docker.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
# uv must use the machine's Python (3.11+), and put the environment where the
# recipes below look for it, whatever the caller's shell says.
export UV_PYTHON ?= $(PYTHON)
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

# The pgserver extra is needed only when no PostgreSQL server is installed and
# a local cluster will be used: unless both DATABASE_URL (make run) and
# TEST_DATABASE_URL (make test) point at an existing server. localpg.py is
# stdlib-only, so the machine's python can ask it before the venv exists.
LOCALPG_EXTRA := $(shell \
	if [ -n "$${DATABASE_URL:-}" ] && [ -n "$${TEST_DATABASE_URL:-}" ]; then exit 0; fi; \
	$(PYTHON) -m devtools.localpg server-bindir >/dev/null 2>&1 || echo "--extra localpg")
SYNC := $(strip $(UV) sync --frozen $(LOCALPG_EXTRA))

.PHONY: help venv ts-tools run webhooks exports bench test lint format openapi messages clean-data FORCE

help:
	@echo "make run         start PostgreSQL (local, unless DATABASE_URL is set), migrate,"
	@echo "                 load demo data and serve the API on 127.0.0.1:\$${PORT:-8000}"
	@echo "make webhooks    run the webhook delivery worker against the same database"
	@echo "make exports     run the export worker (export jobs) against the same database"
	@echo "make test        lint, then the test suite (own throw-away PostgreSQL)"
	@echo "make bench       issue 16's figures beside their yardsticks, in one run (a scale-1"
	@echo "                 province generated once into .data/bench; needs wrk and pgbouncer)"
	@echo "make lint        ruff check, ruff format --check, mypy --strict"
	@echo "make format      ruff format + ruff check --fix"
	@echo "make openapi     write openapi/openapi.json"
	@echo "make messages    extract texts to app/locale/messages.pot, update the .po files"
	@echo "make venv        create/update .venv from uv.lock"
	@echo "make ts-tools    install openapi-typescript, openapi-fetch, tsc and redocly (npm ci)"
	@echo "make clean-data  stop the local PostgreSQL and delete .data/"

venv: $(VENV)/.synced

# The stamp records the sync command: a change of the needed extras (e.g.
# PostgreSQL got installed or removed) re-syncs as a lock change does.
ifneq ($(strip $(shell cat $(VENV)/.synced 2>/dev/null)),$(SYNC))
$(VENV)/.synced: FORCE
endif
$(VENV)/.synced: pyproject.toml uv.lock
	@if [ ! -x $(UV) ]; then \
		echo "bootstrapping uv $(UV_VERSION) into .tools/"; \
		$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv==$(UV_VERSION); \
	fi
	$(SYNC)
	@echo '$(SYNC)' > $@

FORCE:

# The TypeScript tools of the contract tests (tests/test_typescript_client.py), at the exact
# versions of clients/typescript/package-lock.json. npm ci writes node_modules/.package-lock.json
# last: older than the lock (or missing) means install again.
TS_DIR := clients/typescript
TS_STAMP := $(TS_DIR)/node_modules/.package-lock.json
ts-tools: $(TS_STAMP)

$(TS_STAMP): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	@echo "== installing the TypeScript tools (npm ci in $(TS_DIR))"
	npm ci --prefix $(TS_DIR) --no-audit --no-fund
	@touch $@

run: venv
	$(VENV)/bin/python -m devtools.run

# The webhook delivery worker (python -m app.cli webhook-worker), on the database `make run` uses.
webhooks: venv
	$(VENV)/bin/python -m devtools.worker webhook-worker

# The export worker (python -m app.cli export-worker), on the database `make run` uses.
exports: venv
	$(VENV)/bin/python -m devtools.worker export-worker

# Issue 16's table (bench/all.py): every figure beside a yardstick measured in the same run. The
# province is generated once (about 15 minutes at scale 1.0 here) into .data/bench and reused;
# BENCH_DATABASE_URL names one instead, BENCH_SCALE another scale, BENCH_ONLY some sections.
# wrk and pgbouncer are Debian packages (apt-get install wrk pgbouncer).
bench: venv
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install wrk)"; exit 2; }
	$(VENV)/bin/python -m bench.all $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

# Each phase says what it does before it starts: a quiet minute looks like a hang.
test: venv lint
	@if [ -n "$${TEST_DATABASE_URL:-}" ]; then \
		echo "== make test: the test suite (pytest) on TEST_DATABASE_URL (its public schema is rebuilt)"; \
	else \
		echo "== make test: the test suite (pytest) on a throw-away PostgreSQL, started now and removed afterwards"; \
	fi
	@if command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory ts-tools; \
		echo "== make test: the TypeScript consumer and redocly lint run (tsc --strict, 10-20 s)"; \
	else \
		echo "== make test: no npm: the TypeScript consumer test and redocly lint are skipped (install Node.js and npm)"; \
	fi
	@if [ -x /usr/bin/chromium ]; then \
		echo "== make test: the browser test runs (headless Chromium, /usr/bin/chromium)"; \
	else \
		echo "== make test: no /usr/bin/chromium: the browser test is skipped (see the summary; apt-get install chromium)"; \
	fi
	@if [ -x /usr/bin/pdftoppm ]; then \
		echo "== make test: the certificate PDF is also read with poppler (pdftoppm, pdftotext)"; \
	else \
		echo "== make test: no /usr/bin/pdftoppm: the poppler check of the certificate PDF is skipped (apt-get install poppler-utils)"; \
	fi
	$(VENV)/bin/pytest

lint: venv
	@echo "== make lint: ruff check, ruff format --check"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@echo "== make lint: type-checking with mypy --strict (about 30 s the first time, a few seconds with its cache in .mypy_cache)..."
	$(VENV)/bin/mypy --strict app devtools tests

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Through a temporary file: a failing command must not truncate the committed spec. The
# document needs no secrets: development (the default, production, would refuse to start).
openapi: venv
	@mkdir -p openapi
	APP_ENV=$${APP_ENV:-development} $(VENV)/bin/python -m app.cli openapi > openapi/openapi.json.tmp \
		|| { rm -f openapi/openapi.json.tmp; exit 1; }
	mv openapi/openapi.json.tmp openapi/openapi.json

# The message catalogues (app/i18n.py): extract every text marked with _() or N_() into the
# template, and merge it into each language's .po (then translate the new, empty entries).
messages: venv
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --omit-header \
		-o app/locale/messages.pot .
	$(VENV)/bin/pybabel update -i app/locale/messages.pot -d app/locale -D messages \
		--no-fuzzy-matching --ignore-pot-creation-date --width 100

# Works without the venv (localpg.py is stdlib-only); `remove` also deletes the
# cluster when, as root, it lives in /var/tmp (see localpg.py).
clean-data:
	$(PYTHON) -m devtools.localpg remove --data-dir .data/pg
	rm -rf .data
