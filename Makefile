# Guichet — make help lists the targets. T=path narrows the tests (make test T=tests/test_api.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
T ?= tests
# Test processes (pytest-xdist): one per core by default.
JOBS ?= auto
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The server (.) and guichet-printer (printer/), the distribution it prints with, with
# the releases of requirements/*.lock (pyproject.toml gives ranges; make lock pins them).
$(VENV)/.installed: requirements/install.lock pyproject.toml setup.py printer/pyproject.toml \
		| $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements/install.lock
	touch $@

$(VENV)/.installed-test: requirements/test.lock $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements/test.lock
	touch $@

# uv resolves pyproject.toml's ranges (requirements/*.in) into requirements/*.lock.
LOCK_ARGS ?=
lock: | $(BIN)/activate ## pin the dependencies in requirements/*.lock (keeps pins; make lock-upgrade for the newest)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet "uv>=0.13.10,<0.14"
	for name in install test; do \
		$(BIN)/uv pip compile --quiet --python-version 3.11 $(LOCK_ARGS) \
			requirements/$$name.in -o requirements/$$name.lock || exit 1; \
	done

lock-upgrade: ## pin the newest releases pyproject.toml's ranges allow (then run the tests)
	$(MAKE) --no-print-directory lock LOCK_ARGS=--upgrade

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

queue_app/static/vendor/socket.io.min.js: node_modules/.installed
	mkdir -p queue_app/static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js queue_app/static/vendor/

SWAGGER_UI := queue_app/static/vendor/swagger-ui
$(SWAGGER_UI)/swagger-ui-bundle.js: node_modules/.installed
	mkdir -p $(SWAGGER_UI)
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
		node_modules/swagger-ui-dist/LICENSE $(SWAGGER_UI)/

queue_app/static/vendor/chart.umd.min.js: node_modules/.installed
	mkdir -p queue_app/static/vendor
	cp node_modules/chart.js/dist/chart.umd.min.js queue_app/static/vendor/

VENDOR_ASSETS := queue_app/static/vendor/socket.io.min.js $(SWAGGER_UI)/swagger-ui-bundle.js \
	queue_app/static/vendor/chart.umd.min.js

assets: $(VENDOR_ASSETS) ## copy front-end libraries from npm into static/vendor

i18n-compile: $(VENV)/.installed ## compile the translation catalogues
	$(BIN)/pybabel -q compile -d queue_app/translations

i18n-extract: $(VENV)/.installed ## extract messages into messages.pot
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project Guichet -o queue_app/translations/messages.pot .

i18n-update: i18n-extract ## merge new messages into each language's catalogue
	$(BIN)/pybabel -q update -i queue_app/translations/messages.pot -d queue_app/translations \
		--width 100

# The built-in French voice of the displays (recorded clips joined when the browser has
# no voice): generated offline by espeak-ng and sox into display/static/voice/ (git-ignored),
# which the wheel includes.
VOICE_LANGUAGES ?= fr
VOICE_STAMP := display/static/voice/.built

voice-tools: ## install espeak-ng and sox (Debian) when missing: they make the voice clips
	@if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null \
		|| ! sox -h 2>/dev/null | grep -q ' vorbis'; then \
		echo "Installing espeak-ng and sox for the display's voice clips (apt)…"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		for try in 1 2 3 4 5 6; do \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
				espeak-ng sox libsox-fmt-base >/dev/null && break; \
			echo "apt busy, retrying…"; sleep 10; \
		done; \
	fi

$(VOICE_STAMP): display/build_voice.py | $(BIN)/activate
	$(MAKE) --no-print-directory voice-tools
	$(BIN)/python display/build_voice.py --out display/static/voice $(VOICE_LANGUAGES)
	touch $@

voice: $(VOICE_STAMP) ## generate the display's built-in voice clips (espeak-ng + sox)

install: $(VENV)/.installed assets voice i18n-compile fonts ## install the application (virtualenv, npm assets, voice clips, catalogues, fonts)

install-test: install $(VENV)/.installed-test browser ## install everything the tests need

