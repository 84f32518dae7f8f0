"""plans.services.reporting: submissions, their review and history, counting modes, period locks and reopenings."""

import datetime
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from plans import services
from plans.choices import ItemType, SubmissionState
from plans.models import Measurement, PeriodReopening, StatusSnapshot, Submission, SubmissionTransition
from plans.recompute import plan_recompute
from tests.factories import KPIFactory, UserFactory, ZoneFactory, api_token

Q1, Q2, Q3 = datetime.date(2025, 3, 31), datetime.date(2025, 6, 30), datetime.date(2025, 9, 30)


@pytest.fixture
def kpi(team):
    kpi = KPIFactory(goal__owner_team=team, goal__focus_area__plan__counting="approved")
    return kpi


def submitted(kpi, author, value=65.0, period_end=Q1, **extra):
    return services.submission_save(kpi=kpi, period_end=period_end, value=value, author=author, submit=True, **extra)


def states(submission):
    return list(
        SubmissionTransition.objects.filter(submission=submission).values_list("from_state", "to_state", "reason")
    )


def test_reporting_periods_follow_the_frequency_from_baseline_to_target(kpi):
    periods = services.reporting_periods(kpi)
    assert [p.period_end for p in periods] == [Q1, Q2, Q3, datetime.date(2025, 12, 31)]
    assert periods[0].due_date == Q1 + datetime.timedelta(days=kpi.plan.due_lag_quarterly)
    assert [p.period_end for p in services.reporting_periods(kpi, until=datetime.date(2025, 7, 15))] == [Q1, Q2]


def test_save_creates_a_draft_then_submit_records_each_move(kpi, staff):
    draft = services.submission_save(kpi=kpi, period_end=Q1, value=64.0, author=staff)
    assert draft.state == SubmissionState.DRAFT
    assert draft.due_date == kpi.plan.due_date(kpi.frequency, Q1)
    draft = services.submission_save(kpi=kpi, period_end=Q1, value=65.0, author=staff)
    assert Submission.objects.get().value == 65.0
    done = services.submission_submit(submission=draft, author=staff)
    assert done.state == SubmissionState.SUBMITTED and done.submitted_by == staff
    assert states(done) == [("", "draft", ""), ("draft", "submitted", "")]


def test_only_the_owner_teams_members_report_the_national_figure(kpi, other_team):
    outsider = UserFactory(username="outsider", role="staff", teams=[other_team])
    with pytest.raises(PermissionDenied):
        services.submission_save(kpi=kpi, period_end=Q1, value=64.0, author=outsider)
    assert not Submission.objects.exists()


def test_a_units_figure_is_reported_by_its_reporters(kpi, staff):
    zone = ZoneFactory()
    reporter = UserFactory(username="zone-reporter", role="staff")
    zone.reporters.add(reporter)
    with pytest.raises(PermissionDenied):
        services.submission_save(kpi=kpi, unit=zone, period_end=Q1, value=64.0, author=staff)
    submission = services.submission_save(kpi=kpi, unit=zone, period_end=Q1, value=64.0, author=reporter)
    assert submission.unit == zone


def test_the_figure_meets_the_measurement_rules(kpi, staff):
    with pytest.raises(ValidationError) as exc:
        services.submission_save(kpi=kpi, period_end=Q1, value=500.0, author=staff)
    assert "note" in exc.value.message_dict  # the jump rule
    with pytest.raises(ValidationError) as exc:
        services.submission_save(kpi=kpi, period_end=datetime.date(2025, 2, 28), value=64.0, author=staff)
    assert "period_end" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.submission_save(kpi=kpi, period_end=Q1, value=64.0, date=Q2, author=staff)
    assert "date" in exc.value.message_dict
    assert not Submission.objects.exists()


