"""The API lists' filters: an empty or unreadable value is a 400, an id that names nothing an empty page."""

import pytest

from tests.factories import KPIFactory


@pytest.mark.parametrize("query", ["plan=", "status=", "owner_team=", "external_id=", "updated_since=", "plan=1&plan="])
def test_an_empty_filter_value_is_refused(writer, query):
    KPIFactory()
    response = writer.get(f"/api/v1/kpis/?{query}")
    assert response.status_code == 400
    assert response.json()[query.split("=")[0]] == ["This value may not be blank."]


@pytest.mark.parametrize("value", ["maybe", "TRUE", "yes", "1", "0"])
def test_a_boolean_filter_is_true_or_false(writer, value):
    assert writer.get(f"/api/v1/kpis/?stale={value}").status_code == 400


@pytest.mark.parametrize("value", ["true", "false"])
def test_a_boolean_filter_reads_true_and_false(writer, value):
    assert writer.get(f"/api/v1/kpis/?stale={value}").status_code == 200


@pytest.mark.parametrize("name", ["focus_area", "owner_team"])
def test_an_id_filter_naming_nothing_gives_an_empty_page(writer, name):
    KPIFactory()
    response = writer.get(f"/api/v1/kpis/?{name}=999999")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_focus_area_filter_still_selects_its_items(writer):
    kpi, _other = KPIFactory(), KPIFactory()
    rows = writer.get(f"/api/v1/kpis/?focus_area={kpi.goal.focus_area_id}").json()["results"]
    assert [row["id"] for row in rows] == [kpi.pk]


def test_an_id_that_is_not_a_number_gets_the_api_json_404(writer):
    response = writer.get("/api/v1/goals/0.5/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("url", ["/api/v1/goals/%C2%B3/", "/api/v1/kpis/?focus_area=%C2%B3"])
def test_a_unicode_digit_is_not_an_id(writer, url):
    assert writer.get(url).status_code in (400, 404)


def test_a_unicode_digit_is_not_a_related_id(writer, kpi):
    response = writer.post("/api/v1/measurements/", {"kpi": "³", "date": "2025-01-31", "value": 1}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["4063", "yes"])
def test_the_submissions_national_filter_is_true_or_false(writer, value):
    assert writer.get(f"/api/v1/submissions/?national={value}").status_code == 400
    assert writer.get("/api/v1/submissions/?national=true").status_code == 200
