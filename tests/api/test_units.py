"""The ``units`` resource (the reporting-unit register), unit figures in the measurements list, the KPIs' aggregation
fields and the per-unit breakdown of a KPI."""

import datetime

import pytest

from plans import services
from plans.choices import Aggregation, NationalSource, Status
from plans.models import ReportingUnit, UnitAggregate, UnitStatus
from tests.factories import MeasurementFactory, ZoneFactory, api_client
from tests.zone_fixtures import *  # noqa: F403

JUNE = datetime.date(2025, 6, 30)


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


# --- reading the register ---


def test_units_list_the_register_with_parent_codes_and_active_periods(reader, zones):
    response = reader.get("/api/v1/units/")
    rows = {row["code"]: row for row in response.json()["results"]}
    assert set(rows) == {"CN", "AH", "HB", "HEFEI", "WUHU", "WUHAN"}
    assert (rows["HEFEI"]["parent"], rows["HEFEI"]["level"], rows["HEFEI"]["name_zh"]) == ("AH", "zone", "合肥")
    assert rows["CN"]["parent"] is None
    assert (rows["WUHAN"]["active_from"], rows["WUHAN"]["zone_count"]) == ("2025-07-01", 1)


def test_units_filter_by_level_and_parent(reader, zones):
    assert sorted(codes(reader.get("/api/v1/units/", {"level": "province"}))) == ["AH", "HB"]
    assert sorted(codes(reader.get("/api/v1/units/", {"parent": "AH"}))) == ["HEFEI", "WUHU"]
    response = reader.get("/api/v1/units/", {"level": "county"})
    assert response.status_code == 400 and "level" in response.json()
    assert reader.get("/api/v1/units/", {"parent": ""}).status_code == 400


def test_a_zone_reporter_reads_the_whole_register(hefei_reporter, zones):
    assert len(codes(api_client(user=hefei_reporter).get("/api/v1/units/"))) == 6


# --- writing the register ---


def test_a_manager_creates_updates_and_deletes_a_unit(definer, zones):
    body = {"code": "SZ", "name_en": "Shenzhen", "name_zh": "深圳", "level": "zone", "parent": "AH"}
    response = definer.post("/api/v1/units/", body, format="json")
    assert response.status_code == 201, response.content
    unit = ReportingUnit.objects.get(code="SZ")
    assert unit.parent == zones.anhui
    response = definer.patch(
        f"/api/v1/units/{unit.pk}/",
        {"active_until": "2025-12-31", "parent": "HB"},
        format="json",
        headers={"If-Match": response["ETag"]},
    )
    assert response.status_code == 200, response.content
    unit.refresh_from_db()
    assert (unit.parent, unit.active_until, unit.version) == (zones.hubei, datetime.date(2025, 12, 31), 2)
    assert definer.delete(f"/api/v1/units/{unit.pk}/").status_code == 204
    assert not ReportingUnit.objects.filter(code="SZ").exists()