def test_only_managers_review(kpi, staff):
    submission = submitted(kpi, staff)
    with pytest.raises(PermissionDenied):
        services.submission_approve(submission=submission, author=staff)
    with pytest.raises(PermissionDenied):
        services.submission_return(submission=submission, reason="No", author=staff)
    assert Submission.objects.get().state == SubmissionState.SUBMITTED


def test_approved_only_a_submitted_value_counts_once_approved(kpi, staff, manager):
    submission = submitted(kpi, staff, value=66.0)
    assert not Measurement.objects.exists()
    plan_recompute(plan_id=kpi.plan_id)
    kpi.refresh_from_db()
    assert kpi.latest_value is None
    services.submission_approve(submission=submission, author=manager)
    measurement = Measurement.objects.get()
    assert (measurement.value, measurement.date, measurement.provisional) == (66.0, Q1, False)
    plan_recompute(plan_id=kpi.plan_id)
    kpi.refresh_from_db()
    assert kpi.latest_value == 66.0
    submission.refresh_from_db()
    assert submission.reviewed_by == manager and states(submission)[-1] == ("submitted", "approved", "")


def test_return_needs_a_reason_and_goes_back_to_the_author(kpi, staff, manager):
    submission = submitted(kpi, staff)
    with pytest.raises(ValidationError):
        services.submission_return(submission=submission, reason="  ", author=manager)
    returned = services.submission_return(
        submission=submission, reason="Q1 figure is the cumulative one", author=manager
    )
    assert returned.state == SubmissionState.RETURNED and returned.return_reason == "Q1 figure is the cumulative one"
    again = submitted(kpi, staff, value=63.0)
    assert again.pk == submission.pk and again.state == SubmissionState.SUBMITTED
    assert [t[1] for t in states(again)] == ["draft", "submitted", "returned", "draft", "submitted"]
    assert states(again)[2][2] == "Q1 figure is the cumulative one"


def test_a_submitted_figure_cannot_be_edited_or_approved_twice(kpi, staff, manager):
    submission = submitted(kpi, staff)
    with pytest.raises(services.SubmissionRefused):
        services.submission_save(kpi=kpi, period_end=Q1, value=61.0, author=staff)
    services.submission_approve(submission=submission, author=manager)
    with pytest.raises(services.SubmissionRefused):
        services.submission_approve(submission=submission, author=manager)


def test_submitted_counting_is_provisional_then_taken_back_on_return(kpi, staff, manager):
    kpi.plan.counting = "submitted"
    kpi.plan.save()
    services.measurement_record(kpi=kpi, date=Q1, value=62.0, recorded_by=staff)
    submission = submitted(kpi, staff, value=64.0)
    measurement = Measurement.objects.get()
    assert (measurement.value, measurement.provisional) == (64.0, True)
    services.submission_return(submission=submission, reason="Wrong month", author=manager)
    measurement.refresh_from_db()
    assert (measurement.value, measurement.provisional) == (62.0, False)


def test_submitted_counting_deletes_a_new_row_on_return(kpi, staff, manager):
    kpi.plan.counting = "submitted"
    kpi.plan.save()
    submission = submitted(kpi, staff)
    assert Measurement.objects.get().provisional
    services.submission_return(submission=submission, reason="Wrong", author=manager)
    assert not Measurement.objects.exists()


def test_submitted_counting_approval_makes_it_final(kpi, staff, manager):
    kpi.plan.counting = "submitted"
    kpi.plan.save()
    services.submission_approve(submission=submitted(kpi, staff), author=manager)
    assert Measurement.objects.get().provisional is False


def test_bulk_approve_approves_each_it_can_and_says_why_not_the_others(kpi, staff, manager):
    first = submitted(kpi, staff, period_end=Q1)
    second = submitted(kpi, staff, period_end=Q2, value=67.0)
    draft = services.submission_save(kpi=kpi, period_end=Q3, value=68.0, author=staff)
    summary = services.submissions_approve_bulk(ids=[first.pk, second.pk, draft.pk, 999999], author=manager)
    assert summary["approved"] == [first.pk, second.pk]
    assert [s["id"] for s in summary["skipped"]] == [draft.pk, 999999]
    assert "draft" in summary["skipped"][0]["reason"].lower()
    assert Measurement.objects.count() == 2


