# The two commands: `make run` (set up everything and serve the demo) and `make test` (set up and run the suite).
# DATABASE_URL / REDIS_URL, when set, are used by both; without them: SQLite and in-process Celery.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs on every core (pytest-xdist); each worker has its own test database and Redis database.
PYTEST_ARGS ?= -n auto

.PHONY: run test install install-dev lock browser catalogue migrate demo worker lint format messages clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Dependencies come from the hash-pinned locks (every transitive package, so a fresh machine gets the same
# set); the project itself is installed without dependencies. A sentinel reruns its step when its lock changes.
$(VENV)/.installed: $(VENV)/bin/python requirements/lock.txt pyproject.toml
	$(PY) -m pip install --quiet --require-hashes -r requirements/lock.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/bin/python requirements/dev-lock.txt pyproject.toml
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev-lock.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Regenerate the locks from pyproject.toml (after changing a pin there). pip-tools runs from a venv of its
# own, so neither it nor its dependencies end up in the project's venv or in the locks; the dev lock is
# constrained by the runtime lock, so `make run` and `make test` install the same runtime versions.
LOCK_VENV ?= /tmp/action-plan-tracker-lock-venv
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/pip install --quiet pip-tools==7.6.2; }
	$(PIP_COMPILE) -o requirements/lock.txt pyproject.toml
	$(PIP_COMPILE) --extra dev -c requirements/lock.txt -o requirements/dev-lock.txt pyproject.toml

# The translations are compiled from locale/*/django.po by Babel (pure Python: no gettext needed to serve them);
# the .mo files are build output, not committed.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))
locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	$(VENV)/bin/pybabel compile --domain django --directory locale --locale $* --statistics

catalogue: $(MO_FILES)

# Browser tests drive Debian's chromium through Playwright (its own browser download fails offline); screenshots of
# Chinese pages need CJK fonts; the catalogue test extracts the app's strings with gettext's xgettext.
SYSTEM_PACKAGES = chromium chromium-driver fonts-noto-cjk gettext
browser:
	@{ command -v chromium && command -v xgettext && fc-list :lang=zh | grep -q .; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null) \
	      || echo "warning: could not install $(SYSTEM_PACKAGES); browser and catalogue tests will not run"; \
	  else echo "warning: apt-get install $(SYSTEM_PACKAGES) first; browser and catalogue tests will not run"; fi; }

migrate: install catalogue
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
	  $(VENV)/bin/celery -A tracker worker --beat --loglevel=INFO --concurrency=2 --without-gossip --without-mingle --without-heartbeat & \
	  trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT); \
	else \
	  $(PY) manage.py runserver $(HOST):$(PORT); \
	fi

test: install-dev catalogue browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

worker: install catalogue
	$(VENV)/bin/celery -A tracker worker --beat --loglevel=INFO --without-gossip --without-mingle --without-heartbeat

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
