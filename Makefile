# The two commands: `make run` (set up everything and serve the demo) and `make test` (set up and run the suite).
# DATABASE_URL / REDIS_URL, when set, are used by both; without them: SQLite and in-process Celery.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install install-dev browser migrate demo worker lint format messages clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Browser tests drive Debian's chromium through Playwright (its own browser download fails offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will not run"; \
	  else echo "warning: chromium is not installed (apt-get install chromium); browser tests will not run"; fi; }

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo_plan
	$(PY) manage.py recompute_rollups --backfill

run: demo
	@echo ""
	@echo "Open http://$(HOST):$(PORT)/ and sign in as manager / manager-demo-2025 (dashboards, admin for superusers)"
	@echo "or as a staff user such as staff.rd / staff-demo-2025 (My work). API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo ""
	@if [ -n "$$REDIS_URL" ]; then \
	  echo "Starting a Celery worker (with beat) on $$REDIS_URL"; \
	  $(VENV)/bin/celery -A tracker worker --beat --loglevel=INFO --concurrency=2 & \
	  trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT); \
	else \
	  $(PY) manage.py runserver $(HOST):$(PORT); \
	fi

test: install-dev browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A tracker worker --beat --loglevel=INFO

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=benchmarks --ignore=tests

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