def test_an_approved_period_is_locked_for_every_write(kpi, staff, manager):
    services.submission_approve(submission=submitted(kpi, staff), author=manager)
    with pytest.raises(services.PeriodLocked) as exc:
        services.submission_save(kpi=kpi, period_end=Q1, value=70.0, author=staff)
    assert "reopen" in str(exc.value)
    with pytest.raises(services.PeriodLocked):
        services.measurement_record(kpi=kpi, date=datetime.date(2025, 2, 28), value=70.0, recorded_by=manager)
    with pytest.raises(services.MeasurementRowsInvalid) as bulk:
        services.measurements_bulk_upsert(rows=[services.MeasurementRow(kpi_id=kpi.pk, date=Q1, value=70.0)])
    assert "reopen" in bulk.value.errors[0]["date"][0]
    assert list(Measurement.objects.values_list("value", flat=True)) == [65.0]
    # The next period is open.
    services.measurement_record(kpi=kpi, date=Q2, value=66.0, recorded_by=manager)


def test_reopening_needs_a_manager_a_reason_and_a_future_expiry(kpi, staff, manager):
    later = timezone.now() + datetime.timedelta(days=3)
    with pytest.raises(PermissionDenied):
        services.period_reopen(plan=kpi.plan, period_end=Q1, reason="Late data", expires_at=later, author=staff)
    with pytest.raises(ValidationError) as exc:
        services.period_reopen(
            plan=kpi.plan, period_end=Q1, reason="", expires_at=timezone.now() - datetime.timedelta(1), author=manager
        )
    assert set(exc.value.message_dict) == {"reason", "expires_at"}
    assert not PeriodReopening.objects.exists()


def test_a_write_under_a_reopening_is_a_restatement_and_the_lock_returns_when_it_expires(kpi, staff, manager):
    services.submission_approve(submission=submitted(kpi, staff), author=manager)
    expires = timezone.now() + datetime.timedelta(days=2)
    services.period_reopen(plan=kpi.plan, period_end=Q1, reason="Revised census", expires_at=expires, author=manager)
    submission = submitted(kpi, staff, value=66.0)
    services.submission_approve(submission=submission, author=manager)
    measurement = Measurement.objects.get()
    assert (measurement.value, measurement.restatement) == (66.0, True)
    after_expiry = expires + datetime.timedelta(seconds=1)
    with pytest.raises(services.PeriodLocked):
        services.measurement_record(kpi=kpi, date=Q1, value=67.0, recorded_by=manager, now=after_expiry)
    PeriodReopening.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(services.PeriodLocked):
        services.submission_save(kpi=kpi, period_end=Q1, value=67.0, author=staff)


def test_a_restatement_rebuilds_the_month_end_snapshots_it_touches(
    kpi, staff, manager, django_capture_on_commit_callbacks
):
    # An approved Q2, set up as rows: a write's after-commit update is captured once per test transaction.
    Measurement.objects.create(kpi=kpi, date=Q2, value=66.0)
    Submission.objects.create(plan=kpi.plan, kpi=kpi, period_end=Q2, due_date=Q3, value=66.0, state="approved")
    plan_recompute(plan_id=kpi.plan_id)

    def june():
        return StatusSnapshot.objects.get(item_type=ItemType.KPI, item_id=kpi.pk, as_of=Q2)

    before = june()
    expires = timezone.now() + datetime.timedelta(days=2)
    services.period_reopen(plan=kpi.plan, period_end=Q2, reason="Revised", expires_at=expires, author=manager)
    with django_capture_on_commit_callbacks(execute=True):
        submission = submitted(kpi, staff, period_end=Q2, value=75.0, note="Revised by the bureau")
        services.submission_approve(submission=submission, author=manager)
    after = june()
    assert Measurement.objects.get().restatement
    assert after.explanation != before.explanation
    assert "75" in str(after.explanation)


