"""Shared fixtures. In CI (CI=true) a test whose service is missing fails; elsewhere it is skipped."""

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import TeamFactory, UserFactory

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
