import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from plans.models import KPI, FocusArea, Goal, Measurement, MeasurementRevision, Milestone, MilestoneUpdate, Plan, Team
from plans.scale_data import ScaleDataExists, Sizes, scale_plan_create

pytestmark = pytest.mark.django_db


def fingerprint(plan: Plan) -> dict:
    """The plan's content without its ids, timestamps or slug: what a seed must fix."""
    team_suffix = len(plan.slug) + 2
    goals = plan.goals.order_by("code").values_list("code", "focus_area__code", "owner_team__name")
    return {
        "goals": [(code, area, team[team_suffix:]) for code, area, team in goals],
        "kpis": list(plan.kpis.order_by("code").values_list("code", "baseline_value", "target_value", "frequency")),
        "milestones": list(
            plan.milestones.order_by("title").values_list("title", "due_date", "percent_complete", "state")
        ),
        "updates": list(
            MilestoneUpdate.objects.filter(milestone__plan=plan)
            .order_by("milestone__title", "percent_complete")
            .values_list("milestone__title", "percent_complete", "state", "previous_percent_complete")
        ),
        "measurements": list(
            Measurement.objects.filter(kpi__plan=plan)
            .order_by("kpi__code", "date")
            .values_list("kpi__code", "date", "value")
        ),
    }


def test_scale_counts_are_exact():
    plan = scale_plan_create(scale=0.01, seed=3, slug="small")
    assert Sizes.at(0.01) == Sizes(focus_areas=12, goals=2, milestones=24, kpis=12, measurements=2400)
    assert FocusArea.objects.filter(plan=plan).count() == 12
    assert Goal.objects.filter(plan=plan).count() == 2
    assert Milestone.objects.filter(plan=plan).count() == 24
    assert KPI.objects.filter(plan=plan).count() == 12
    assert Measurement.objects.filter(kpi__plan=plan).count() == 2400
    assert MeasurementRevision.objects.filter(measurement__kpi__plan=plan).count() == 2400
    assert MilestoneUpdate.objects.filter(milestone__plan=plan).exists()
    assert plan.needs_recompute  # the statuses are left to the next recompute


def test_scale_one_has_the_national_sizes():
    assert Sizes.at(1) == Sizes(focus_areas=12, goals=240, milestones=2400, kpis=1200, measurements=240_000)
    assert Sizes.at(10).measurements == 2_400_000


def test_same_seed_same_plan_other_seed_other_plan():
    first = fingerprint(scale_plan_create(scale=0.01, seed=5, slug="one"))
    assert fingerprint(scale_plan_create(scale=0.01, seed=5, slug="two")) == first
    assert fingerprint(scale_plan_create(scale=0.01, seed=6, slug="three"))["measurements"] != first["measurements"]


def test_rows_meet_the_models_rules():
    plan = scale_plan_create(scale=0.01, seed=1, slug="valid")
    for item in [*plan.kpis.all(), *plan.milestones.all(), *Measurement.objects.filter(kpi__plan=plan)[:200]]:
        item.full_clean()


def test_existing_slug_is_refused_unless_replaced():
    scale_plan_create(scale=0.01, slug="again")
    with pytest.raises(ScaleDataExists):
        scale_plan_create(scale=0.01, slug="again")
    assert Measurement.objects.filter(kpi__plan__slug="again").count() == 2400
    plan = scale_plan_create(scale=0.02, slug="again", replace=True)
    assert Plan.objects.filter(slug="again").get() == plan
    assert Measurement.objects.filter(kpi__plan=plan).count() == 24 * 200
    assert Team.objects.filter(name__startswith="again: ").count() == 24


def test_command_builds_and_recomputes_and_refuses_a_second_run():
    call_command("generate_scale_data", scale=0.01, plan_slug="cmd", verbosity=0)
    plan = Plan.objects.get(slug="cmd")
    assert not plan.needs_recompute
    assert plan.kpis.exclude(status="").count() == 12
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_scale_data", scale=0.01, plan_slug="cmd", verbosity=0)


def test_command_refuses_a_bad_scale():
    with pytest.raises(CommandError, match="scale"):
        call_command("generate_scale_data", "--scale", "0", verbosity=0)
    assert not Plan.objects.exists()


def test_the_generated_rows_are_analyzed_so_the_planner_does_not_take_the_tables_for_empty():
    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE and pg_class are PostgreSQL's")
    scale_plan_create(scale=0.01, seed=3, slug="analyzed")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'plans_measurement'")
        [(estimate,)] = cursor.fetchall()
    assert estimate >= 2400  # never analyzed: -1 (or 0), and the dashboard's joins ran row by row