def test_an_authoritative_token_approves_and_a_write_token_may_not(kpi, staff):
    submission = submitted(kpi, staff)
    writer, _key = api_token(scope="write")
    with pytest.raises(PermissionDenied):
        services.submission_approve(submission=submission, author=writer)
    bureau, _key = services.api_token_create(name="bureau", scope="write", authoritative=True)
    approved = services.submission_approve(submission=submission, author=bureau)
    assert approved.state == SubmissionState.APPROVED
    assert SubmissionTransition.objects.filter(actor_token=bureau, to_state="approved").exists()


# The web: the KPI form under review, the review queue.


def test_the_kpi_form_saves_a_draft_or_submits_under_review(client, kpi, staff):
    client.force_login(staff)
    url = f"/kpis/{kpi.pk}/measurements/new/"
    page = client.get(url)
    assert b"Save and submit" in page.content
    body = {"date": "2025-03-31", "value": "64", "note": "", "version": kpi.version}
    client.post(url, body)
    assert Submission.objects.get().state == SubmissionState.DRAFT
    response = client.post(url, {**body, "submit": "1"}, follow=True)
    assert Submission.objects.get().state == SubmissionState.SUBMITTED
    assert b"counts once a manager approves it" in response.content
    assert not Measurement.objects.exists()


def test_the_author_sees_a_returned_figure_with_its_reason(client, kpi, staff, manager):
    services.submission_return(submission=submitted(kpi, staff), reason="Use the audited figure", author=manager)
    client.force_login(staff)
    assert b"Use the audited figure" in client.get(f"/kpis/{kpi.pk}/measurements/new/").content


def test_a_locked_period_is_a_form_error_naming_the_reopening(client, kpi, staff, manager):
    services.submission_approve(submission=submitted(kpi, staff), author=manager)
    client.force_login(staff)
    body = {"date": "2025-03-31", "value": "66", "note": "", "version": kpi.version, "submit": "1"}
    response = client.post(f"/kpis/{kpi.pk}/measurements/new/", body)
    assert response.status_code == 200 and b"reopen" in response.content
    assert Submission.objects.get().value == 65.0


def test_the_review_queue_is_for_managers_and_lists_submitted_figures(client, kpi, staff, manager):
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 2, 28), value=62.5, recorded_by=manager)
    submitted(kpi, staff, value=64.5)
    url = f"/plans/{kpi.plan.slug}/review/"
    client.force_login(staff)
    assert client.get(url).status_code == 403
    client.force_login(manager)
    page = client.get(url, {"focus_area": kpi.goal.focus_area_id, "unit": "national"})
    assert page.status_code == 200
    assert b"64.5" in page.content and b"62.5" in page.content  # the figure and the value counting now


