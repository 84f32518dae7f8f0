"""Work outside the test's thread: a real Celery worker (fixtures), the database URL for a subprocess, ``wait_for``.

Test modules load the fixtures with ``pytest_plugins = ["tests.worker"]``. PYTEST_DONT_REWRITE: they
import ``wait_for`` before pytest loads the module as a plugin, and it holds no assert to rewrite.
"""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_prerun
from django.core.cache import cache
from django.db import connection, connections

from plans.tasks import plan_recompute_task
from tracker.celery import app as celery_app


def wait_for(condition, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def database_url() -> str:
    """The test database, for a subprocess that must see the rows the test wrote."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker(requires_postgres, requires_redis, transactional_db):
    """An in-process Celery worker consuming the real Redis broker (emptied first, for isolation)."""
    cache.clear()

    def close_thread_connections(**kwargs):
        connections.close_all()  # the worker thread's own connections, or the test database cannot be dropped

    task_postrun.connect(close_thread_connections, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_thread_connections)


@pytest.fixture
def task_runs():
    """The arguments of each run of the recompute task, as the worker starts it."""
    runs = []

    def count(sender=None, **kwargs):
        if getattr(sender, "name", None) == plan_recompute_task.name:
            runs.append(kwargs.get("args"))

    task_prerun.connect(count, weak=False)
    yield runs
    task_prerun.disconnect(count)
