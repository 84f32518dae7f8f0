"""Text is printable on every channel: names, titles, units, sources and external ids are one line without control
characters; descriptions and notes may hold tabs and line breaks but no other control character. Refused with a
field error that names the character, and nothing is written. Booleans in the API are JSON true or false only.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from plans import services
from plans.models import KPI, Goal, Measurement, Milestone, MilestoneUpdate, Plan, Team
from plans.models.base import multi_line_validators, single_line_validators
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, UserFactory
from tests.test_admin import kpi_form
from tests.test_write_rules import plan_file

pytestmark = pytest.mark.django_db

# (id, text): refused everywhere. The lone surrogate comes from JSON's "\ud800"; PostgreSQL cannot store it.
CONTROL = [
    ("nul", "a\x00b"),
    ("bell", "a\x07b"),
    ("escape", "a\x1b[31mb"),
    ("vertical_tab", "a\x0bb"),
    ("delete", "a\x7fb"),
    ("c1_next_line", "a\x85b"),
    ("c1_csi", "a\x9bb"),
    ("lone_surrogate", "a\ud800b"),
]
# Refused in one line only: they are line breaks (or a tab) there, but belong in a note.
LINE_BREAKS = [("line_feed", "a\nb"), ("carriage_return", "a\rb"), ("tab", "a\tb"), ("line_separator", "a\u2028b")]
SINGLE_LINE_BAD = CONTROL + LINE_BREAKS
IDS = [case[0] for case in SINGLE_LINE_BAD]


def refused(validators, text) -> bool:
    try:
        for validator in validators:
            validator(text)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("case, text", SINGLE_LINE_BAD, ids=IDS)
def test_single_line_text_refuses_control_characters_and_line_breaks(case, text):
    assert refused(single_line_validators, text)


@pytest.mark.parametrize("case, text", CONTROL, ids=[case[0] for case in CONTROL])
def test_multi_line_text_refuses_control_characters(case, text):
    assert refused(multi_line_validators, text)


@pytest.mark.parametrize("text", ["Line one\r\nline two\n\tindented", "第一行\n第二行 – 50 %", "a\u2028b", ""])
def test_multi_line_text_keeps_tabs_line_breaks_and_any_printable_script(text):
    assert not refused(multi_line_validators, text)


@pytest.mark.parametrize("text", ["高新区 R&D spending (trillion yuan)", "Zones’ share — 2025", "é ñ ü"])
def test_single_line_text_keeps_every_printable_script(text):
    assert not refused(single_line_validators, text)


def test_the_error_names_the_character_and_where_it_is():
    with pytest.raises(ValidationError) as error:
        single_line_validators[0]("Goal\x07")
    assert "U+0007" in error.value.messages[0] and "position 5" in error.value.messages[0]


# --- the API, with a manage token and with a manager's session ---


def send(client, method: str, url: str, fields: dict):
    # json.dumps escapes every control character and the lone surrogate, so they go out as a client sends them.
    return getattr(client, method)(url, json.dumps(fields), content_type="application/json")


def versions() -> tuple:
    return tuple(
        sorted(model.objects.values_list("id", "version")) for model in (Goal, KPI, Milestone, Measurement, Plan, Team)
    ) + (MilestoneUpdate.objects.count(),)


@pytest.mark.parametrize("case, text", SINGLE_LINE_BAD, ids=IDS)
@pytest.mark.parametrize("field", ["title", "source", "external_id"])
def test_api_refuses_a_goal_title_source_or_external_id_with_a_control_character(definer, case, text, field):
    goal = GoalFactory()
    before = versions()
    response = send(definer, "patch", f"/api/v1/goals/{goal.pk}/", {field: text})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert versions() == before


@pytest.mark.parametrize("case, text", CONTROL, ids=[case[0] for case in CONTROL])
def test_api_refuses_a_goal_description_with_a_control_character(definer, case, text):
    goal = GoalFactory()
    before = versions()
    response = send(definer, "patch", f"/api/v1/goals/{goal.pk}/", {"description": text})
    assert response.status_code == 400, response.content
    assert "description" in response.json()
    assert versions() == before


def test_api_keeps_a_description_in_lines(definer):
    goal = GoalFactory()
    response = send(definer, "patch", f"/api/v1/goals/{goal.pk}/", {"description": "One\r\nTwo\n\tThree"})
    assert response.status_code == 200, response.content
    assert Goal.objects.get(pk=goal.pk).description == "One\r\nTwo\n\tThree"


@pytest.mark.parametrize("field", ["name", "unit"])
def test_api_refuses_a_kpi_name_or_unit_on_two_lines(definer, field):
    kpi = KPIFactory()
    before = versions()
    response = send(definer, "patch", f"/api/v1/kpis/{kpi.pk}/", {field: "Share\nof output"})
    assert response.status_code == 400
    assert "single line" in str(response.json()[field])
    assert versions() == before


def test_api_refuses_a_kpi_source_note_with_a_nul(definer):
    kpi = KPIFactory()
    response = send(definer, "patch", f"/api/v1/kpis/{kpi.pk}/", {"source_note": "Bureau\x00"})
    assert response.status_code == 400
    assert "source_note" in response.json()


def test_api_refuses_a_milestone_title_and_its_progress_note_with_control_characters(definer):
    milestone = MilestoneFactory(percent_complete=10, state="in_progress")
    before = versions()
    title = send(definer, "patch", f"/api/v1/milestones/{milestone.pk}/", {"title": "Op\x85en"})
    note = send(definer, "patch", f"/api/v1/milestones/{milestone.pk}/", {"percent_complete": 20, "note": "\x1b"})
    assert (title.status_code, note.status_code) == (400, 400)
    assert "title" in title.json() and "note" in note.json()
    assert versions() == before


def test_api_refuses_a_progress_report_with_a_control_character_in_its_note_or_link(definer):
    milestone = MilestoneFactory(percent_complete=10, state="in_progress")
    before = versions()
    body = {"milestone": milestone.pk, "percent_complete": 20, "state": "in_progress"}
    note = send(definer, "post", "/api/v1/milestone-updates/", {**body, "note": "half\ud800"})
    link = send(definer, "post", "/api/v1/milestone-updates/", {**body, "evidence_url": "https://x.org/\x07"})
    assert (note.status_code, link.status_code) == (400, 400)
    assert "note" in note.json() and "evidence_url" in link.json()
    assert versions() == before


@pytest.mark.parametrize("field", ["external_id", "note"])
def test_api_refuses_a_measurement_with_a_control_character_in_its_external_id_or_note(definer, field):
    kpi = KPIFactory()
    before = versions()
    body = {"kpi": kpi.pk, "date": "2025-03-31", "value": 61, field: "M\x071"}
    response = send(definer, "post", "/api/v1/measurements/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert versions() == before


@pytest.mark.parametrize("field", ["external_id", "note", "kpi_external_id", "kpi_source"])
def test_bulk_refuses_a_row_with_a_control_character_in_any_text(definer, field):
    kpi = KPIFactory(source="bureau", external_id="K-1")
    before = versions()
    good = {"kpi": kpi.pk, "date": "2025-03-31", "value": 61}
    bad = {"kpi_external_id": "K-1", "kpi_source": "bureau", "date": "2025-06-30", "value": 62, "note": "Checked."}
    bad = {**bad, field: bad.get(field, "x") + "\x9b"}
    response = send(definer, "post", "/api/v1/measurements/bulk/", {"measurements": [good, bad]})
    assert response.status_code == 400, response.content
    assert "U+009B" in str(response.json()["measurements"]["1"][field])
    assert versions() == before


# --- the admin ---


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_admin_refuses_a_kpi_unit_with_a_control_character(admin_client):
    kpi = KPIFactory()
    response = admin_client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), kpi_form(kpi, unit="%\x07"))
    assert response.status_code == 200
    assert "unit" in response.context["adminform"].form.errors
    assert KPI.objects.get(pk=kpi.pk).version == 1


def test_admin_refuses_a_team_name_with_an_escape_sequence(admin_client):
    response = admin_client.post(reverse("admin:plans_team_add"), {"name": "Team\x1b[2J"})
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert not Team.objects.exists()


# --- the plan import ---


def import_refused(data) -> dict:
    with pytest.raises(ValidationError) as error:
        services.plan_import(data=data)
    assert not Plan.objects.exists() and not Team.objects.exists()
    return error.value.message_dict


def test_import_refuses_a_team_name_with_a_control_character():
    data = plan_file()
    data["teams"] = ["Team\x07A"]
    data["focus_areas"][0]["goals"][0]["owner_team"] = "Team\x07A"
    assert any("name" in where for where in import_refused(data))


def test_import_refuses_a_kpi_name_on_two_lines():
    errors = import_refused(plan_file({"name": "Share\nof output"}))
    assert "name" in errors


def test_import_refuses_a_progress_log_note_with_a_control_character():
    history = [{"date": "2025-03-31", "percent_complete": 30, "state": "in_progress", "note": "Started\x00"}]
    data = plan_file(milestone_fields={"percent_complete": 30, "state": "in_progress", "history": history})
    errors = import_refused(data)
    assert "Open the incubator 2025-03-31: note" in errors


# --- usernames ---


def test_a_user_named_with_a_control_character_is_refused_by_the_service():
    with pytest.raises(ValidationError) as error:
        services.user_ensure(username="staff\x07", password="secret-pass-123", role="staff")
    assert "username" in error.value.message_dict
    assert not get_user_model().objects.filter(username="staff\x07").exists()


# --- booleans: JSON true or false only ---


@pytest.mark.parametrize("value", ["true", "yes", "on", 1, "1", "t", None, [], "false"])
def test_the_strict_boolean_field_takes_only_json_true_and_false(value):
    from rest_framework.exceptions import ValidationError as DRFValidationError

    from plans.api.serializers import StrictBooleanField

    with pytest.raises(DRFValidationError):
        StrictBooleanField().run_validation(value)
    assert (StrictBooleanField().run_validation(True), StrictBooleanField().run_validation(False)) == (True, False)


def test_every_model_boolean_the_api_accepts_uses_the_strict_field():
    from django.db import models

    from plans.api.serializers import StrictBooleanField, StrictModelSerializer

    assert StrictModelSerializer.serializer_field_mapping[models.BooleanField] is StrictBooleanField


@pytest.mark.parametrize("value", ["yes", "1", "on", "True", "junk"])
def test_a_boolean_query_parameter_other_than_true_or_false_is_400(reader, value):
    response = reader.get("/api/v1/kpis/", {"stale": value})
    assert response.status_code == 400
    assert "stale" in response.json()


def test_a_boolean_query_parameter_filters_by_true_and_false(reader):
    fresh, stale = KPIFactory(), KPIFactory()
    KPI.objects.filter(pk=stale.pk).update(stale=True)
    ids = {value: [row["id"] for row in reader.get("/api/v1/kpis/", {"stale": value}).json()["results"]]
           for value in ("true", "false")}  # fmt: skip
    assert ids == {"true": [stale.pk], "false": [fresh.pk]}
