"""Zone reporters and unit figures: a Hefei reporter records Hefei's figures (web and API) and nothing else, reads
only Hefei's among the units' figures; managers see and write every unit; derived values are written by nobody."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from plans import services
from plans.choices import MeasurementSource
from plans.models import ApiToken, Measurement
from tests.factories import MeasurementFactory, UserFactory, api_client, api_token
from tests.zone_fixtures import *  # noqa: F403

JUNE = datetime.date(2025, 6, 30)


def rows() -> list[tuple]:
    return sorted(Measurement.objects.values_list("kpi_id", "unit_id", "date", "source", "value", "version"), key=repr)


def post(client, kpi, **body):
    return client.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-06-30", **body}, format="json")


@pytest.fixture
def hefei_api(hefei_reporter):
    return api_client(user=hefei_reporter)


# --- the service: measurement_record with a unit ---


def test_a_zones_figure_is_kept_beside_the_national_figure_of_the_same_date(aggregated_kpi, zones):
    services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=70.0)
    services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=3.5, unit=zones.hefei)
    services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=3.7, unit=zones.hefei)  # revises Hefei's
    assert Measurement.objects.national().get().value == 70.0
    hefei = Measurement.objects.of_units().get()
    assert (hefei.unit, hefei.value, hefei.version) == (zones.hefei, 3.7, 2)


def test_a_zones_first_figure_is_not_judged_against_the_national_baseline(aggregated_kpi, zones):
    # The KPI's baseline (60) is the nation's: Hefei's 3.5 is no jump.
    result = services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=3.5, unit=zones.hefei)
    assert result.outcome == "created"


def test_a_unit_not_active_on_the_date_is_refused_and_nothing_written(aggregated_kpi, zones):
    with pytest.raises(ValidationError) as error:
        services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=1.0, unit=zones.wuhan)
    assert "not an active reporting unit" in str(error.value.message_dict["unit"])
    assert rows() == []


def test_a_kpi_that_does_not_aggregate_takes_no_units_figure(national_only_kpi, zones):
    with pytest.raises(ValidationError) as error:
        services.measurement_record(kpi=national_only_kpi, date=JUNE, value=1.0, unit=zones.hefei)
    assert "reported for the nation only" in str(error.value.message_dict["unit"])
    assert rows() == []


def test_the_nation_is_no_unit_of_a_figure(aggregated_kpi, zones):
    with pytest.raises(ValidationError) as error:
        services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=70.0, unit=zones.nation)
    assert "without a unit" in str(error.value.message_dict["unit"])


def test_a_ratio_kpis_unit_figure_needs_its_numerator(ratio_kpi, zones):
    with pytest.raises(ValidationError) as error:
        services.measurement_record(kpi=ratio_kpi, date=JUNE, value=30.0, unit=zones.hefei)
    assert "numerator" in error.value.message_dict
    assert rows() == []


def test_a_ratio_kpis_value_is_its_numerator_over_its_denominator(ratio_kpi, zones):
    result = services.measurement_record(
        kpi=ratio_kpi, date=JUNE, value=None, numerator=330.0, denominator=1000.0, unit=zones.hefei
    )
    assert (result.measurement.value, result.measurement.numerator) == (33.0, 330.0)
    with pytest.raises(ValidationError) as error:
        services.measurement_record(
            kpi=ratio_kpi, date=JUNE, value=50.0, numerator=330.0, denominator=1000.0, unit=zones.wuhu
        )
    assert "numerator over the denominator" in str(error.value.message_dict["value"])


def test_only_a_ratio_kpi_takes_a_numerator(aggregated_kpi, zones):
    with pytest.raises(ValidationError) as error:
        services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=1.0, numerator=1.0, unit=zones.hefei)
    assert "Only a ratio KPI" in str(error.value.message_dict["numerator"])


def test_derived_values_are_neither_written_nor_deleted(aggregated_kpi):
    with pytest.raises(ValidationError):
        services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=1.0, source=MeasurementSource.DERIVED)
    derived = MeasurementFactory(kpi=aggregated_kpi, source=MeasurementSource.DERIVED)
    with pytest.raises(ValidationError):
        services.measurement_delete(measurement=derived)
    assert Measurement.objects.filter(pk=derived.pk).exists()


# --- the API: what a Hefei reporter may write ---


def test_a_hefei_reporter_records_hefeis_figure_on_a_kpi_of_another_team(hefei_api, aggregated_kpi, zones):
    response = post(hefei_api, aggregated_kpi, unit="HEFEI", value=3.5)
    assert response.status_code == 201, response.content
    assert response.json()["unit"] == "HEFEI"
    assert Measurement.objects.get().unit == zones.hefei


@pytest.mark.parametrize("unit", ["WUHU", None], ids=["another zone", "national"])
def test_a_hefei_reporter_may_not_record_another_zones_or_the_national_figure(hefei_api, aggregated_kpi, unit):
    body = {"value": 3.5, **({"unit": unit} if unit else {})}
    response = post(hefei_api, aggregated_kpi, **body)
    assert response.status_code == 403
    assert "reporting units" in response.json()["detail"]
    assert rows() == []


def test_a_kpi_that_does_not_aggregate_is_400_with_the_reason(hefei_api, national_only_kpi):
    response = post(hefei_api, national_only_kpi, unit="HEFEI", value=3.5)
    assert response.status_code == 400
    assert "reported for the nation only" in response.json()["unit"][0]
    assert rows() == []


def test_an_unknown_unit_code_is_400_on_the_field(hefei_api, aggregated_kpi):
    response = post(hefei_api, aggregated_kpi, unit="NOWHERE", value=3.5)
    assert response.status_code == 400
    assert "NOWHERE" in response.json()["unit"][0]


def test_a_hefei_reporter_may_not_revise_or_delete_the_national_or_a_derived_figure(hefei_api, aggregated_kpi, zones):
    national = MeasurementFactory(kpi=aggregated_kpi)
    derived = MeasurementFactory(kpi=aggregated_kpi, source=MeasurementSource.DERIVED, date=datetime.date(2025, 3, 31))
    before = rows()
    for row in (national, derived):
        assert hefei_api.patch(f"/api/v1/measurements/{row.pk}/", {"value": 1}, format="json").status_code == 403
        assert hefei_api.delete(f"/api/v1/measurements/{row.pk}/").status_code == 403
    assert rows() == before


def test_nobody_writes_a_derived_figure_through_the_api(manager, aggregated_kpi):
    derived = MeasurementFactory(kpi=aggregated_kpi, source=MeasurementSource.DERIVED)
    client = api_client(user=manager)
    response = client.patch(f"/api/v1/measurements/{derived.pk}/", {"value": 1}, format="json")
    assert response.status_code == 403
    assert "derived" in response.json()["detail"]
    assert client.delete(f"/api/v1/measurements/{derived.pk}/").status_code == 403
    assert Measurement.objects.get().value == derived.value


def test_a_hefei_reporter_revises_and_deletes_hefeis_figure(hefei_api, aggregated_kpi, zones):
    figure = services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=3.5, unit=zones.hefei).measurement
    response = hefei_api.patch(f"/api/v1/measurements/{figure.pk}/", {"value": 3.6}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["unit"] == "HEFEI"
    assert hefei_api.delete(f"/api/v1/measurements/{figure.pk}/").status_code == 204
    assert rows() == []


def test_a_manager_records_any_units_figure_and_the_national_one(manager, aggregated_kpi, zones):
    client = api_client(user=manager)
    assert post(client, aggregated_kpi, unit="WUHU", value=2.0).status_code == 201
    assert post(client, aggregated_kpi, value=70.0).status_code == 201
    assert {unit for _, unit, *_ in rows()} == {zones.wuhu.pk, None}


def test_team_staff_still_record_their_teams_national_figure_but_no_units(other_staff, aggregated_kpi, zones):
    client = api_client(user=other_staff)
    response = post(client, aggregated_kpi, unit="HEFEI", value=3.5)
    assert response.status_code == 403
    assert "reporters and by managers" in response.json()["detail"]
    assert rows() == []
    response = post(client, aggregated_kpi, value=70.0)
    assert response.status_code == 201, response.content


def test_a_team_token_without_units_feeds_every_zone_of_its_teams_kpis(other_team, aggregated_kpi, zones):
    _, key = api_token(scope="write", team=other_team)
    response = bulk(
        api_client(key),
        {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 3.5},
        {"kpi": aggregated_kpi.pk, "unit": "WUHU", "date": "2025-06-30", "value": 2.0},
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2


# --- the API: what a Hefei reporter reads ---


@pytest.fixture
def figures(aggregated_kpi, zones):
    national = services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=70.0).measurement
    hefei = services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=3.5, unit=zones.hefei).measurement
    wuhu = services.measurement_record(kpi=aggregated_kpi, date=JUNE, value=2.0, unit=zones.wuhu).measurement
    return national, hefei, wuhu


def listed(client, **params) -> set[int]:
    response = client.get("/api/v1/measurements/", params)
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def test_a_hefei_reporter_reads_the_national_and_hefeis_figures_only(hefei_api, figures):
    national, hefei, wuhu = figures
    assert listed(hefei_api) == {national.pk, hefei.pk}
    assert listed(hefei_api, updated_since="2000-01-01T00:00:00Z") == {national.pk, hefei.pk}
    assert hefei_api.get(f"/api/v1/measurements/{wuhu.pk}/").status_code == 404
    assert hefei_api.get(f"/api/v1/measurements/{hefei.pk}/").status_code == 200


def test_a_manager_and_staff_read_every_units_figures(manager, staff, figures):
    for user in (manager, staff):
        assert listed(api_client(user=user)) == {row.pk for row in figures}


def test_a_token_with_units_reads_and_writes_only_its_units(aggregated_kpi, zones, figures):
    national, hefei, wuhu = figures
    _, key = api_token(scope="write", units=[zones.hefei])
    client = api_client(key)
    assert listed(client) == {national.pk, hefei.pk}
    assert post(client, aggregated_kpi, unit="WUHU", value=2.5).status_code == 403
    assert post(client, aggregated_kpi, value=71.0).status_code == 403
    response = post(client, aggregated_kpi, unit="HEFEI", value=3.6)
    assert response.status_code == 201, response.content  # from the API: beside the figure entered on the web
    assert Measurement.objects.get(pk=wuhu.pk).value == 2.0


# --- the bulk endpoint ---


def bulk(client, *rows):
    return client.post("/api/v1/measurements/bulk/", {"measurements": list(rows)}, format="json")


def test_bulk_rows_name_their_unit_by_code(hefei_api, aggregated_kpi, ratio_kpi, zones):
    response = bulk(
        hefei_api,
        {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-03-31", "value": 3.1},
        {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 3.5},
        {"kpi": ratio_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "numerator": 33, "denominator": 100},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0}
    ratio = Measurement.objects.get(kpi=ratio_kpi)
    assert (ratio.unit, ratio.value, ratio.numerator, ratio.denominator) == (zones.hefei, 33.0, 33.0, 100.0)
    assert bulk(hefei_api, {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 3.5}).json() == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
    }


def test_bulk_with_an_unknown_unit_code_is_that_rows_error_and_writes_nothing(hefei_api, aggregated_kpi):
    response = bulk(
        hefei_api,
        {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 3.5},
        {"kpi": aggregated_kpi.pk, "unit": "NOWHERE", "date": "2025-06-30", "value": 3.5},
    )
    assert response.status_code == 400
    assert set(response.json()["measurements"]) == {"1"}
    assert "NOWHERE" in response.json()["measurements"]["1"]["unit"][0]
    assert rows() == []


@pytest.mark.parametrize("unit", ["WUHU", None], ids=["another zone", "national"])
def test_bulk_with_a_row_of_another_zone_or_the_nation_is_403_and_writes_nothing(hefei_api, aggregated_kpi, unit):
    other = {"kpi": aggregated_kpi.pk, "date": "2025-06-30", "value": 3.5, **({"unit": unit} if unit else {})}
    response = bulk(hefei_api, {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 3.5}, other)
    assert response.status_code == 403
    assert "Rows 1" in response.json()["detail"]
    assert rows() == []


def test_bulk_applies_the_unit_rules_by_row(manager, zones, aggregated_kpi, national_only_kpi):
    response = bulk(
        api_client(user=manager),
        {"kpi": aggregated_kpi.pk, "unit": "WUHAN", "date": "2025-06-30", "value": 1.0},
        {"kpi": national_only_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 1.0},
        {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 1.0},
    )
    assert response.status_code == 400
    errors = response.json()["measurements"]
    assert set(errors) == {"0", "1"}, errors
    assert "not an active reporting unit" in errors["0"]["unit"][0]
    assert "nation only" in errors["1"]["unit"][0]
    assert rows() == []


def test_bulk_keeps_a_zones_figure_and_the_national_one_of_a_date_apart(manager, aggregated_kpi, zones):
    response = bulk(
        api_client(user=manager),
        {"kpi": aggregated_kpi.pk, "date": "2025-06-30", "value": 70.0},
        {"kpi": aggregated_kpi.pk, "unit": "HEFEI", "date": "2025-06-30", "value": 3.5},
        {"kpi": aggregated_kpi.pk, "unit": "WUHU", "date": "2025-06-30", "value": 2.0},
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3


# --- the web form ---


def form_url(kpi) -> str:
    return reverse("plans:measurement_create", kwargs={"pk": kpi.pk})


def test_a_hefei_reporters_form_records_hefeis_figure(client, hefei_reporter, aggregated_kpi, zones):
    client.force_login(hefei_reporter)
    page = client.get(form_url(aggregated_kpi))
    assert page.status_code == 200
    assert page.context["form"].fields["unit"].disabled  # one unit: fixed
    response = client.post(
        form_url(aggregated_kpi), {"version": aggregated_kpi.version, "date": "2025-06-30", "value": "3.5", "unit": ""}
    )
    assert response.status_code == 302
    assert Measurement.objects.get().unit == zones.hefei
    assert "Hefei: Measurement saved" in client.get(response["Location"]).content.decode()


def test_a_hefei_reporter_has_no_form_for_a_kpi_that_does_not_aggregate(client, hefei_reporter, national_only_kpi):
    client.force_login(hefei_reporter)
    assert client.get(form_url(national_only_kpi)).status_code == 403
    data = {"version": national_only_kpi.version, "date": "2025-06-30", "value": "3.5"}
    assert client.post(form_url(national_only_kpi), data).status_code == 403
    assert rows() == []


def test_a_reporter_of_two_zones_picks_one_and_no_other(client, hefei_reporter, aggregated_kpi, zones):
    zones.wuhu.reporters.add(hefei_reporter)
    client.force_login(hefei_reporter)
    data = {"version": aggregated_kpi.version, "date": "2025-06-30", "value": "2.0"}
    response = client.post(form_url(aggregated_kpi), {**data, "unit": zones.wuhan.pk})
    assert response.status_code == 200
    assert "your own reporting units" in str(response.context["form"].errors["unit"])
    response = client.post(form_url(aggregated_kpi), {**data, "unit": ""})
    assert response.status_code == 200 and "unit" in response.context["form"].errors  # no national figure
    assert rows() == []
    assert client.post(form_url(aggregated_kpi), {**data, "unit": zones.wuhu.pk}).status_code == 302
    assert Measurement.objects.get().unit == zones.wuhu


def test_a_manager_records_a_units_figure_or_the_national_one_on_the_form(client, manager, aggregated_kpi, zones):
    client.force_login(manager)
    data = {"date": "2025-06-30", "value": "2.0"}
    assert client.post(form_url(aggregated_kpi), {**data, "version": 1, "unit": zones.wuhu.pk}).status_code == 302
    aggregated_kpi.refresh_from_db()
    response = client.post(form_url(aggregated_kpi), {**data, "version": aggregated_kpi.version, "value": "70"})
    assert response.status_code == 302
    assert {unit for _, unit, *_ in rows()} == {zones.wuhu.pk, None}


def test_staff_forms_stay_national_only(client, other_staff, aggregated_kpi):
    client.force_login(other_staff)
    assert "unit" not in client.get(form_url(aggregated_kpi)).context["form"].fields


def test_the_kpi_page_offers_the_form_to_a_zone_reporter(client, hefei_reporter, aggregated_kpi):
    client.force_login(hefei_reporter)
    kpi_page = client.get(reverse("plans:dashboard_kpi", args=[aggregated_kpi.plan.slug, aggregated_kpi.code]))
    assert form_url(aggregated_kpi) in kpi_page.content.decode()
    staff_without_team = UserFactory(username="no-team", role="staff")
    client.force_login(staff_without_team)
    kpi_page = client.get(reverse("plans:dashboard_kpi", args=[aggregated_kpi.plan.slug, aggregated_kpi.code]))
    assert form_url(aggregated_kpi) not in kpi_page.content.decode()


def test_create_api_token_scopes_a_token_to_units(zones):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token", "--name", "Hefei platform", "--scope", "write", "--unit", "HEFEI", stdout=out, stderr=err
    )
    assert list(ApiToken.objects.get(name="Hefei platform").units.all()) == [zones.hefei]
    with pytest.raises(CommandError, match="NOWHERE"):
        call_command("create_api_token", "--name", "x", "--scope", "write", "--unit", "NOWHERE", stdout=out, stderr=err)


def test_a_zone_reporters_my_work_lists_the_kpis_they_record_figures_for(
    client, hefei_reporter, aggregated_kpi, national_only_kpi
):
    client.force_login(hefei_reporter)
    page = client.get(reverse("plans:my_work")).content.decode()
    assert "Hefei" in page and form_url(aggregated_kpi) in page
    assert form_url(national_only_kpi) not in page
    assert "not a member of any team" not in page
