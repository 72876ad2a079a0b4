# Relay: `make run` serves the dashboard with a worker; `make test` runs every check.
# Both install what they need first (Debian packages, the Python venv, npm packages).

VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# make test runs the suite on PostgreSQL, then on SQLite, then the tests that start workers, servers
# and browsers again in production's shape: PostgreSQL, the Redis broker and every file in an
# S3-compatible bucket (a moto server the suite starts itself, tests/moto.py).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/relay
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Everything make starts is the embedded single-machine stack: an unset SECRET_KEY is generated into
# RELAY_DATA_DIR rather than refused (docs/configuration.md).
RELAY_EMBEDDED ?= true
export HOST PORT RELAY_EMBEDDED

# flite and festival (with two voices) are TTS engines for relayml.realistic's training data. Human
# speech for the verdict model (relayml/realdata/voices.py): Asterisk's prompts in five languages with
# their transcripts (CC-BY-SA / CC-BY: installed, never committed) and pocketsphinx's test recordings.
VOICE_PACKAGES := $(foreach l,en es fr it ru,asterisk-core-sounds-$(l)-wav asterisk-core-sounds-$(l)) pocketsphinx-testdata
APT_PACKAGES := ffmpeg espeak-ng sox libsndfile1 chromium flite festival festvox-kallpc16k festvox-us-slt-hts \
	$(VOICE_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install system-deps static migrate lint format test-postgres test-sqlite test-scaled bench demo clean

run: install static migrate
	$(PY) scripts/serve.py

install: system-deps $(VENV)/.installed

system-deps:
	@missing=""; \
	for cmd in ffmpeg ffprobe espeak-ng sox chromium flite festival; do command -v $$cmd >/dev/null || missing=yes; done; \
	for voice in english/kal_diphone us/cmu_us_slt_arctic_hts; do \
	  [ -d /usr/share/festival/voices/$$voice ] || missing=yes; done; \
	for lang in en es fr it ru; do \
	  [ -f /usr/share/doc/asterisk-core-sounds-$$lang/core-sounds-$$lang.txt.gz ] || missing=yes; done; \
	[ -d /usr/share/asterisk/sounds/en_US_f_Allison ] && [ -d /usr/share/pocketsphinx/test/data ] || missing=yes; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

# The Python client and `relay` command (clients/python) install beside the server: the suite runs them.
$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,tts]' -e clients/python
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

static: node_modules/.package-lock.json
	npm run --silent build

migrate: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v0

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install static lint test-postgres test-sqlite test-scaled

test-postgres:
	@$(PY) scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest $(PYTEST_ARGS)

test-sqlite:
	RELAY_DATA_DIR=$(CURDIR)/var/test-sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-scaled:
	@$(PY) scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	DATABASE_URL="$(TEST_DATABASE_URL)" RELAY_BROKER_URL="$(TEST_REDIS_URL)" RELAY_TEST_S3=true \
		$(PY) -m pytest -m worker $(PYTEST_ARGS)

demo: install migrate
	$(PY) manage.py relay_demo

bench: install
	$(PY) bench/ingest.py
	$(PY) bench/train.py
	$(PY) bench/ui_long_audio.py
	$(PY) bench/infer.py

clean:
	rm -rf var static/vendor node_modules