def test_a_unit_code_does_not_change(writer, zones):
    response = writer.patch(f"/api/v1/units/{zones.hefei.pk}/", {"code": "HF"}, format="json")
    assert response.status_code == 200
    zones.hefei.refresh_from_db()
    assert zones.hefei.code == "HEFEI"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"code": "X1", "name_en": "X", "level": "zone", "parent": "CN"}, "parent"),  # a zone under the nation
        ({"code": "X1", "name_en": "X", "level": "zone"}, "non_field_errors"),  # no parent
        ({"code": "X1", "name_en": "X", "level": "zone", "parent": "NOWHERE"}, "parent"),
        ({"code": "HEFEI", "name_en": "X", "level": "zone", "parent": "AH"}, "code"),  # taken
        ({"code": "X1", "name_en": "X", "level": "town", "parent": "AH"}, "level"),
        (
            {"code": "X1", "name_en": "X", "level": "zone", "parent": "AH", "active_from": "2025-06-01"}
            | {"active_until": "2025-01-01"},
            "non_field_errors",
        ),
    ],
)
def test_a_bad_unit_is_400_on_its_field_and_writes_nothing(writer, zones, body, field):
    before = ReportingUnit.objects.count()
    response = writer.post("/api/v1/units/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert ReportingUnit.objects.count() == before


def test_a_unit_with_figures_or_children_cannot_be_deleted(writer, zones, aggregated_kpi):
    MeasurementFactory(kpi=aggregated_kpi, unit=zones.hefei)
    for unit in (zones.hefei, zones.anhui):
        response = writer.delete(f"/api/v1/units/{unit.pk}/")
        assert response.status_code == 400
        assert "end its active period instead" in str(response.json())
    assert ReportingUnit.objects.count() == 6


@pytest.mark.parametrize("who", ["staff", "team token", "zone reporter"])
def test_staff_team_tokens_and_zone_reporters_do_not_write_the_register(who, staff, team_writer, hefei_reporter, zones):
    client = {"staff": api_client(user=staff), "team token": team_writer}.get(who) or api_client(user=hefei_reporter)
    body = {"code": "X1", "name_en": "X", "level": "zone", "parent": "AH"}
    assert client.post("/api/v1/units/", body, format="json").status_code == 403
    assert client.patch(f"/api/v1/units/{zones.hefei.pk}/", {"name_en": "Y"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/units/{zones.wuhu.pk}/").status_code == 403
    assert ReportingUnit.objects.count() == 6 and ReportingUnit.objects.get(code="HEFEI").name_en == "Hefei"


# --- sync: updated_since and tombstones ---


def test_units_sync_by_updated_since_and_deletions_list_their_tombstones(writer, zones):
    since = "2000-01-01T00:00:00Z"
    assert len(codes(writer.get("/api/v1/units/", {"updated_since": since}))) == 6
    later = writer.get("/api/v1/units/").json()["next_updated_since"]
    services.unit_update(unit=zones.wuhu, data={"name_en": "Wuhu Hi-Tech Zone"})
    assert "WUHU" in codes(writer.get("/api/v1/units/", {"updated_since": later}))
    services.unit_delete(unit=zones.wuhu)
    deleted = writer.get("/api/v1/deletions/", {"resource": "units"}).json()["results"]
    assert [(row["resource"], row["item_id"]) for row in deleted] == [("units", zones.wuhu.pk)]


# --- the measurements list: unit and level filters ---


def test_measurements_filter_by_unit_code_and_level(reader, aggregated_kpi, zones):
    national = MeasurementFactory(kpi=aggregated_kpi)
    hefei = MeasurementFactory(kpi=aggregated_kpi, unit=zones.hefei)
    wuhu = MeasurementFactory(kpi=aggregated_kpi, unit=zones.wuhu)

    def ids(**params):
        response = reader.get("/api/v1/measurements/", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(unit="HEFEI") == {hefei.pk}
    assert ids(level="zone") == {hefei.pk, wuhu.pk}
    assert ids(level="nation") == {national.pk}
    assert ids(level="province") == set()
    assert ids(unit="NOWHERE") == set()
    assert reader.get("/api/v1/measurements/", {"level": "county"}).status_code == 400
    assert reader.get("/api/v1/measurements/", {"unit": ""}).status_code == 400


# --- KPIs: the aggregation fields ---


def test_kpis_show_and_take_their_aggregation_fields(definer, aggregated_kpi, ratio_kpi):
    response = definer.patch(
        f"/api/v1/kpis/{ratio_kpi.pk}/",
        {"national_source": "derived", "denominator_kpi": aggregated_kpi.pk, "ratio_scale": 1000},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["aggregation"], body["national_source"], body["denominator_kpi"], body["ratio_scale"]) == (
        Aggregation.RATIO,
        NationalSource.DERIVED,
        aggregated_kpi.pk,
        1000.0,
    )
    assert {"weight_kpi", "base_kpi", "comparison_kpi", "comparison_scale"} <= set(body)


def test_a_bad_aggregation_is_400_and_changes_nothing(definer, ratio_kpi):
    for body in ({"aggregation": "median"}, {"ratio_scale": 0}):
        response = definer.patch(f"/api/v1/kpis/{ratio_kpi.pk}/", body, format="json")
        assert response.status_code == 400, response.content
    ratio_kpi.refresh_from_db()
    assert (ratio_kpi.aggregation, ratio_kpi.ratio_scale) == (Aggregation.RATIO, 100.0)


def test_staff_may_not_change_a_kpis_aggregation(staff, kpi):
    response = api_client(user=staff).patch(f"/api/v1/kpis/{kpi.pk}/", {"aggregation": "sum"}, format="json")
    assert response.status_code == 403


# --- the breakdown by province and zone ---


@pytest.fixture
def breakdown_data(aggregated_kpi, zones):
    services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=3.5, unit=zones.hefei)
    UnitAggregate.objects.create(
        kpi=aggregated_kpi, unit=zones.anhui, period_end=JUNE, value=3.5, reported_zones=1, expected_zones=2
    )
    UnitAggregate.objects.create(
        kpi=aggregated_kpi, unit=zones.nation, period_end=JUNE, value=3.5, reported_zones=1, expected_zones=3
    )
    UnitStatus.objects.create(kpi=aggregated_kpi, unit=zones.hefei, status=Status.ON_TRACK, latest_value=3.5)
    return aggregated_kpi


def test_the_breakdown_gives_each_units_value_coverage_and_status(reader, breakdown_data):
    response = reader.get(f"/api/v1/kpis/{breakdown_data.pk}/breakdown/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period_end"] == "2025-06-30"
    units = {row["unit"]: row for row in body["units"]}
    assert (units["AH"]["value"], units["AH"]["reported_zones"], units["AH"]["expected_zones"]) == (3.5, 1, 2)
    assert (units["HEFEI"]["value"], units["HEFEI"]["status"], units["HEFEI"]["parent"]) == (3.5, "on_track", "AH")
    assert (units["WUHU"]["value"], units["WUHU"]["reported_zones"]) == (None, 0)
    assert units["CN"]["parent"] is None


def test_a_zone_reporters_breakdown_shows_their_zones_only(hefei_reporter, breakdown_data):
    response = api_client(user=hefei_reporter).get(f"/api/v1/kpis/{breakdown_data.pk}/breakdown/")
    assert {row["unit"] for row in response.json()["units"]} == {"CN", "AH", "HB", "HEFEI"}


def test_the_breakdown_of_another_period_and_a_bad_period(reader, breakdown_data):
    url = f"/api/v1/kpis/{breakdown_data.pk}/breakdown/"
    earlier = reader.get(url, {"period_end": "2025-03-31"}).json()
    assert earlier["period_end"] == "2025-03-31"
    assert all(row["value"] is None for row in earlier["units"])
    response = reader.get(url, {"period_end": "June"})
    assert response.status_code == 400 and "period_end" in response.json()


@pytest.mark.parametrize("size", [2, 20])
def test_the_breakdown_costs_the_same_whatever_the_number_of_zones(
    reader, aggregated_kpi, zones, size, django_assert_max_num_queries
):
    for n in range(size):
        zone = ZoneFactory(parent=zones.hubei)
        services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=1.0 + n, unit=zone)
        UnitStatus.objects.create(kpi=aggregated_kpi, unit=zone, status=Status.ON_TRACK)
    UnitAggregate.objects.create(kpi=aggregated_kpi, unit=zones.hubei, period_end=JUNE, value=1.0, reported_zones=size)
    reader.get("/api/v1/teams/")  # records last_used_at, once a minute
    # Token, the token's units, KPI, the latest period (two), units, aggregates, figures, statuses.
    with django_assert_max_num_queries(9):
        response = reader.get(f"/api/v1/kpis/{aggregated_kpi.pk}/breakdown/")
    assert response.status_code == 200
    assert len(response.json()["units"]) == 6 + size