browser: ## install Debian's Chromium for the browser tests when missing
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium for the browser tests (apt)…"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			chromium fonts-dejavu-core fonts-liberation >/dev/null; \
	fi

fonts: ## install Debian's DejaVu fonts (tickets print text a code page lacks, e.g. Wolof ŋ, as images)
	@if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
		echo "Installing fonts-dejavu-core for ticket printing (apt)…"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			fonts-dejavu-core >/dev/null; \
	fi

HOST ?= 127.0.0.1
PORT ?= 5000

demo: install ## run the demo office on SQLite, prints its URLs, serves on HOST:PORT (127.0.0.1:5000)
	$(BIN)/queue-app demo --host $(HOST) --port $(PORT)
	$(BIN)/queue-app run --host $(HOST) --port $(PORT)

run: install ## run the server (in-process scheduler) on HOST:PORT
	$(BIN)/queue-app run --host $(HOST) --port $(PORT)

worker: install ## run the background jobs alone
	$(BIN)/queue-app worker

# tests/services.py: the machine's PostgreSQL (5432) and Redis (6379) when they answer,
# else its own (Debian's packages, installed when missing), stopped when the tests end.
test: install-test ## install everything and run the whole test suite (PostgreSQL, Redis, Chromium)
	QUEUE_APP_REQUIRE_POSTGRES=1 QUEUE_APP_REQUIRE_REDIS=1 QUEUE_APP_REQUIRE_BROWSER=1 \
		$(BIN)/python -m tests.services -- $(BIN)/pytest -n $(JOBS) --dist worksteal $(T)

# The domain and the API on SQLite: no PostgreSQL, Redis, browser or subprocess server.
FAST_TESTS ?= $(addprefix tests/test_,$(addsuffix .py,api api_input tickets turns one_path \
	policy days idempotency booking day_close device_scope position_wording auth queue_model))
test-fast: install-test ## the domain and API tests on SQLite only (under a minute)
	$(BIN)/pytest -n $(JOBS) -p no:randomly -m "not (browser or postgres or redis or slow)" \
		-k "not postgres" $(FAST_TESTS)

lint: install-test ## ruff, mypy over the whole code, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install-test ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

FUZZ_EXAMPLES ?= 100
fuzz: install-test ## fuzz the live API with schemathesis, every phase (FUZZ_EXAMPLES=100 per operation)
	$(BIN)/python -m tests.fuzzing --max-examples $(FUZZ_EXAMPLES)

bench: install ## run the benchmarks on SQLite and PostgreSQL (prints figures)
	$(BIN)/python bench/issue_tickets.py --dburl sqlite
	$(BIN)/python bench/issue_tickets.py --dburl $(PG_URL)
	$(BIN)/python bench/call_next.py --dburl sqlite
	$(BIN)/python bench/call_next.py --dburl $(PG_URL)
	# Two server processes on the same two cores as PostgreSQL and the load generator.
	$(BIN)/python bench/issue_tickets.py --dburl $(PG_URL) --workers 2 --concurrency 16,32
	$(BIN)/python bench/call_next.py --dburl $(PG_URL) --workers 2
	$(BIN)/python bench/pg_roundtrip.py --dburl $(PG_URL)
	# The cost of a ticket with 1,000 and with 1,000,000 tickets already stored.
	for db in sqlite $(PG_URL); do for n in 1000 1000000; do \
		$(BIN)/python bench/issue_tickets.py --dburl $$db --concurrency 16 --stored $$n || exit 1; \
	done; done
	$(BIN)/python bench/idle_rss.py
	$(BIN)/python bench/sms_outbox.py --dburl sqlite
	$(BIN)/python bench/sms_outbox.py --dburl $(PG_URL)
	$(BIN)/python bench/kiosk_to_paper.py --dburl sqlite
	$(BIN)/python bench/limiter_overhead.py

	$(BIN)/python bench/display_fanout.py --clients 100,1000 --calls 20

.PHONY: voice voice-tools help assets i18n-compile i18n-extract i18n-update install install-test browser demo run \
	worker test test-fast lint lock lock-upgrade fmt bench fonts fuzz
