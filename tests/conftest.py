"""Shared fixtures. In CI (CI=true) a test whose service is missing fails; elsewhere it is skipped."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.testcases import LiveServerThread

from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, TeamFactory, UserFactory, api_client, api_token
from tests.live_server import SharedConnectionSafeServer

# pytest-django's live_server builds Django's LiveServerThread; on in-memory SQLite it must take one request at a time.
LiveServerThread.server_class = SharedConnectionSafeServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI requires it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def requires_postgres(db):
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL is not configured (set DATABASE_URL)")


@pytest.fixture
def requires_redis():
    if not settings.REDIS_URL:
        service_missing("Redis is not configured (set REDIS_URL)")
    from redis import Redis

    try:
        Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        service_missing(f"Redis at {settings.REDIS_URL} does not answer: {exc}")
    return settings.REDIS_URL


@pytest.fixture
def team(db):
    return TeamFactory(name="Team A")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Team B")


@pytest.fixture
def manager(db):
    return UserFactory(username="mgr", role="manager")


@pytest.fixture
def staff(db, team):
    return UserFactory(username="staff-a", role="staff", teams=[team])


@pytest.fixture
def other_staff(db, other_team):
    return UserFactory(username="staff-b", role="staff", teams=[other_team])


@pytest.fixture
def team_a_goal_with_team_b_items(team, other_team):
    """Team A's goal holding a KPI and a milestone of team B's: deleting it would delete B's items."""
    goal = GoalFactory(owner_team=team)
    KPIFactory(goal=goal, owner_team=other_team)
    MilestoneFactory(goal=goal, owner_team=other_team)
    return goal


@pytest.fixture(params=["token", "session"])
def definer(request, manager):
    """An API client that may change definitions: a manage token, or a manager's session."""
    if request.param == "token":
        _, key = api_token(scope="manage")
        return api_client(key)
    client = api_client()
    client.force_login(manager)
    return client


@pytest.fixture
def reader(db):
    """An API client with a read-only token."""
    _, key = api_token(scope="read")
    return api_client(key)


@pytest.fixture
def writer(db):
    """An API client with a manage token for every team (it records values and changes definitions)."""
    _, key = api_token(scope="manage")
    return api_client(key)


@pytest.fixture
def team_writer(team):
    """An API client with a write token for ``team`` only: it records values and progress."""
    _, key = api_token(scope="write", team=team)
    return api_client(key)


@pytest.fixture
def team_manager(team):
    """An API client with a manage token for ``team`` only: it also changes that team's definitions."""
    _, key = api_token(scope="manage", team=team)
    return api_client(key)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium")
    if not path:
        service_missing("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def page(chromium_path, live_server, monkeypatch):
    """A Playwright page in headless Debian chromium, against pytest-django's live server."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test itself are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def sign_in(page, username: str, password: str = "secret-pass-123") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.fixture(autouse=True)
def _breakers_up():
    """Every test starts with Redis tried at once: a test that trips a breaker (Redis down) would otherwise leave
    the throttles, the sign-in lock or the queue failing open for the next tests of its worker."""
    from plans.failopen import breakers_reset

    breakers_reset()
    yield
    breakers_reset()


@pytest.fixture(scope="session", autouse=True)
def _end_stray_database_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions that server threads left open (the live
    server's request threads, Celery's test worker), or PostgreSQL refuses to drop it."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
