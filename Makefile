# Guichet — make help lists the targets. T=path narrows the tests (make test T=tests/test_api.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
T ?= tests
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

queue_app/static/vendor/socket.io.min.js: node_modules/.installed
	mkdir -p queue_app/static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js queue_app/static/vendor/

assets: queue_app/static/vendor/socket.io.min.js ## copy front-end libraries from npm into static/vendor

i18n-compile: $(VENV)/.installed ## compile the translation catalogues
	$(BIN)/pybabel -q compile -d queue_app/translations

i18n-extract: $(VENV)/.installed ## extract messages into messages.pot
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project Guichet -o queue_app/translations/messages.pot .

i18n-update: i18n-extract ## merge new messages into each language's catalogue
	$(BIN)/pybabel -q update -i queue_app/translations/messages.pot -d queue_app/translations \
		--width 100

install: $(VENV)/.installed assets i18n-compile ## install the application (virtualenv, npm assets, catalogues)

install-test: install $(VENV)/.installed-test browser ## install everything the tests need

browser: ## install Debian's Chromium for the browser tests when missing
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium for the browser tests (apt)…"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			chromium fonts-dejavu-core fonts-liberation >/dev/null; \
	fi

demo: install ## run the demo office on SQLite (prints the URLs, then serves on :5000)
	$(BIN)/queue-app demo
	$(BIN)/queue-app run --host 127.0.0.1 --port 5000

run: install ## run the server (in-process scheduler)
	$(BIN)/queue-app run

worker: install ## run the background jobs alone
	$(BIN)/queue-app worker

test: install-test ## install everything and run the whole test suite (PostgreSQL, Redis, Chromium)
	QUEUE_APP_REQUIRE_POSTGRES=1 QUEUE_APP_REQUIRE_REDIS=1 QUEUE_APP_REQUIRE_BROWSER=1 \
		$(BIN)/pytest $(T)

lint: install-test ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install-test ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## run the benchmarks on SQLite and PostgreSQL (prints figures)
	$(BIN)/python bench/issue_tickets.py --dburl sqlite
	$(BIN)/python bench/issue_tickets.py --dburl $(PG_URL)
	$(BIN)/python bench/call_next.py --dburl sqlite
	$(BIN)/python bench/call_next.py --dburl $(PG_URL)
	$(BIN)/python bench/limiter_overhead.py

.PHONY: help assets i18n-compile i18n-extract i18n-update install install-test browser demo run \
	worker test lint fmt bench
