import datetime
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from plans import selectors
from plans.choices import Status
from plans.models import KPI, FocusArea, Goal, Measurement, Milestone, Plan
from plans.recompute import plan_recompute

pytestmark = pytest.mark.django_db

ARTICLE_BASELINES = {
    "IC-GDP": (19.3, "trillion yuan"),
    "IC-GDP-GROWTH": (7.6, "%"),
    "IC-IAV": (9.8, "trillion yuan"),
    "IC-IAV-SHARE": (24.1, "%"),
    "RD-SPEND": (1.2, "trillion yuan"),
    "RD-GROWTH": (4.3, "%"),
    "EN-HTE": (33, "%"),
    "EN-GIANTS": (46, "%"),
    "EN-UNICORNS": (67, "%"),
    "RD-PERSONNEL": (25, "%"),
    "RD-INSTITUTIONS": (35000, "institutions"),
    "RD-PCT": (50, "%"),
    "RD-INDEX": (31, "points"),
}


def snapshot():
    rows = []
    for model in (Plan, FocusArea, Goal, Milestone, KPI, Measurement):
        rows.append(sorted(model.objects.values_list("id", "version", "updated_at")))
    rows.append(sorted(get_user_model().objects.values_list("id", "password")))
    return rows


@pytest.fixture
def demo(db):
    call_command("load_demo_plan", verbosity=0)
    return Plan.objects.get(slug="high-tech-zones-2025")


def test_demo_kpis_carry_the_articles_2024_baselines_exactly(demo):
    kpis = {k.code: k for k in KPI.objects.filter(plan=demo)}
    assert {code: (kpis[code].baseline_value, kpis[code].unit) for code in ARTICLE_BASELINES} == ARTICLE_BASELINES
    assert all(str(k.baseline_date) == "2024-12-31" for k in kpis.values())


def test_demo_plan_has_the_articles_focus_areas(demo):
    names = set(demo.focus_areas.values_list("name", flat=True))
    assert {
        "R&D capability and innovation ecosystem",
        "Breakthrough technologies and emerging industries",
        "Enterprises as the main drivers of innovation",
        "Future industries",
        "International R&D partnerships",
        "Pilot policies and regulatory sandboxes for AI and biotech",
        "Industrial clustering",
    } == names


def test_demo_milestones_tell_a_mixed_story(demo):
    states = set(Milestone.objects.filter(plan=demo).values_list("state", flat=True))
    assert {"done", "in_progress", "blocked", "cancelled", "planned"} <= states


def test_demo_data_is_labelled_as_illustrative(demo):
    assert "illustrative demo data" in demo.description
    assert all("demo data" in note for note in KPI.objects.values_list("source_note", flat=True))


def test_loading_the_demo_plan_twice_changes_nothing(demo):
    before = snapshot()
    call_command("load_demo_plan", verbosity=0)
    assert snapshot() == before


def test_demo_users_have_roles_and_teams(demo):
    User = get_user_model()
    assert User.objects.get(username="manager").groups.filter(name="manager").exists()
    staff = User.objects.get(username="staff.rd")
    assert staff.groups.filter(name="staff").exists()
    assert list(staff.teams.values_list("name", flat=True)) == ["Department of High-Tech Development"]
    assert staff.check_password("staff-demo-2025")


def test_reloading_the_demo_keeps_progress_and_targets_changed_since(demo):
    from plans import services
    from plans.models import MilestoneUpdate

    milestone = Milestone.objects.filter(plan=demo, state="in_progress").order_by("pk").first()
    services.milestone_progress_record(
        milestone=milestone, percent_complete=milestone.percent_complete + 5, state="in_progress"
    )
    kpi = KPI.objects.filter(plan=demo).order_by("pk").first()
    services.kpi_update(kpi=kpi, data={"target_value": kpi.target_value + 1})
    updates, before = MilestoneUpdate.objects.count(), snapshot()
    call_command("load_demo_plan", verbosity=0)
    assert MilestoneUpdate.objects.count() == updates
    assert snapshot() == before


def test_reloading_the_demo_keeps_a_revised_measurement(demo):
    from django.utils import timezone

    from plans import services
    from plans.dates import period_end_containing

    measurement = Measurement.objects.filter(kpi__plan=demo).order_by("pk").first()
    # The demo's figures are approved, so their periods are locked: a revision needs a reopening.
    services.period_reopen(
        plan=demo,
        period_end=period_end_containing(measurement.kpi.frequency, measurement.date),
        reason="Revised by the bureau",
        expires_at=timezone.now() + datetime.timedelta(days=1),
        author=get_user_model().objects.get(username="manager"),
    )
    services.measurement_update(measurement=measurement, value=measurement.value + 0.5, note="Revised by the bureau")
    call_command("load_demo_plan", verbosity=0)
    assert Measurement.objects.get(pk=measurement.pk).value == measurement.value + 0.5


def test_reloading_the_demo_keeps_changed_passwords_and_teams(demo):
    staff = get_user_model().objects.get(username="staff.rd")
    staff.set_password("a-new-secret-2026")
    staff.save()
    staff.teams.clear()
    call_command("load_demo_plan", verbosity=0)
    staff.refresh_from_db()
    assert staff.check_password("a-new-secret-2026")
    assert not staff.teams.exists()


def test_loading_the_demo_creates_what_is_missing_and_leaves_the_rest(demo):
    from plans import services
    from plans.demo import demo_plan_data

    kpi = KPI.objects.filter(plan=demo).order_by("pk").first()
    services.kpi_update(kpi=kpi, data={"name": "Renamed by a manager"})
    data = demo_plan_data()
    goal = data["focus_areas"][0]["goals"][0]
    goal.setdefault("milestones", []).append({"title": "A milestone added to the demo", "due_date": "2025-11-30"})
    services.plan_import(data=data, overwrite=False)
    assert Milestone.objects.filter(plan=demo, goal__code=goal["code"], title="A milestone added to the demo").exists()
    assert KPI.objects.get(pk=kpi.pk).name == "Renamed by a manager"


AFTER_THE_PLAN = datetime.date(2026, 12, 1)


def test_demo_plan_after_its_end_has_most_but_not_all_final_figures_in_achieved_and_missed(demo):
    plan_recompute(plan_id=demo.pk, as_of=AFTER_THE_PLAN)
    closure = selectors.plan_closure(plan=demo, today=AFTER_THE_PLAN)
    assert (closure.ended, closure.kpi_count, closure.final_in) == (True, 13, 9)
    assert closure.achieved >= 3 and closure.missed >= 3 and closure.achieved + closure.missed == closure.final_in


def test_demo_milestones_end_mostly_complete_with_some_overdue(demo):
    plan_recompute(plan_id=demo.pk, as_of=AFTER_THE_PLAN)
    statuses = Counter(Milestone.objects.filter(plan=demo).values_list("status", flat=True))
    assert statuses[Status.COMPLETE] > len(list(statuses.elements())) / 2
    assert statuses[Status.OVERDUE] >= 2
    assert set(statuses) <= {Status.COMPLETE, Status.OVERDUE, Status.CANCELLED}


def test_demo_milestones_current_progress_is_their_last_logged_update(demo):
    for milestone in Milestone.objects.filter(plan=demo):
        last = milestone.updates.order_by("-created_at", "-id").first()
        if last is not None:
            assert (milestone.percent_complete, milestone.state) == (last.percent_complete, last.state), milestone
