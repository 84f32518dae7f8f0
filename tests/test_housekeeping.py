"""Nightly housekeeping as a scheduled task, and the deletion feed once tombstones are past retention.

What housekeeping_run deletes and keeps is tested in tests/services/test_housekeeping.py.
"""

import datetime

import pytest
from django.utils import timezone

from plans.tasks import housekeeping
from tests.factories import api_client, api_token
from tracker.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_housekeeping_runs_nightly_as_a_task():
    assert celery_app.conf.beat_schedule["housekeeping-nightly"]["task"] == "plans.tasks.housekeeping"
    assert housekeeping() == {"idempotency_keys": 0, "tombstones": 0, "daily_snapshots": 0}


def test_deletion_feed_asks_for_a_full_resync_past_the_retention(settings):
    settings.TRACKER_TOMBSTONE_RETENTION_DAYS = 30
    _, key = api_token(scope="read")
    client = api_client(key)
    too_old = (timezone.now() - datetime.timedelta(days=31)).isoformat()
    recent = (timezone.now() - datetime.timedelta(days=29)).isoformat()
    assert client.get("/api/v1/deletions/", {"updated_since": too_old}).status_code == 410
    assert client.get("/api/v1/deletions/", {"updated_since": recent}).status_code == 200
    assert client.get("/api/v1/deletions/").status_code == 200


def test_a_malformed_deletion_query_is_refused_before_its_sync_is_judged_too_old(settings):
    settings.TRACKER_TOMBSTONE_RETENTION_DAYS = 30
    _, key = api_token(scope="read")
    too_old = (timezone.now() - datetime.timedelta(days=31)).isoformat()
    client = api_client(key)
    response = client.get("/api/v1/deletions/", {"updated_since": too_old, "resource": ""})
    assert response.status_code == 400 and "resource" in response.json()
    response = client.get("/api/v1/deletions/", {"updated_since": too_old, "page_size": "null"})
    assert response.status_code == 400 and "page_size" in response.json()
