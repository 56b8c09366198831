# Disaster Tweets: `make run` serves the app, `make test` runs the suite. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DATA_DIR ?= $(CURDIR)/var
export DATA_DIR

.PHONY: help setup run serve test test-e2e e2e-setup chromium screenshots lint format migrate model \
	retrain evaluate clean container-test bench bench-workers bench-tools test-reliability audit

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

.env:
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@chmod 600 $@
	@echo "Wrote .env with a new local SECRET_KEY (git-ignored)."

setup: $(VENV)/.installed .env ## Create .venv and install the pinned requirements

migrate: setup ## Apply database migrations
	@mkdir -p "$(DATA_DIR)"
	$(BIN)/python manage.py migrate --noinput

model: migrate ## Train and activate a first model if none is active
	$(BIN)/python manage.py ensure_model

# `run` and `serve` start the web server through disaster_site/supervisor.py, which runs the job
# worker (`manage.py db_worker`: trainings and CSV files) beside it at a lower CPU priority,
# restarts it if it dies and stops it with the server. RUN_WORKER=0: the web server alone;
# WORKER_NICE=10: how much lower the worker's priority is.
SUPERVISOR := $(BIN)/python -m disaster_site.supervisor --

run: model ## Set up, migrate, make sure a model exists, serve on http://127.0.0.1:$(PORT), with the job worker (RUN_WORKER=0: none)
	DEBUG=1 $(SUPERVISOR) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Collected (hashed, compressed) static files, redone only when a source or a package changes.
# Given to collectstatic and gunicorn only, not exported: `make test` keeps the suite's own
# STATIC_ROOT (tests/settings.py), which an exported one would override.
STATIC_ROOT ?= $(CURDIR)/staticfiles
$(STATIC_ROOT)/staticfiles.json: $(shell find static -type f 2>/dev/null) $(VENV)/.installed
	DEBUG=0 STATIC_ROOT="$(STATIC_ROOT)" $(BIN)/python manage.py collectstatic --noinput --verbosity 0

serve: model $(STATIC_ROOT)/staticfiles.json ## Production configuration (DEBUG off, gunicorn, whitenoise) on 127.0.0.1:$(PORT), with the job worker
	DEBUG=0 STATIC_ROOT="$(STATIC_ROOT)" PORT=$(PORT) BIND=127.0.0.1:$(PORT) \
		$(SUPERVISOR) $(BIN)/gunicorn --config gunicorn.conf.py disaster_site.wsgi:application

retrain: migrate ## Train a new model version: make retrain DATA=path/to/train.csv
	$(BIN)/python manage.py retrain $(if $(DATA),--data $(DATA))

evaluate: setup ## Score the active model: make evaluate DATA=path/to/labelled.csv
	$(BIN)/python manage.py evaluate --data $(DATA)

test: setup ## Run the test suite (browser and reliability suites: make test-e2e, make test-reliability)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Browser tests: Playwright (requirements-e2e.txt) drives Debian's Chromium; axe-core comes from
# the npm registry (tests/e2e/package.json). Each is installed here when missing.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
AXE := tests/e2e/node_modules/axe-core/axe.min.js

$(VENV)/.installed-e2e: requirements-e2e.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-e2e.txt
	touch $@

$(AXE): tests/e2e/package.json tests/e2e/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install axe-core (Node.js 18+)."; exit 1; }
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	touch $@

chromium: ## Install Debian's Chromium (for the browser tests) unless it is there
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "Install Chromium (apt-get install chromium) or set CHROMIUM=/path."; exit 1; fi; \
	  apt-get -o DPkg::Lock::Timeout=300 update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null; \
	fi
	@$(CHROMIUM) --version 2>/dev/null

e2e-setup: setup $(VENV)/.installed-e2e $(AXE) chromium

test-e2e: e2e-setup ## Browser tests: flows and axe-core checks in headless Chromium on `make serve`
	$(BIN)/python -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

screenshots: e2e-setup ## Save PNGs of the main pages to docs/img/ (shown in the README)
	$(BIN)/python -m tests.e2e.screenshots docs/img

test-reliability: setup ## Load, fault and fuzz tests against live servers (SOAK_SECONDS=60)
	$(BIN)/python -m pytest tests/reliability -m reliability $(PYTEST_ARGS)

audit: setup ## bandit on the code, pip-audit on the installed packages (AUDIT_ARGS=--allow-unaudited)
	$(BIN)/bandit -r disaster_site predictor ml -q
	$(BIN)/python scripts/dependency_audit.py $(AUDIT_ARGS)

lint: setup ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

CONTAINER_BASE := ../shared/tools/container-base.sh

container-test: ## Build the Dockerfile with buildah, test the container (no Docker engine needed)
	@test -x $(CONTAINER_BASE) || { echo "container-test: $(CONTAINER_BASE) not found: it installs buildah and the stand-in base image (see ../shared/docs/container.md). With Docker, build with: docker build -t disaster-site ." >&2; exit 1; }
	$(CONTAINER_BASE)
	scripts/container-test.sh

# The benchmark (bench/README.md). Our HTTP cases also run on PostgreSQL with BENCH_POSTGRES=1
# (a throwaway database on 127.0.0.1:5432) or DATABASE_URL=... given on the make command line.
ROUNDS ?= 2
DURATION ?= 10
BENCH_ARGS = --rounds $(ROUNDS) --duration $(DURATION) $(if $(DATA),--data $(DATA))
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(VENV)/.bench-installed: bench/seed_app/requirements.txt | $(VENV)/.installed
	$(BIN)/pip install --quiet -r bench/seed_app/requirements.txt
	touch $@

bench-tools: setup $(VENV)/.bench-installed
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y wrk \
		|| { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y wrk; }

bench: bench-tools ## Ours vs the seed app, writes bench/results.md: make bench [ROUNDS=2 DURATION=10 DATA=csv]
	$(BIN)/python -m bench.run $(BENCH_ARGS) $(if $(BENCH_POSTGRES),--postgres) \
		$(if $(filter command line,$(origin DATABASE_URL)),--database-url '$(DATABASE_URL)')

bench-workers: bench-tools ## 32 clients per gunicorn setting: make bench-workers [CONFIGS="sync:2 gthread:2:8"]
	$(BIN)/python -m bench.workers $(BENCH_ARGS) $(if $(CONFIGS),--configs "$(CONFIGS)")

clean: ## Remove the virtualenv, local data and caches
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache tests/e2e/node_modules
