"""Settings read from the environment: embedded defaults and overrides (checked in fresh processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'cache': s.CACHES['default']['BACKEND'], "
    "'debug': s.DEBUG, 'tz': s.TIME_ZONE, 'use_tz': s.USE_TZ, 'lang': s.LANGUAGE_CODE, 'hosts': s.ALLOWED_HOSTS}))"
)
CLEARED = ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "TIME_ZONE", "LANGUAGE_CODE")


def settings_in_process(module: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    base.update(DJANGO_SETTINGS_MODULE=module, **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True)


def read(module: str, **env) -> dict:
    result = settings_in_process(module, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_are_sqlite_in_the_project_folder_and_in_process_celery():
    s = read("tracker.settings.local")
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(ROOT / "db.sqlite3")
    assert s["eager"] is True
    assert s["broker"] == "memory://"
    assert s["cache"].endswith("LocMemCache")
    assert (s["debug"], s["tz"], s["use_tz"], s["lang"]) == (True, "Asia/Shanghai", True, "en")


def test_database_and_redis_urls_override_the_defaults():
    s = read(
        "tracker.settings.local",
        DATABASE_URL="postgres://u:p@db.example:5432/tracker",
        REDIS_URL="redis://cache.example:6379/1",
        TIME_ZONE="UTC",
        LANGUAGE_CODE="zh-hans",
        DJANGO_ALLOWED_HOSTS="tracker.example",
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["name"] == "tracker"
    assert s["eager"] is False
    assert s["broker"] == "redis://cache.example:6379/1"
    assert s["cache"].endswith("RedisCache")
    assert (s["tz"], s["lang"], s["hosts"]) == ("UTC", "zh-hans", ["tracker.example"])


def test_secret_key_is_required_when_debug_is_off():
    result = settings_in_process("tracker.settings.production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x9!k2$" * 10,
    "DJANGO_ALLOWED_HOSTS": "tracker.example",
    "DJANGO_DEBUG": "off",
    "DATABASE_URL": "postgres://tracker@db.example:5432/tracker",
    "REDIS_URL": "redis://cache.example:6379/0",
}


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_its_services(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = settings_in_process("tracker.settings.production", **env)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_settings_start_with_their_services():
    assert read("tracker.settings.production", **PRODUCTION_ENV)["engine"] == "django.db.backends.postgresql"


def test_deploy_check_reports_no_warnings_with_production_variables():
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="tracker.settings.production")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def env_example() -> dict:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def deploy_check(**variables) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(variables)
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_deploy_check_fails_on_the_placeholder_secret_of_env_example():
    result = deploy_check(**env_example())
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_deploy_check_accepts_env_example_once_its_secret_is_replaced():
    result = deploy_check(**{**env_example(), "DJANGO_SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"]})
    assert "security.W009" not in result.stdout + result.stderr


@pytest.mark.parametrize("module", ["tracker.settings.local", "tracker.settings.test"])
def test_non_production_settings_need_no_environment(module):
    assert settings_in_process(module).returncode == 0


def test_production_static_files_collect_with_the_manifest_storage(tmp_path):
    """Every vendored file and stylesheet reference resolves (a missing source map would fail here)."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="tracker.settings.production", DJANGO_STATIC_ROOT=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("vendor/chartjs/chart.umd.min.*.js"))


def test_visibility_timeout_outlasts_every_task_and_redelivers_within_minutes():
    """Redis redelivers an unacknowledged task (its worker was killed) after the visibility timeout."""
    from django.conf import settings

    from tracker.celery import app

    limits = [task.time_limit for name, task in app.tasks.items() if name.startswith("plans.")]
    longest = max([settings.CELERY_TASK_TIME_LIMIT, *filter(None, limits)])
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert longest < timeout < 15 * 60
