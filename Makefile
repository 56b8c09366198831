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
	retrain evaluate clean

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
	$(BIN)/python manage.py migrate --noinput

model: migrate ## Train and activate a first model if none is active
	$(BIN)/python manage.py ensure_model

run: model ## Set up, migrate, make sure a model exists, serve on http://127.0.0.1:$(PORT)
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

serve: model ## Production configuration (DEBUG off, gunicorn, whitenoise) on 127.0.0.1:$(PORT)
	DEBUG=0 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=0 PORT=$(PORT) BIND=127.0.0.1:$(PORT) $(BIN)/gunicorn --config gunicorn.conf.py disaster_site.wsgi:application

retrain: migrate ## Train a new model version: make retrain DATA=path/to/train.csv
	$(BIN)/python manage.py retrain $(if $(DATA),--data $(DATA))

evaluate: setup ## Score the active model: make evaluate DATA=path/to/labelled.csv
	$(BIN)/python manage.py evaluate --data $(DATA)

test: setup ## Run the test suite (the browser tests are make test-e2e)
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

lint: setup ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the virtualenv, local data and caches
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache tests/e2e/node_modules
