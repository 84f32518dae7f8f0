"""The reporting cycle's API: submissions and their transitions, a KPI's periods, reopenings, and measurement writes
on plans under review."""

import datetime

import pytest
from django.utils import timezone

from plans import services
from plans.models import Measurement, PeriodReopening, Submission
from tests.factories import KPIFactory, api_client, api_token

Q1, Q2 = "2025-03-31", "2025-06-30"


@pytest.fixture
def kpi(goal):
    goal.plan.counting = "approved"
    goal.plan.save()
    return KPIFactory(goal=goal)


@pytest.fixture
def staff_api(staff):
    return api_client(user=staff)


@pytest.fixture
def manager_api(manager):
    return api_client(user=manager)


def submit(client, kpi, value=65, period_end=Q1, **extra):
    body = {"kpi": kpi.pk, "period_end": period_end, "value": value, "submit": True, **extra}
    return client.post("/api/v1/submissions/", body, format="json")


def test_create_saves_a_draft_and_submit_submits_it(kpi, staff_api):
    response = staff_api.post("/api/v1/submissions/", {"kpi": kpi.pk, "period_end": Q1, "value": 64}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "draft" and body["unit"] is None and body["due_date"] == "2025-04-30"
    response = staff_api.post(f"/api/v1/submissions/{body['id']}/submit/")
    assert response.status_code == 200
    assert [t["to_state"] for t in response.json()["transitions"]] == ["draft", "submitted"]


def test_manager_returns_with_a_reason_then_approves_the_corrected_figure(kpi, staff_api, manager_api):
    submission = submit(staff_api, kpi).json()
    refused = manager_api.post(f"/api/v1/submissions/{submission['id']}/return/", {}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    returned = manager_api.post(
        f"/api/v1/submissions/{submission['id']}/return/", {"reason": "Cumulative, not quarterly"}, format="json"
    )
    assert returned.json()["state"] == "returned" and returned.json()["return_reason"] == "Cumulative, not quarterly"
    assert not Measurement.objects.exists()
    assert submit(staff_api, kpi, value=63).status_code == 200
    approved = manager_api.post(f"/api/v1/submissions/{submission['id']}/approve/")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert Measurement.objects.get().value == 63


def test_staff_may_not_approve_and_a_draft_cannot_be_approved(kpi, staff_api, manager_api):
    submission = submit(staff_api, kpi).json()
    assert staff_api.post(f"/api/v1/submissions/{submission['id']}/approve/").status_code == 403
    draft = staff_api.post("/api/v1/submissions/", {"kpi": kpi.pk, "period_end": Q2, "value": 66}, format="json")
    response = manager_api.post(f"/api/v1/submissions/{draft.json()['id']}/approve/")
    assert response.status_code == 409 and "draft" in response.json()["detail"].lower()


def test_bulk_approve_reports_what_it_approved_and_skipped(kpi, staff_api, manager_api):
    first = submit(staff_api, kpi).json()["id"]
    second = submit(staff_api, kpi, period_end=Q2, value=66).json()["id"]
    manager_api.post(f"/api/v1/submissions/{second}/return/", {"reason": "Check"}, format="json")
    response = manager_api.post("/api/v1/submissions/approve/", {"ids": [first, second]}, format="json")
    assert response.status_code == 200
    assert response.json()["approved"] == [first]
    assert [row["id"] for row in response.json()["skipped"]] == [second]


def test_list_filters_by_state_and_kpi(kpi, staff_api, manager_api):
    submit(staff_api, kpi)
    staff_api.post("/api/v1/submissions/", {"kpi": kpi.pk, "period_end": Q2, "value": 66}, format="json")
    rows = manager_api.get("/api/v1/submissions/", {"state": "submitted", "kpi": kpi.pk}).json()["results"]
    assert [row["period_end"] for row in rows] == [Q1]


def test_a_locked_period_answers_409_naming_the_reopening_until_a_manager_reopens_it(kpi, staff_api, manager_api):
    first = submit(staff_api, kpi).json()["id"]
    manager_api.post(f"/api/v1/submissions/{first}/approve/")
    locked = staff_api.post("/api/v1/submissions/", {"kpi": kpi.pk, "period_end": Q1, "value": 70}, format="json")
    assert locked.status_code == 409 and "reopen" in locked.json()["detail"]
    expires = (timezone.now() + datetime.timedelta(days=3)).isoformat()
    body = {"plan": kpi.plan_id, "period_end": Q1, "reason": "Census revision", "expires_at": expires}
    assert staff_api.post("/api/v1/period-reopenings/", body, format="json").status_code == 403
    assert manager_api.post("/api/v1/period-reopenings/", body, format="json").status_code == 201
    assert submit(staff_api, kpi, value=70).status_code == 200
    manager_api.post(f"/api/v1/submissions/{first}/approve/")
    assert Measurement.objects.get().restatement


def test_kpi_periods_list_due_dates_and_submission_states(kpi, staff_api):
    submit(staff_api, kpi)
    rows = staff_api.get(f"/api/v1/kpis/{kpi.pk}/periods/").json()
    assert [row["period_end"] for row in rows] == [Q1, Q2, "2025-09-30", "2025-12-31"]
    assert rows[0]["due_date"] == "2025-04-30"
    assert rows[0]["submissions"] == [{"unit": None, "state": "submitted"}] and rows[1]["submissions"] == []


def test_a_write_tokens_measurement_on_a_plan_under_review_arrives_as_submitted(kpi, team):
    _, key = api_token(scope="write", team=team)
    response = api_client(key).post(
        "/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-03-15", "value": 64}, format="json"
    )
    assert response.status_code == 202
    assert "awaiting review" in response.json()["detail"]
    assert response.json()["state"] == "submitted" and response.json()["period_end"] == Q1
    assert not Measurement.objects.exists()


def test_an_authoritative_tokens_measurement_is_approved_on_arrival(kpi):
    _, key = services.api_token_create(name="bureau", scope="write", authoritative=True)
    response = api_client(key).post(
        "/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-03-31", "value": 64}, format="json"
    )
    assert response.status_code == 201
    assert Measurement.objects.get().value == 64
    assert Submission.objects.get().state == "approved"


