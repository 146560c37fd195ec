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

# The texts are written in English; fr holds every text; wo holds the SMS texts only, written by
# hand (an office corrects them there; tests/test_sms_texts.py checks each SMS text has its
# Wolof), so it is not updated from the template.
i18n-update: i18n-extract ## merge new messages into the French catalogue
	$(BIN)/pybabel -q update -i queue_app/translations/messages.pot -d queue_app/translations \
		-l fr --width 100

# The built-in French voice of the displays (recorded clips joined when the browser has
# no voice): generated offline by espeak-ng and sox into display/static/voice/ (git-ignored),
# which the wheel includes. Without root (or password-less sudo) the tools are not
# installed: the install goes on without the clips, and says so.
VOICE_LANGUAGES ?= fr
VOICE_DIR ?= display/static/voice
VOICE_STAMP := $(VOICE_DIR)/.built
HAVE_VOICE_TOOLS = command -v espeak-ng >/dev/null && command -v sox >/dev/null \
	&& sox -h 2>/dev/null | grep -q ' vorbis'

voice-tools: ## install espeak-ng and sox (Debian) when missing: they make the voice clips
	@if ! { $(HAVE_VOICE_TOOLS); }; then \
		tools/apt-install.sh "the displays' built-in voice (recorded clips of the calls, made by espeak-ng and sox)" \
			espeak-ng sox libsox-fmt-base || true; \
	fi

$(VOICE_STAMP): display/build_voice.py | $(BIN)/activate
	@$(MAKE) --no-print-directory voice-tools
	@if { $(HAVE_VOICE_TOOLS); }; then \
		echo "$(BIN)/python display/build_voice.py --out $(VOICE_DIR) $(VOICE_LANGUAGES)"; \
		$(BIN)/python display/build_voice.py --out $(VOICE_DIR) $(VOICE_LANGUAGES) && touch $@; \
	else \
		echo "Going on without the voice clips: the displays speak with the browser's own voice"; \
		echo "when it has one for the office's language, and show the calls silently otherwise."; \
		echo "Once espeak-ng and sox are installed, 'make voice' makes the clips."; \
	fi

voice: $(VOICE_STAMP) ## generate the display's built-in voice clips (espeak-ng + sox)

install: $(VENV)/.installed assets voice i18n-compile fonts ## install the application (virtualenv, npm assets, voice clips, catalogues, fonts)

install-test: install $(VENV)/.installed-test browser ## install everything the tests need

# The browser tests drive this Chromium (tests/conftest.py).
CHROMIUM ?= /usr/bin/chromium
browser: ## install Debian's Chromium for the browser tests when missing
	@if [ ! -x $(CHROMIUM) ]; then \
		tools/apt-install.sh "the browser tests, which drive Chromium ($(CHROMIUM))" \
			chromium fonts-dejavu-core fonts-liberation \
		|| echo "Going on without Chromium: the browser tests fail until it is installed."; \
	fi

DEJAVU ?= /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
fonts: ## install Debian's DejaVu fonts (tickets print text a code page lacks, e.g. Wolof ŋ, as images)
	@if [ ! -f $(DEJAVU) ]; then \
		tools/apt-install.sh "printing on tickets the letters a printer's code page lacks (Wolof ŋ, Fula ɓ), drawn with DejaVu Sans" \
			fonts-dejavu-core \
		|| echo "Going on without DejaVu: such letters are drawn with Pillow's own font, which may lack them."; \
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

docs: $(VENV)/.installed-test ## build the documentation (MkDocs, offline, --strict) into site/
	$(BIN)/mkdocs build --strict --site-dir site

bench: install ## run the benchmarks on SQLite and PostgreSQL (long: prints figures)
	# Each figure beside GET /healthz on the same server in the same run.
	for db in sqlite $(PG_URL); do \
		$(BIN)/python bench/issue_tickets.py --dburl $$db || exit 1; \
		$(BIN)/python bench/issue_tickets.py --dburl $$db --kiosk printing --services 4 || exit 1; \
		$(BIN)/python bench/call_next.py --dburl $$db --concurrency 4 --services 4 || exit 1; \
		$(BIN)/python bench/booking.py --dburl $$db --concurrency 100 || exit 1; \
	done
	# The embedded server (queue-app run): one client's kept-alive /healthz and ticket
	# p50 first, then the same bars.
	for db in sqlite $(PG_URL); do \
		$(BIN)/python bench/issue_tickets.py --server embedded --dburl $$db --concurrency 1 --num 500 || exit 1; \
		$(BIN)/python bench/issue_tickets.py --server embedded --dburl $$db --concurrency 8,32 \
			--kiosk printing --services 4 || exit 1; \
		$(BIN)/python bench/call_next.py --server embedded --dburl $$db --services 4 || exit 1; \
		$(BIN)/python bench/booking.py --server embedded --dburl $$db || exit 1; \
	done
	# Two server processes on the same two cores as PostgreSQL and the load generator.
	$(BIN)/python bench/issue_tickets.py --dburl $(PG_URL) --workers 2 --concurrency 16,32
	$(BIN)/python bench/call_next.py --dburl $(PG_URL) --workers 2 --services 4
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

bench-quick: install ## the benchmark scripts with small numbers (checks they run; figures mean little)
	for server in gevent embedded; do \
		$(BIN)/python bench/issue_tickets.py --server $$server --num 50 --concurrency 1,4 || exit 1; \
		$(BIN)/python bench/issue_tickets.py --server $$server --num 50 --concurrency 4 \
			--kiosk printing --services 2 || exit 1; \
		$(BIN)/python bench/call_next.py --server $$server --num 40 --services 4 || exit 1; \
		$(BIN)/python bench/booking.py --server $$server --num 200 --capacity 1 || exit 1; \
	done
	$(BIN)/python bench/booking.py --dburl $(PG_URL) --num 200 --capacity 1
	$(BIN)/python bench/call_next.py --dburl $(PG_URL) --num 40 --services 4

.PHONY: voice voice-tools help assets i18n-compile i18n-extract i18n-update install install-test browser demo run \
	worker test test-fast lint lock lock-upgrade fmt bench bench-quick fonts fuzz docs
