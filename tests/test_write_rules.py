"""One rule, every channel: the measurement and milestone rules of the services hold for the staff forms,
the API (token and session, single and bulk), the admin and the plan import.

Each channel gets the same corpus of bad input and must answer with an error (400, or the form's error)
and leave every row as it was.
"""

import datetime
import json

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from plans import services
from plans.choices import MilestoneState
from plans.models import KPI, Measurement, MeasurementRevision, Milestone, MilestoneUpdate, Plan
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, UserFactory, api_client, api_token

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
TOMORROW = (TODAY + datetime.timedelta(days=1)).isoformat()
GOOD_DATE = "2025-03-31"
BAD_DATE = "2025-06-30"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def kpi(team):
    """A share from 60% to 80% in 2025, quarterly: its typical change is 5 points, a jump is over 25."""
    return KPIFactory(
        goal=GoalFactory(owner_team=team), unit="%", min_value=0, max_value=100, external_id="K-1", source="bureau"
    )


@pytest.fixture
def milestone(team):
    return MilestoneFactory(goal=GoalFactory(owner_team=team), percent_complete=50, state=MilestoneState.IN_PROGRESS)


# (id, value as JSON text, value as typed in a form, value as read from a plan file, date, note,
#  field of the error, words of the service's message or None where the parsing refuses it first)
MEASUREMENT_BAD = [
    ("nan", '"NaN"', "NaN", float("nan"), BAD_DATE, "", "value", None),
    ("infinity", '"Infinity"', "Infinity", float("inf"), BAD_DATE, "", "value", None),
    ("overflow", "1e309", "1e309", 1e309, BAD_DATE, "", "value", None),
    ("true", "true", "true", True, BAD_DATE, "", "value", None),
    ("text", '"7a"', "7a", "7a", BAD_DATE, "", "value", None),
    ("underscore", '"1_000"', "1_000", "1_000", BAD_DATE, "", "value", None),
    ("list", "[]", "[]", [], BAD_DATE, "", "value", None),
    ("control_in_note", "62", "62", 62.0, BAD_DATE, "Bureau\x1b[0m figure", "note", "control character U+001B"),
    ("out_of_range", "170", "170", 170.0, BAD_DATE, "", "value", "outside this KPI's plausible range, 0 to 100"),
    ("below_range", "-0.5", "-0.5", -0.5, BAD_DATE, "a note", "value", "outside this KPI's plausible range"),
    ("future", "70", "70", 70.0, TOMORROW, "", "date", "cannot be in the future"),
    ("before_baseline", "70", "70", 70.0, "2024-06-30", "", "date", "after the KPI's baseline date"),
    ("on_baseline", "70", "70", 70.0, "2024-12-31", "", "date", "after the KPI's baseline date"),
    ("jump_without_note", "95", "95", 95.0, BAD_DATE, "", "note", "Confirm with a note: 61 -> 95"),
    ("jump_blank_note", "95", "95", 95.0, BAD_DATE, "   ", "note", "Confirm with a note: 61 -> 95"),
]
MEASUREMENT_IDS = [case[0] for case in MEASUREMENT_BAD]


def measurement_rows() -> tuple:
    """Everything a refused measurement must leave as it was."""
    return (
        Measurement.objects.count(),
        MeasurementRevision.objects.count(),
        sorted(KPI.objects.values_list("id", "version")),
        sorted(Plan.objects.values_list("id", "data_revision")),
    )


def with_good_measurement(kpi):
    """The KPI's 2025-03-31 value, 61: the jump cases move from it."""
    services.measurement_record(kpi=kpi, date=datetime.date.fromisoformat(GOOD_DATE), value=61.0)
    kpi.refresh_from_db()


def assert_message(errors: dict, field: str, words: str | None):
    assert field in errors, errors
    if words:
        assert any(words in str(message) for message in errors[field]), errors[field]


def json_body(**fields) -> str:
    """A JSON object whose values are given as JSON text, so NaN, 1e309 and true go out exactly as typed."""
    return "{" + ", ".join(f"{json.dumps(name)}: {text}" for name, text in fields.items()) + "}"


# --- measurements: the staff form ---


@pytest.mark.parametrize(
    "case, value_json, value_form, value_py, date, note, field, words", MEASUREMENT_BAD, ids=MEASUREMENT_IDS
)
def test_measurement_form_refuses_bad_input_and_writes_nothing(
    client, staff, kpi, case, value_json, value_form, value_py, date, note, field, words
):
    with_good_measurement(kpi)
    client.force_login(staff)
    before = measurement_rows()
    response = client.post(
        reverse("plans:measurement_create", kwargs={"pk": kpi.pk}),
        {"version": kpi.version, "date": date, "value": value_form, "note": note},
    )
    assert response.status_code == 200
    assert_message(response.context["form"].errors, field, words)
    assert measurement_rows() == before


