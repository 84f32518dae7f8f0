"""One strict reading of numbers (plans/numbers.py) for the web forms and the API, single and bulk."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import formats, timezone, translation

from plans.forms import FiniteFloatField, PercentField
from plans.models import KPI, Measurement, MilestoneUpdate
from plans.numbers import parse_number, rounded
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, api_client, api_token

YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)

# What must never be read as a number: a decimal comma or thousands separator that a lenient parser
# turns into 125 or 1000, a trailing letter, Python's digit-group underscores, and JSON booleans.
REFUSED = [
    ("12,5", "separator"),
    ("1,000", "separator"),
    ("1 000", "separator"),
    ("1\u00a0000", "separator"),
    ("1_000", "separator"),
    ("1'000", "separator"),
    ("7a", "invalid"),
    ("twelve", "invalid"),
    ("１２", "invalid"),  # full-width digits, which float() reads as 12
    ("1.2.3", "invalid"),
    ("0x10", "invalid"),
    (True, "boolean"),
    (False, "boolean"),
    ("nan", "not_finite"),
    ("-Infinity", "not_finite"),
    (float("inf"), "not_finite"),
    ("1e16", "too_large"),
    (10**400, "too_large"),
    ([12], "invalid"),
]
ACCEPTED = [
    ("12.5", 12.5),
    (" 12.5 ", 12.5),
    ("\t-3\n", -3.0),
    ("+4", 4.0),
    (".5", 0.5),
    ("5.", 5.0),
    ("1e3", 1000.0),
    ("1.5E+06", 1.5e6),
    (7, 7.0),
    (2.5, 2.5),
    (Decimal("0.1"), 0.1),
]
WEB_REFUSED = ["12,5", "1,000", "7a", "1_000", "1 000"]
API_REFUSED = ["12,5", "1,000", "7a", "1_000", True, ""]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.mark.parametrize(("text", "code"), REFUSED)
def test_parse_number_refuses_what_is_not_a_plain_number(text, code):
    with pytest.raises(ValidationError) as caught:
        parse_number(text)
    assert caught.value.code == code


@pytest.mark.parametrize(("text", "number"), ACCEPTED)
def test_parse_number_reads_plain_numbers_and_strips_whitespace(text, number):
    assert parse_number(text) == number


@pytest.mark.parametrize("text", [None, "", "   "])
def test_parse_number_leaves_empty_input_to_the_caller(text):
    assert parse_number(text) is None


def test_the_separator_message_says_how_to_write_the_number():
    with pytest.raises(ValidationError) as caught:
        parse_number("12,5")
    assert caught.value.messages == [
        "Write the number without thousands separators or spaces, with “.” as the decimal mark: "
        "for example 1000 or 12.5, not 1,000 or 12,5."
    ]


@pytest.mark.parametrize(("text", "number"), [("50", 50), ("50.0", 50), ("1e2", 100), ("-0", 0)])
def test_whole_numbers_are_read_as_int(text, number):
    assert parse_number(text, kind=int) == number


def test_a_fraction_is_not_a_whole_number():
    with pytest.raises(ValidationError) as caught:
        parse_number("50.5", kind=int)
    assert caught.value.code == "not_integer"


def test_a_huge_exponent_is_refused_without_building_the_integer():
    with pytest.raises(ValidationError) as caught:
        parse_number("1e999999999", kind=int)
    assert caught.value.code == "too_large"


def test_decimals_keep_their_digits():
    assert parse_number("1.10", kind=Decimal) == Decimal("1.10")


def test_a_comma_locale_reads_the_comma_as_the_decimal_mark_and_refuses_the_full_stop():
    assert parse_number("12,5", decimal_separator=",") == 12.5
    with pytest.raises(ValidationError) as caught:
        parse_number("1.000", decimal_separator=",")
    assert caught.value.code == "separator"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_both_languages_write_decimals_with_a_full_stop(language):
    with translation.override(language):
        assert formats.get_format("DECIMAL_SEPARATOR") == "."


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_localized_form_field_does_not_strip_thousands_separators(settings, language):
    # Django's localized FloatField with USE_THOUSAND_SEPARATOR reads "12,5" as 125.
    settings.USE_THOUSAND_SEPARATOR = True
    with translation.override(language), pytest.raises(ValidationError):
        FiniteFloatField(localize=True).clean("12,5")


def test_the_percent_field_refuses_underscores_that_int_would_read():
    with pytest.raises(ValidationError) as caught:
        PercentField().clean("5_0")
    assert caught.value.code == "separator"


# --- the web form ------------------------------------------------------------------------------


@pytest.fixture
def kpi(team):
    return KPIFactory(
        goal=GoalFactory(owner_team=team),
        unit="index points",  # no plausible range: these tests are about parsing, not about ranges
        baseline_date=YESTERDAY - datetime.timedelta(days=365),
        target_date=YESTERDAY + datetime.timedelta(days=365),
    )


def post_measurement(client, kpi, value):
    url = reverse("plans:measurement_create", kwargs={"pk": kpi.pk})
    return client.post(
        url, {"version": kpi.version, "date": YESTERDAY.isoformat(), "value": value, "note": "Checked figure"}
    )


@pytest.mark.django_db
@pytest.mark.parametrize("value", WEB_REFUSED)
def test_the_measurement_form_refuses_numbers_that_are_not_plain_and_writes_nothing(client, staff, kpi, value):
    client.force_login(staff)
    response = post_measurement(client, kpi, value)
    assert response.status_code == 200
    assert response.context["form"].errors["value"]
    assert not Measurement.objects.exists()
    assert KPI.objects.get(pk=kpi.pk).version == kpi.version


@pytest.mark.django_db
def test_the_measurement_form_explains_a_decimal_comma(client, staff, kpi):
    client.force_login(staff)
    response = post_measurement(client, kpi, "12,5")
    assert "without thousands separators" in response.context["form"].errors["value"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "stored"), [(" 12.5 ", 12.5), ("1e3", 1000.0)])
def test_the_measurement_form_accepts_padded_and_scientific_numbers(client, staff, kpi, value, stored):
    client.force_login(staff)
    assert post_measurement(client, kpi, value).status_code == 302
    assert Measurement.objects.get().value == stored


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def team_client(team):
    _, key = api_token(scope="write", team=team)
    return api_client(key)


@pytest.mark.django_db
@pytest.mark.parametrize("value", API_REFUSED, ids=repr)
def test_an_api_measurement_with_a_value_that_is_not_a_number_is_400_and_writes_nothing(team_client, kpi, value):
    response = team_client.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-03-31", "value": value})
    assert response.status_code == 400
    assert list(response.json()) == ["value"]
    assert not Measurement.objects.exists()


@pytest.mark.django_db
def test_the_api_says_a_boolean_is_not_a_number(team_client, kpi):
    response = team_client.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-03-31", "value": True})
    assert "JSON number" in response.json()["value"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "stored"), [(" 12.5 ", 12.5), ("1e3", 1000.0), (12.5, 12.5)])
def test_an_api_measurement_accepts_json_numbers_and_plain_decimal_strings(team_client, kpi, value, stored):
    body = {"kpi": kpi.pk, "date": YESTERDAY.isoformat(), "value": value, "note": "Checked figure"}
    response = team_client.post("/api/v1/measurements/", body)
    assert response.status_code == 201, response.content
    assert Measurement.objects.get().value == stored


@pytest.mark.django_db
@pytest.mark.parametrize("value", API_REFUSED, ids=repr)
def test_a_bulk_row_with_a_value_that_is_not_a_number_rejects_the_batch(team_client, kpi, value):
    rows = [{"kpi": kpi.pk, "date": "2025-01-31", "value": 1.0}, {"kpi": kpi.pk, "date": "2025-02-28", "value": value}]
    response = team_client.post("/api/v1/measurements/bulk/", {"measurements": rows})
    assert response.status_code == 400
    assert list(response.json()["measurements"]) == ["1"]
    assert "value" in response.json()["measurements"]["1"]
    assert not Measurement.objects.exists()


@pytest.mark.django_db
def test_a_bulk_row_refuses_a_boolean_kpi_id(team_client, kpi):
    rows = [{"kpi": True, "date": "2025-01-31", "value": 1.0}]
    response = team_client.post("/api/v1/measurements/bulk/", {"measurements": rows})
    assert response.status_code == 400
    assert "kpi" in response.json()["measurements"]["0"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", API_REFUSED, ids=repr)
def test_a_kpi_target_that_is_not_a_number_is_400_and_unchanged(manager, kpi, value):
    client = api_client()
    client.force_login(manager)
    response = client.patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": value})
    assert response.status_code == 400
    assert list(response.json()) == ["target_value"]
    assert KPI.objects.get(pk=kpi.pk).target_value == kpi.target_value


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["1_0", True, "1,5"], ids=repr)
def test_a_kpi_weight_that_is_not_a_number_is_400(manager, kpi, value):
    client = api_client()
    client.force_login(manager)
    response = client.patch(f"/api/v1/kpis/{kpi.pk}/", {"weight": value})
    assert response.status_code == 400
    assert list(response.json()) == ["weight"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["5_0", True, "50.5"], ids=repr)
def test_milestone_progress_that_is_not_a_whole_number_is_400_and_logs_nothing(team_client, team, value):
    milestone = MilestoneFactory(goal__owner_team=team)
    body = {"milestone": milestone.pk, "percent_complete": value, "state": "in_progress"}
    response = team_client.post("/api/v1/milestone-updates/", body)
    assert response.status_code == 400
    assert list(response.json()) == ["percent_complete"]
    assert not MilestoneUpdate.objects.exists()


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (2.675, 2, "2.68"),  # half up on the figure as written, not on its binary 2.67499...
        (-0.05, 1, "-0.1"),
        (19.3, 2, "19.30"),  # keeps its decimals, so a file shows exactly the KPI's precision
        (34999.5, 0, "35000"),
        (12, 1, "12.0"),
        (Decimal("1.25"), 1, "1.3"),
    ],
)
def test_rounded_rounds_half_up_and_keeps_the_decimals(value, places, expected):
    assert str(rounded(value, places)) == expected


def test_rounded_leaves_none_and_what_it_cannot_round():
    assert rounded(None, 2) is None
    assert rounded(1e300, 2) == 1e300  # too many digits to carry two decimals
    assert rounded(float("nan"), 1) != rounded(float("nan"), 1)  # still NaN, not an error
