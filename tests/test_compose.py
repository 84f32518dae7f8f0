"""docker-compose.yml smoke test without a container engine: run the web, worker and beat commands
exactly as written there, with the compose environment (.env.example) mapped to the local services."""

import datetime
import os
import shelve
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.core.cache import cache

from plans.models import KPI, Plan
from plans.tasks import plan_recompute_task
from tests.factories import KPIFactory, MeasurementFactory
from tests.worker import database_url, wait_for

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_env(redis_url: str) -> dict:
    env = dict(os.environ)
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env.update(DATABASE_URL=database_url(), REDIS_URL=redis_url)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    return env


def start(service: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        COMPOSE["services"][service]["command"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


@pytest.fixture
def env(requires_postgres, requires_redis, transactional_db):
    cache.clear()
    return compose_env(requires_redis)


def test_compose_defines_the_deployment_services_with_healthchecks():
    services = COMPOSE["services"]
    assert {"db", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    assert services["db"]["image"].startswith("postgres:16")
    assert all("healthcheck" in services[name] for name in ("db", "redis", "web", "worker", "beat"))
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["beat"]["deploy"]["replicas"] == 1


def test_web_command_serves_healthz(env):
    web = start("web", env)
    try:

        def healthy():
            try:
                return urllib.request.urlopen("http://127.0.0.1:8000/healthz", timeout=2).read() == b"ok"
            except OSError:
                return False

        assert wait_for(healthy, timeout=30), stop(web)
    finally:
        stop(web)


def test_worker_command_executes_a_task_sent_to_it(env):
    kpi = KPIFactory(baseline_value=60, target_value=80)
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 6, 30), value=90)
    worker = start("worker", env)
    try:
        plan_recompute_task.delay(kpi.plan_id)
        assert wait_for(lambda: KPI.objects.get(pk=kpi.pk).status == "achieved", timeout=45), stop(worker)
        assert Plan.objects.get(pk=kpi.plan_id).status == "achieved"
    finally:
        stop(worker)


def test_beat_command_starts_and_schedules_the_nightly_recompute(env):
    command = COMPOSE["services"]["beat"]["command"]
    schedule_file = Path(next(arg.split("=", 1)[1] for arg in command if arg.startswith("--schedule=")))
    for leftover in schedule_file.parent.glob(schedule_file.name + "*"):
        leftover.unlink()
    beat = start("beat", env)
    try:
        assert wait_for(lambda: any(schedule_file.parent.glob(schedule_file.name + "*")), timeout=30)
        time.sleep(2)
    finally:
        output = stop(beat)
    assert "beat: Starting" in output
    with shelve.open(str(schedule_file), flag="r") as db:
        assert "recompute-all-plans-nightly" in db["entries"]
