"""Work outside the test's thread: a real Celery worker (fixtures), a Redis server of the test's own that
it can stop and start, processes whose output goes to a file, the database URL for a subprocess, ``wait_for``.

Test modules load the fixtures with ``pytest_plugins = ["tests.worker"]``. PYTEST_DONT_REWRITE: they
import ``wait_for`` before pytest loads the module as a plugin, and it holds no assert to rewrite.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

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


class Process:
    """A command run in its own process group, its output in a file the test can read while it runs."""

    def __init__(self, command: list[str], env: dict, log: Path, cwd: Path | None = None):
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.alive:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._out.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on a free port, without persistence: stopping it loses its queue and cache,
    as a broker restart without a volume does."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.process: Process | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = Process(command, dict(os.environ), self.log_dir / f"redis-{self.port}.log")
        from redis import Redis

        client = Redis.from_url(self.url, socket_connect_timeout=1)

        def answers():
            try:
                return client.ping()
            except Exception:
                return False

        assert wait_for(answers, timeout=20), self.process.output()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own (never the shared one), not yet started: ``start()`` and ``stop()`` it."""
    if not shutil.which("redis-server"):
        from tests.conftest import service_missing

        service_missing("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def worker_env(requires_postgres, transactional_db, redis_server):
    """The environment docker-compose.yml gives its services (.env.example, production settings), on the test's
    database and its own Redis."""
    from tests.test_compose import compose_env  # here: tests.test_compose imports this module

    return compose_env(redis_server.url)


@pytest.fixture
def compose_worker(worker_env, tmp_path):
    """Starts the worker as docker-compose.yml runs it, in a subprocess (``compose_worker()``); stopped at the end."""
    from tests.test_compose import COMPOSE, ROOT

    started = []

    def start() -> Process:
        worker = Process(COMPOSE["services"]["worker"]["command"], worker_env, tmp_path / "worker.log", cwd=ROOT)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


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
