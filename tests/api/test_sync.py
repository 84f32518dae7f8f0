"""Incremental sync: updated_since, keyset pages that stay correct while others write, and the deletions feed."""

import datetime
from urllib.parse import quote

import pytest
from django.utils import timezone

from plans.api.pagination import SYNC_OVERLAP
from plans.models import KPI
from tests.factories import GoalFactory, KPIFactory


def sync(client, url: str) -> tuple[list[dict], str | None]:
    """Follow next links to the end; returns all rows and the next_updated_since of the last page."""
    rows = []
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.content
        rows += page.json()["results"]
        url, since = page.json()["next"], page.json()["next_updated_since"]
    return rows, since


def test_updated_since_returns_only_rows_changed_since(writer):
    old, recent = KPIFactory(), KPIFactory()
    KPI.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=2))
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    rows = writer.get("/api/v1/kpis/", {"updated_since": since}).json()["results"]
    assert [row["id"] for row in rows] == [recent.pk]


def test_updated_since_must_be_a_date_time(writer):
    assert writer.get("/api/v1/kpis/?updated_since=yesterday").status_code == 400


def test_pages_follow_updated_at_then_id(writer):
    goal = GoalFactory()
    kpis = [KPIFactory(goal=goal) for _ in range(7)]
    KPI.objects.update(updated_at=timezone.now())  # equal timestamps: id breaks the tie
    first = writer.get("/api/v1/kpis/?page_size=3").json()
    assert [row["id"] for row in first["results"]] == [k.pk for k in kpis[:3]]
    assert first["next_updated_since"] is None
    rows, _ = sync(writer, "/api/v1/kpis/?page_size=3")
    assert [row["id"] for row in rows] == [k.pk for k in kpis]


def test_writes_and_deletions_between_pages_are_neither_skipped_nor_lost(writer):
    goal = GoalFactory()
    kpis = [KPIFactory(goal=goal) for _ in range(6)]
    start = timezone.now() - datetime.timedelta(minutes=1)
    page = writer.get("/api/v1/kpis/", {"page_size": 2, "updated_since": start.isoformat()}).json()
    seen = [row["id"] for row in page["results"]]
    # Between pages: an already-seen row and an unseen row change, one unseen row is deleted, one is created.
    writer.patch(f"/api/v1/kpis/{kpis[0].pk}/", {"name": "changed after it was read"})
    writer.patch(f"/api/v1/kpis/{kpis[4].pk}/", {"name": "changed before it was read"})
    writer.delete(f"/api/v1/kpis/{kpis[3].pk}/")
    new = KPIFactory(goal=goal)
    rows, next_since = sync(writer, page["next"])
    seen += [row["id"] for row in rows]
    alive = {k.pk for k in kpis} - {kpis[3].pk} | {new.pk}
    assert alive <= set(seen)
    assert seen.count(kpis[0].pk) == 2  # seen again with its new version
    latest = {row["id"]: row for row in rows}
    assert latest[kpis[4].pk]["name"] == "changed before it was read"
    deletions, _ = sync(writer, f"/api/v1/deletions/?updated_since={quote(start.isoformat())}")
    assert [(row["resource"], row["item_id"]) for row in deletions] == [("kpis", kpis[3].pk)]
    assert next_since is not None


def test_next_updated_since_reaches_back_by_the_overlap(writer):
    kpi = KPIFactory()
    rows, since = sync(writer, "/api/v1/kpis/")
    assert datetime.datetime.fromisoformat(since) == KPI.objects.get(pk=kpi.pk).updated_at - SYNC_OVERLAP


def test_a_second_sync_returns_only_what_changed(writer):
    goal = GoalFactory()
    kpis = [KPIFactory(goal=goal) for _ in range(3)]
    for hours, kpi in zip((3, 2, 1), kpis, strict=True):
        KPI.objects.filter(pk=kpi.pk).update(updated_at=timezone.now() - datetime.timedelta(hours=hours))
    _, since = sync(writer, "/api/v1/kpis/")
    writer.patch(f"/api/v1/kpis/{kpis[0].pk}/", {"name": "new name"})
    rows, _ = sync(writer, f"/api/v1/kpis/?updated_since={quote(since)}")
    # kpis[2] again because of the overlap (harmless for an upsert by id); kpis[1] is not sent again.
    assert [row["id"] for row in rows] == [kpis[2].pk, kpis[0].pk]


def test_recording_a_measurement_brings_its_kpi_into_the_next_sync(writer):
    kpi = KPIFactory()
    KPI.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    since = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()
    assert writer.get("/api/v1/kpis/", {"updated_since": since}).json()["results"] == []
    writer.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-01-31", "value": 61.0})
    assert [row["id"] for row in writer.get("/api/v1/kpis/", {"updated_since": since}).json()["results"]] == [kpi.pk]


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjogMX0", "WyJub3QtYS1kYXRlIiwgMV0"])
def test_an_invalid_cursor_is_400(writer, cursor):
    assert writer.get(f"/api/v1/kpis/?cursor={cursor}").status_code == 400


@pytest.mark.parametrize("size", ["0", "1001", "many"])
def test_an_invalid_page_size_is_400(writer, size):
    assert writer.get(f"/api/v1/kpis/?page_size={size}").status_code == 400


def test_deleting_a_goal_lists_everything_it_took_with_it(writer):
    kpi = KPIFactory()
    writer.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-01-31", "value": 61.0})
    writer.delete(f"/api/v1/goals/{kpi.goal_id}/")
    rows, _ = sync(writer, f"/api/v1/deletions/?plan={kpi.plan_id}")
    assert sorted(row["resource"] for row in rows) == ["goals", "kpis", "measurements"]


@pytest.mark.parametrize(
    "since", ["0567-07-18T09:24:17-17:59", "3434-10-05T00:14:54+14:00", "0001-01-01T00:00:00+14:00"]
)
def test_extreme_time_zone_offsets_in_updated_since_are_handled(writer, since):
    response = writer.get("/api/v1/kpis/", {"updated_since": since})
    assert response.status_code in (200, 400)
    assert writer.get("/api/v1/kpis/").status_code == 200  # the connection is still usable