def test_the_review_queue_approves_the_checked_and_returns_one_with_a_reason(client, kpi, staff, manager):
    first = submitted(kpi, staff, period_end=Q1)
    second = submitted(kpi, staff, period_end=Q2, value=66.0)
    client.force_login(manager)
    url = f"/plans/{kpi.plan.slug}/review/"
    client.post(url, {"action": "return", "submission": second.pk, "reason": "Not the audited figure"})
    client.post(url, {"action": "approve", "ids": [first.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state, second.return_reason) == ("approved", "returned", "Not the audited figure")


def test_the_review_queue_query_count_does_not_grow_with_the_queue(
    client, kpi, staff, manager, django_assert_max_num_queries
):
    for period_end in (Q1, Q2, Q3):
        submitted(kpi, staff, period_end=period_end, value=64.0)
    client.force_login(manager)
    url = f"/plans/{kpi.plan.slug}/review/"
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200


def test_the_demo_reviews_its_figures_and_tells_a_review_story(db):
    from django.core.management import call_command

    from plans.models import Plan

    call_command("load_demo_plan", verbosity=0)
    demo = Plan.objects.get(slug="high-tech-zones-2025")
    assert demo.counting == "approved"
    counts = dict(Counter(Submission.objects.filter(plan=demo).values_list("state", flat=True)))
    assert counts["submitted"] >= 1 and counts["returned"] == 1
    with_history = Submission.objects.filter(plan=demo, state="approved", transitions__isnull=False)
    assert counts["approved"] == with_history.count() > 0
    assert Submission.objects.get(state="returned").return_reason
    before = list(Submission.objects.order_by("pk").values_list("pk", "state", "version"))
    call_command("load_demo_plan", verbosity=0)
    assert list(Submission.objects.order_by("pk").values_list("pk", "state", "version")) == before


def test_create_api_token_marks_an_authoritative_source(db, capsys):
    from django.core.management import call_command

    from plans.models import ApiToken

    call_command("create_api_token", "--name", "bureau", "--scope", "write", "--authoritative")
    call_command("create_api_token", "--name", "partner", "--scope", "write")
    assert dict(ApiToken.objects.values_list("name", "authoritative")) == {"bureau": True, "partner": False}


def test_managers_change_the_review_settings_and_the_change_is_kept(client, kpi, staff, manager):
    from plans.models import DefinitionChange

    url = f"/plans/{kpi.plan.slug}/review/settings/"
    client.force_login(staff)
    assert client.get(url).status_code == 403
    client.force_login(manager)
    plan = kpi.plan
    body = {
        "counting": "submitted",
        "due_lag_monthly": 10,
        "due_lag_quarterly": 20,
        "due_lag_annual": 45,
        "remind_days_before": 2,
        "escalate_after_days": 5,
        "version": plan.version,
    }
    assert client.post(url, body).status_code == 302
    plan.refresh_from_db()
    assert (plan.counting, plan.due_lag_quarterly) == ("submitted", 20)
    assert DefinitionChange.objects.filter(field="counting", new_value="submitted").exists()
    stale = client.post(url, {**body, "due_lag_annual": 50})
    assert stale.status_code == 409
    plan.refresh_from_db()
    assert plan.due_lag_annual == 45


def test_a_restatement_left_in_draft_is_locked_again_when_the_reopening_expires(kpi, staff, manager):
    services.submission_approve(submission=submitted(kpi, staff), author=manager)
    expires = timezone.now() + datetime.timedelta(days=2)
    services.period_reopen(plan=kpi.plan, period_end=Q1, reason="Revised census", expires_at=expires, author=manager)
    draft = services.submission_save(kpi=kpi, period_end=Q1, value=66.0, author=staff)
    assert draft.state == SubmissionState.DRAFT
    PeriodReopening.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(services.PeriodLocked):
        services.submission_save(kpi=kpi, period_end=Q1, value=67.0, author=staff)
    with pytest.raises(services.PeriodLocked):
        services.measurement_record(kpi=kpi, date=Q1, value=67.0, recorded_by=manager)
    assert Measurement.objects.get().value == 65.0


def test_a_restatement_is_shown_as_such_on_the_kpi_page_and_in_the_api(client, kpi, staff, manager):
    from tests.factories import api_client

    services.submission_approve(submission=submitted(kpi, staff), author=manager)
    expires = timezone.now() + datetime.timedelta(days=2)
    services.period_reopen(plan=kpi.plan, period_end=Q1, reason="Revised", expires_at=expires, author=manager)
    services.submission_approve(submission=submitted(kpi, staff, value=66.0), author=manager)
    client.force_login(manager)
    page = client.get(f"/plans/{kpi.plan.slug}/kpis/{kpi.code}/")
    assert b">restatement</span>" in page.content
    rows = api_client(user=manager).get("/api/v1/measurements/", {"kpi": kpi.pk}).json()["results"]
    assert [(row["value"], row["restatement"], row["provisional"]) for row in rows] == [(66.0, True, False)]
