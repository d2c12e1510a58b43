# Portico. Quick start: `make run` (demo on http://127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 8000
SMTP_PORT ?= 8025
SMS_PORT ?= 8026
VENV := .venv
VPY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9

# The first Python >= 3.12 that actually runs: $PYTHON, then python3.14..3.12 and python3 on PATH (pyenv
# shims fail unless a version is selected, so each is run, not just looked up), then pyenv's versions folder.
define find_python
for c in "$$PYTHON" python3.14 python3.13 python3.12 python3 \
         $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
  [ -n "$$c" ] && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v "$$c"; exit 0; }; \
done; \
echo "Portico needs Python 3.12 or newer: install python3.12 (or set PYTHON=/path/to/python3.12)." >&2; exit 1
endef

.PHONY: help run serve test test-pg bench lint lock clean

help:
	@echo "make run    start the demo (web app, task worker, local SMTP server) on http://127.0.0.1:$(PORT)"
	@echo "make serve  production: migrate, collect static files, run gunicorn, task workers and periodic jobs (see README)"
	@echo "make test   install test dependencies and run the whole test suite"
	@echo "make test-pg  the suite (less browser tests) on a throwaway PostgreSQL cluster"
	@echo "make bench  benchmarks, one table (docs/performance.md; BENCH_SCALE=0.05 for a quick run)"
	@echo "make lint   ruff"
	@echo "make lock   re-pin requirements*.lock from requirements*.in"

$(VPY):
	@py=$$($(find_python)) || exit 1; echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# `install`, not `sync`, so a venv that also holds the test tools keeps them.
$(VENV)/.runtime: $(VPY) requirements.lock
	$(UV) pip install --quiet --python $(VPY) --require-hashes -r requirements.lock
	@touch $@

$(VENV)/.dev: $(VPY) requirements-dev.lock
	$(UV) pip sync --quiet --python $(VPY) requirements-dev.lock
	@touch $@

run: export DEBUG ?= 1
# The demo's links (seed_demo's emails included) use the port it runs on.
run: export PORTICO_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.runtime
	$(VPY) manage.py migrate --no-input -v0
	$(VPY) manage.py seed_demo
	$(VPY) manage.py rundemo --port $(PORT) --smtp-port $(SMTP_PORT) --sms-port $(SMS_PORT)

# Production (README "Deploying"): settings come from the environment; stops on Ctrl-C or SIGTERM.
serve: $(VENV)/.runtime
	$(VPY) manage.py serve

# The browser tests drive the system's Chromium: ensure-chromium finds it, installs Debian's (as root),
# or stops at once with one line saying how to get it; it prints the path for conftest.py.
test: $(VENV)/.dev
	@scripts/ensure-chromium >/dev/null
	$(VPY) -m ruff check .
	DEBUG=1 $(VPY) manage.py makemigrations --check --dry-run -v0 || { echo "Migrations are missing: run manage.py makemigrations"; exit 1; }
	CHROMIUM_PATH="$$(scripts/ensure-chromium)" $(VPY) -m pytest $(PYTEST_ARGS)

# The suite again on a throwaway PostgreSQL cluster (row locks, SKIP LOCKED, real concurrency);
# the browser and `make run` tests do not depend on the database engine and run in `make test`.
test-pg: $(VENV)/.dev
	scripts/with-postgres $(VPY) -m pytest -m "not browser" --ignore=tests/test_make_run.py $(PYTEST_ARGS)

bench: $(VENV)/.runtime
	$(VPY) bench/run.py

lint: $(VENV)/.dev
	$(VPY) -m ruff check .

lock: $(VPY)
	$(UV) pip compile --quiet requirements.in -o requirements.lock --python $(VPY) --generate-hashes
	$(UV) pip compile --quiet requirements-dev.in -o requirements-dev.lock --python $(VPY) --generate-hashes

clean:
	rm -rf $(VENV) var
