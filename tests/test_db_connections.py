"""Database connections: kept per web process and health-checked, closed around every Celery task, JIT off."""

import json
import os
import subprocess
import sys

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from plans.tasks import plan_recompute_task
from tests.test_settings import CLEARED, ROOT
from tracker.celery import app as celery_app

CONN_PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "d = s.DATABASES['default']; print(json.dumps([d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d.get('OPTIONS', {})]))"
)


def conn_settings(probe=CONN_PROBE, **env) -> list:
    """[CONN_MAX_AGE, CONN_HEALTH_CHECKS, OPTIONS] as a fresh process reads them (local settings)."""
    base = {k: v for k, v in os.environ.items() if k not in (*CLEARED, "DJANGO_CONN_MAX_AGE")}
    base.update(DJANGO_SETTINGS_MODULE="tracker.settings.local", **env)
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=base, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_web_processes_keep_their_connection_a_minute_and_check_it_before_reuse():
    max_age, health_checks, _options = conn_settings()
    assert (max_age, health_checks) == (60, True)


def test_connection_age_is_overridable():
    assert conn_settings(DJANGO_CONN_MAX_AGE="0")[0] == 0


def test_asgi_keeps_no_persistent_connections():
    probe = "import tracker.asgi, json; from django.conf import settings as s; " + CONN_PROBE.split("; ", 2)[2]
    assert conn_settings(probe=probe)[0] == 0


def test_jit_is_switched_off_in_the_connection_options_keeping_the_urls_own():
    _age, _checks, options = conn_settings(DATABASE_URL="postgres://u@db.example:5432/t?options=-c%20work_mem%3D8MB")
    assert options["options"] == "-c work_mem=8MB -c jit=off"
    assert "options" not in conn_settings(DATABASE_URL="sqlite:///x.sqlite3")[2]


def test_app_connections_run_without_jit(requires_postgres):
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@pytest.mark.django_db(transaction=True)
def test_celery_worker_closes_the_connection_around_every_task_whatever_its_age(requires_postgres):
    """Celery's Django fixup (installed by the worker) closes connections before and after each task, so a
    worker idle for hours never runs a task on a connection the server has dropped. PostgreSQL only: Django
    never closes the in-memory SQLite database of the tests (it would lose it)."""
    assert "celery.fixups.django:fixup" in celery_app.fixups
    fixup = DjangoWorkerFixup(celery_app)
    for hook in (fixup.on_task_prerun, fixup.on_task_postrun):
        connection.ensure_connection()
        assert connection.connection is not None
        hook(sender=plan_recompute_task)
        assert connection.connection is None