# --- measurements: the API, one at a time, with a token and with a session ---


@pytest.fixture(params=["token", "session"])
def api(request, staff):
    if request.param == "token":
        _, key = api_token(scope="write")
        return api_client(key)
    client = api_client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "case, value_json, value_form, value_py, date, note, field, words", MEASUREMENT_BAD, ids=MEASUREMENT_IDS
)
def test_measurement_api_refuses_bad_input_with_400_and_writes_nothing(
    api, kpi, case, value_json, value_form, value_py, date, note, field, words
):
    with_good_measurement(kpi)
    before = measurement_rows()
    body = json_body(kpi=str(kpi.pk), date=json.dumps(date), value=value_json, note=json.dumps(note))
    response = api.post("/api/v1/measurements/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert_message(response.json(), field, words)
    assert measurement_rows() == before


@pytest.mark.parametrize(
    "case, value_json, value_form, value_py, date, note, field, words",
    [case for case in MEASUREMENT_BAD if case[6] != "date"],  # a revision keeps its date
    ids=[case[0] for case in MEASUREMENT_BAD if case[6] != "date"],
)
def test_measurement_api_revision_refuses_bad_values_with_400_and_writes_nothing(
    api, kpi, case, value_json, value_form, value_py, date, note, field, words
):
    with_good_measurement(kpi)
    measurement = services.measurement_record(
        kpi=kpi, date=datetime.date.fromisoformat(BAD_DATE), value=62.0, source="api"
    ).measurement
    before = measurement_rows()
    body = json_body(value=value_json, note=json.dumps(note))
    response = api.patch(f"/api/v1/measurements/{measurement.pk}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert_message(response.json(), field, words)
    assert measurement_rows() == before


# --- measurements: the bulk endpoint, good and bad rows mixed ---


@pytest.mark.parametrize(
    "case, value_json, value_form, value_py, date, note, field, words", MEASUREMENT_BAD, ids=MEASUREMENT_IDS
)
def test_bulk_with_one_bad_row_is_400_for_that_row_and_writes_nothing(
    api, kpi, case, value_json, value_form, value_py, date, note, field, words
):
    before = measurement_rows()
    good = json_body(kpi=str(kpi.pk), date=json.dumps(GOOD_DATE), value="61")
    bad = json_body(kpi=str(kpi.pk), date=json.dumps(date), value=value_json, note=json.dumps(note))
    later = json_body(kpi_external_id='"K-1"', date=json.dumps("2025-09-30"), value="63", note='"third quarter"')
    response = api.post(
        "/api/v1/measurements/bulk/", f'{{"measurements": [{good}, {bad}, {later}]}}', content_type="application/json"
    )
    assert response.status_code == 400, response.content
    errors = response.json()["measurements"]
    assert set(errors) == {"1"}
    assert_message(errors["1"], field, words)
    assert measurement_rows() == before


def test_bulk_judges_a_jump_against_the_rows_before_it_in_the_same_body(api, kpi):
    rows = [
        {"kpi": kpi.pk, "date": "2025-03-31", "value": 61},
        {"kpi": kpi.pk, "date": "2025-06-30", "value": 95},
        {"kpi": kpi.pk, "date": "2025-09-30", "value": 96},
    ]
    response = api.post("/api/v1/measurements/bulk/", {"measurements": rows})
    assert response.status_code == 400
    assert set(response.json()["measurements"]) == {"1"}
    assert not Measurement.objects.exists()


# --- measurements: the plan import ---


def plan_file(kpi_fields: dict | None = None, milestone_fields: dict | None = None) -> dict:
    """A plan file with one goal holding one KPI and one milestone, each given ``*_fields``."""
    kpi = {
        "code": "K-SHARE",
        "name": "Zones' share of national output",
        "unit": "%",
        "baseline_value": 60,
        "baseline_date": "2024-12-31",
        "target_value": 80,
        "target_date": "2025-12-31",
        "frequency": "quarterly",
        "measurements": [[GOOD_DATE, 61]],
        **(kpi_fields or {}),
    }
    milestone = {"title": "Open the incubator", "due_date": "2025-12-31", **(milestone_fields or {})}
    goal = {"code": "G-1", "title": "Grow", "owner_team": "Team A", "kpis": [kpi], "milestones": [milestone]}
    plan = {
        "slug": "imported",
        "name": "Imported plan",
        "baseline_year": 2024,
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
    }
    return {"teams": ["Team A"], "plan": plan, "focus_areas": [{"code": "FA", "name": "Area", "goals": [goal]}]}


def all_rows() -> tuple:
    return (
        Plan.objects.count(),
        KPI.objects.count(),
        Milestone.objects.count(),
        MilestoneUpdate.objects.count(),
        *measurement_rows(),
    )


def test_a_good_plan_file_imports_with_its_units_range(db):
    plan, changed = services.plan_import(data=plan_file())
    assert changed
    assert (plan.kpis.get().min_value, plan.kpis.get().max_value) == (0, 100)


def test_a_plan_file_sets_a_kpis_decimals_and_one_without_them_keeps_them(db):
    plan, _changed = services.plan_import(data=plan_file({"decimals": 1}))
    assert plan.kpis.get().decimals == 1
    _plan, changed = services.plan_import(data=plan_file())
    assert not changed and plan.kpis.get().decimals == 1


def test_a_plan_file_with_too_many_decimals_is_refused_and_writes_nothing(db):
    before = all_rows()
    with pytest.raises(ValidationError) as raised:
        services.plan_import(data=plan_file({"decimals": 7}))
    assert "decimals" in raised.value.message_dict
    assert all_rows() == before and not Plan.objects.exists()


@pytest.mark.parametrize(
    "case, value_json, value_form, value_py, date, note, field, words", MEASUREMENT_BAD, ids=MEASUREMENT_IDS
)
def test_plan_import_with_a_bad_measurement_raises_and_writes_nothing(
    db, case, value_json, value_form, value_py, date, note, field, words
):
    before = all_rows()
    data = plan_file({"measurements": [[GOOD_DATE, 61], [date, value_py]], "measurement_note": note})
    with pytest.raises(ValidationError) as raised:
        services.plan_import(data=data)
    errors = raised.value.message_dict
    # The file's measurement_note is every row's: a note refused for its characters is found on the first row.
    where = GOOD_DATE if case == "control_in_note" else date
    assert_message({field: errors[f"K-SHARE {where}: {field}"]}, field, words)
    assert all_rows() == before


# --- measurements: the admin offers no way to write one ---


def test_admin_has_no_add_or_change_form_for_measurements(client, kpi):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    with_good_measurement(kpi)
    before = measurement_rows()
    measurement = Measurement.objects.get()
    add = client.post(reverse("admin:plans_measurement_add"), {"kpi": kpi.pk, "date": TOMORROW, "value": "170"})
    change = client.post(reverse("admin:plans_measurement_change", args=[measurement.pk]), {"value": "170"})
    assert (add.status_code, change.status_code) == (403, 403)
    assert measurement_rows() == before


# --- milestones ---

# (id, percent as JSON text, percent as typed in a form, percent in a plan file, state, note, field, words)
MILESTONE_BAD = [
    ("done_below_100", "90", "90", 90, "done", "", "percent_complete", "A done milestone is 100% complete"),
    ("blocked_without_note", "50", "50", 50, "blocked", "", "note", "Explain what blocks the milestone"),
    ("blocked_blank_note", "55", "55", 55, "blocked", "  ", "note", "Explain what blocks the milestone"),
    ("drop_without_note", "40", "40", 40, "in_progress", "", "note", "goes down from 50% to 40%"),
    ("above_100", "101", "101", 101, "in_progress", "", "percent_complete", None),
    ("negative", "-1", "-1", -1, "in_progress", "", "percent_complete", None),
    ("true", "true", "true", True, "in_progress", "", "percent_complete", None),
    ("text", '"7a"', "7a", "7a", "in_progress", "", "percent_complete", None),
    ("nan", '"NaN"', "NaN", float("nan"), "in_progress", "", "percent_complete", None),
    ("list", "[]", "[]", [], "in_progress", "", "percent_complete", None),
    ("control_in_note", "60", "60", 60, "in_progress", "Half\x7f done", "note", "control character U+007F"),
]
MILESTONE_IDS = [case[0] for case in MILESTONE_BAD]
MILESTONE_RULES = [case for case in MILESTONE_BAD if case[7]]  # the service's rules, past the parsing


def milestone_rows() -> tuple:
    return (
        sorted(Milestone.objects.values_list("id", "percent_complete", "state", "version", "completed_on")),
        MilestoneUpdate.objects.count(),
        sorted(Plan.objects.values_list("id", "data_revision")),
    )


@pytest.mark.parametrize(
    "case, percent_json, percent_form, percent_py, state, note, field, words", MILESTONE_BAD, ids=MILESTONE_IDS
)
def test_milestone_form_refuses_bad_input_and_writes_nothing(
    client, staff, milestone, case, percent_json, percent_form, percent_py, state, note, field, words
):
    client.force_login(staff)
    before = milestone_rows()
    response = client.post(
        reverse("plans:milestone_update", kwargs={"pk": milestone.pk}),
        {"version": milestone.version, "percent_complete": percent_form, "state": state, "note": note},
    )
    assert response.status_code == 200
    assert_message(response.context["form"].errors, field, words)
    assert milestone_rows() == before


@pytest.mark.parametrize(
    "case, percent_json, percent_form, percent_py, state, note, field, words", MILESTONE_BAD, ids=MILESTONE_IDS
)
def test_milestone_update_api_refuses_bad_input_with_400_and_writes_nothing(
    api, milestone, case, percent_json, percent_form, percent_py, state, note, field, words
):
    before = milestone_rows()
    body = json_body(milestone=str(milestone.pk), percent_complete=percent_json, state=json.dumps(state))
    if note:
        body = body[:-1] + f', "note": {json.dumps(note)}}}'
    response = api.post("/api/v1/milestone-updates/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert_message(response.json(), field, words)
    assert milestone_rows() == before


@pytest.mark.parametrize(
    "case, percent_json, percent_form, percent_py, state, note, field, words", MILESTONE_BAD, ids=MILESTONE_IDS
)
def test_milestone_patch_api_refuses_bad_input_with_400_and_writes_nothing(
    api, milestone, case, percent_json, percent_form, percent_py, state, note, field, words
):
    before = milestone_rows()
    body = json_body(percent_complete=percent_json, state=json.dumps(state), note=json.dumps(note))
    response = api.patch(f"/api/v1/milestones/{milestone.pk}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert_message(response.json(), field, words)
    assert milestone_rows() == before


def test_milestone_patch_api_to_blocked_with_a_note_logs_the_note(api, milestone):
    response = api.patch(f"/api/v1/milestones/{milestone.pk}/", {"state": "blocked", "note": "No permit yet."})
    assert response.status_code == 200, response.content
    assert (milestone.updates.get().state, milestone.updates.get().note) == ("blocked", "No permit yet.")


def test_milestone_create_api_refuses_done_below_100(definer, milestone):
    before = milestone_rows()
    body = {
        "goal": milestone.goal_id,
        "title": "New",
        "due_date": "2025-12-31",
        "percent_complete": 20,
        "state": "done",
    }
    response = definer.post("/api/v1/milestones/", body)
    assert response.status_code == 400
    assert_message(response.json(), "percent_complete", "A done milestone is 100% complete")
    assert milestone_rows() == before


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def milestone_admin_form(milestone, **changes) -> dict:
    data = {
        "goal": milestone.goal_id,
        "title": milestone.title,
        "description": "",
        "owner_team": milestone.owner_team_id,
        "start_date": "",
        "due_date": milestone.due_date.isoformat(),
        "weight": "1",
        "percent_complete": milestone.percent_complete,
        "state": milestone.state,
        "completed_on": "",
        "source": "",
        "external_id": "",
        "note": "",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    "case, percent_json, percent_form, percent_py, state, note, field, words", MILESTONE_BAD, ids=MILESTONE_IDS
)
def test_milestone_admin_change_shows_the_error_and_writes_nothing(
    admin_client, milestone, case, percent_json, percent_form, percent_py, state, note, field, words
):
    before = milestone_rows()
    response = admin_client.post(
        reverse("admin:plans_milestone_change", args=[milestone.pk]),
        milestone_admin_form(milestone, percent_complete=percent_form, state=state, note=note),
    )
    assert response.status_code == 200
    assert_message(response.context["adminform"].form.errors, field, words)
    assert milestone_rows() == before


# A new milestone starts from 0%, so its progress cannot go down.
MILESTONE_ADD_RULES = [case for case in MILESTONE_RULES if case[0] != "drop_without_note"]


@pytest.mark.parametrize(
    "case, percent_json, percent_form, percent_py, state, note, field, words", MILESTONE_ADD_RULES,
    ids=[case[0] for case in MILESTONE_ADD_RULES],
)  # fmt: skip
def test_milestone_admin_add_shows_the_error_and_writes_nothing(
    admin_client, milestone, case, percent_json, percent_form, percent_py, state, note, field, words
):
    before = milestone_rows()
    data = milestone_admin_form(milestone, title="Another", percent_complete=percent_form, state=state, note=note)
    response = admin_client.post(reverse("admin:plans_milestone_add"), data)
    assert response.status_code == 200
    assert_message(response.context["adminform"].form.errors, field, words)
    assert milestone_rows() == before


def test_milestone_admin_blocked_with_a_note_is_saved_and_logged(admin_client, milestone):
    response = admin_client.post(
        reverse("admin:plans_milestone_change", args=[milestone.pk]),
        milestone_admin_form(milestone, state="blocked", note="Waiting for the permit."),
    )
    assert response.status_code == 302
    assert milestone.updates.get().note == "Waiting for the permit."


# A plan file's milestone note only feeds the progress check: it is not stored, so its characters do not matter.
MILESTONE_IMPORT_RULES = [case for case in MILESTONE_RULES if case[0] != "control_in_note"]


@pytest.mark.parametrize(
    "case, percent_json, percent_form, percent_py, state, note, field, words", MILESTONE_IMPORT_RULES,
    ids=[case[0] for case in MILESTONE_IMPORT_RULES],
)  # fmt: skip
def test_plan_import_with_bad_milestone_progress_raises_and_writes_nothing(
    db, case, percent_json, percent_form, percent_py, state, note, field, words
):
    services.plan_import(data=plan_file(milestone_fields={"percent_complete": 50, "state": "in_progress"}))
    before = all_rows()
    data = plan_file(milestone_fields={"percent_complete": percent_py, "state": state, "note": note})
    with pytest.raises(ValidationError) as raised:
        services.plan_import(data=data)
    errors = raised.value.message_dict
    assert_message({field: errors[f"G-1 Open the incubator: {field}"]}, field, words)
    assert all_rows() == before


def test_plan_import_with_a_bad_progress_log_entry_raises_and_writes_nothing(db):
    history = [
        {"date": "2025-03-31", "percent_complete": 30, "state": "in_progress", "note": "Started."},
        {"date": "2025-06-30", "percent_complete": 20, "state": "in_progress"},
    ]
    data = plan_file(milestone_fields={"percent_complete": 20, "state": "in_progress", "history": history})
    with pytest.raises(ValidationError) as raised:
        services.plan_import(data=data)
    assert "goes down from 30% to 20%" in str(raised.value.message_dict["Open the incubator 2025-06-30: note"])
    assert all_rows() == (0, 0, 0, 0, 0, 0, [], [])


# --- KPI ranges ---


def test_kpi_api_create_without_a_range_gets_its_units_default(definer, team):
    body = {
        "goal": GoalFactory(owner_team=team).pk,
        "code": "SPEND",
        "name": "R&D spending",
        "unit": "trillion yuan",
        "baseline_value": 1.2,
        "baseline_date": "2024-12-31",
        "target_value": 1.3,
        "target_date": "2025-12-31",
        "frequency": "quarterly",
    }
    response = definer.post("/api/v1/kpis/", body)
    assert response.status_code == 201, response.content
    assert (response.json()["min_value"], response.json()["max_value"]) == (0, None)


def test_kpi_api_range_with_min_above_max_is_400_and_writes_nothing(definer, kpi):
    response = definer.patch(f"/api/v1/kpis/{kpi.pk}/", {"min_value": 50, "max_value": 10})
    assert response.status_code == 400
    kpi.refresh_from_db()
    assert (kpi.min_value, kpi.max_value, kpi.version) == (0, 100, 1)


def test_kpi_api_range_that_excludes_the_baseline_is_400(definer, kpi):
    response = definer.patch(f"/api/v1/kpis/{kpi.pk}/", {"max_value": 50})
    assert response.status_code == 400
    assert_message(response.json(), "baseline_value", "outside the KPI's plausible range, 0 to 50")


def test_kpi_admin_range_with_min_above_max_shows_the_error_and_writes_nothing(admin_client, kpi):
    data = {
        "goal": kpi.goal_id,
        "code": kpi.code,
        "name": kpi.name,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "baseline_value": kpi.baseline_value,
        "baseline_date": kpi.baseline_date,
        "target_value": kpi.target_value,
        "target_date": kpi.target_date,
        "min_value": "90",
        "max_value": "10",
        "frequency": kpi.frequency,
        "weight": "1",
        "owner_team": kpi.owner_team_id,
        "source_note": "",
        "source": kpi.source,
        "external_id": kpi.external_id,
    }
    response = admin_client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), data)
    assert response.status_code == 200
    assert "The lowest plausible value cannot be above the highest." in response.content.decode()
    kpi.refresh_from_db()
    assert (kpi.min_value, kpi.max_value, kpi.version) == (0, 100, 1)
