"""ETags on reads: If-None-Match is answered 304 until the rows behind the response change."""

import pytest
from django.utils import timezone

from plans.models import KPI
from tests.factories import KPIFactory


def test_a_detail_is_not_modified_until_the_item_changes(writer, kpi):
    url = f"/api/v1/kpis/{kpi.pk}/"
    first = writer.get(url)
    etag = first["ETag"]
    again = writer.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b"" and again["ETag"] == etag
    assert writer.get(url, HTTP_IF_NONE_MATCH=f'W/{etag}, "other"').status_code == 304
    assert writer.patch(url, {"name": "Renamed"}, HTTP_IF_MATCH=etag).status_code == 200
    changed = writer.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["name"] == "Renamed"
    assert changed["ETag"] != etag


def test_a_recomputed_status_changes_the_etag_though_the_version_stays(writer, kpi):
    """The status engine rewrites computed fields without a new version; a cached copy must not survive it."""
    url = f"/api/v1/kpis/{kpi.pk}/"
    etag = writer.get(url)["ETag"]
    KPI.objects.filter(pk=kpi.pk).update(status="off_track", computed_at=timezone.now())
    response = writer.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["status"] == "off_track"
    # ...and an update sent with the tag read before the recompute is not refused: the definition is unchanged.
    assert writer.patch(url, {"name": "Renamed"}, HTTP_IF_MATCH=etag).status_code == 200


def test_the_detail_etag_differs_with_the_expanded_fields(writer, kpi):
    url = f"/api/v1/kpis/{kpi.pk}/"
    etag = writer.get(url)["ETag"]
    assert writer.get(url, {"expand": "explanation"}, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_list_page_is_not_modified_until_one_of_its_rows_changes(reader, kpi):
    other = KPIFactory(goal=kpi.goal)
    first = reader.get("/api/v1/kpis/")
    etag = first["ETag"]
    assert reader.get("/api/v1/kpis/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    KPI.objects.filter(pk=other.pk).update(computed_at=timezone.now())
    assert reader.get("/api/v1/kpis/", HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize("change", ["added", "deleted"])
def test_a_list_page_changes_its_etag_when_a_row_comes_or_goes(reader, kpi, change):
    etag = reader.get("/api/v1/kpis/")["ETag"]
    if change == "added":
        KPIFactory(goal=kpi.goal)
    else:
        KPI.objects.filter(pk=kpi.pk).delete()
    assert reader.get("/api/v1/kpis/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_list_etags_differ_by_query(reader, kpi):
    plain = reader.get("/api/v1/kpis/")["ETag"]
    assert reader.get("/api/v1/kpis/", {"expand": "explanation"})["ETag"] != plain
    assert reader.get("/api/v1/kpis/", {"page_size": 5})["ETag"] != plain


def test_a_not_modified_page_costs_no_more_queries_than_a_full_one(reader, kpi, django_assert_max_num_queries):
    etag = reader.get("/api/v1/kpis/")["ETag"]
    with django_assert_max_num_queries(2):  # the token and the page's rows
        assert reader.get("/api/v1/kpis/", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_if_match_takes_the_tags_of_before_digests_were_added(writer, kpi):
    legacy = f'"kpi-{kpi.pk}-{kpi.version}"'
    assert writer.patch(f"/api/v1/kpis/{kpi.pk}/", {"name": "X"}, HTTP_IF_MATCH=legacy).status_code == 200