def test_bulk_rows_of_a_plan_under_review_are_submitted(kpi, team):
    _, key = api_token(scope="write", team=team)
    rows = [{"kpi": kpi.pk, "date": Q1, "value": 64}, {"kpi": kpi.pk, "date": Q2, "value": 65}]
    response = api_client(key).post("/api/v1/measurements/bulk/", {"measurements": rows, "submit": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["submitted"] == 2
    assert set(Submission.objects.values_list("state", flat=True)) == {"submitted"}
    assert not Measurement.objects.exists()


def test_bulk_submit_must_be_a_boolean(kpi, writer):
    body = {"measurements": [{"kpi": kpi.pk, "date": Q1, "value": 64}], "submit": "yes"}
    response = writer.post("/api/v1/measurements/bulk/", body, format="json")
    assert response.status_code == 400 and "submit" in response.json()
    assert not Submission.objects.exists()


def test_bulk_upsert_refuses_a_locked_period(goal, writer, manager):
    kpi = KPIFactory(goal=goal)  # counting "all": values are written at once, but an approved period still locks
    Submission.objects.create(plan=kpi.plan, kpi=kpi, period_end=datetime.date(2025, 3, 31), due_date=Q2, value=1)
    Submission.objects.update(state="approved")
    response = writer.post(
        "/api/v1/measurements/bulk/", {"measurements": [{"kpi": kpi.pk, "date": Q1, "value": 64}]}, format="json"
    )
    assert response.status_code == 400
    assert "reopen" in response.json()["measurements"]["0"]["date"][0]
    assert not Measurement.objects.exists() and not PeriodReopening.objects.exists()
