"""The reads of plans/selectors.py against real rows: what each returns, in which order."""

import datetime

import pytest

from plans import selectors
from plans.choices import ItemType, Status
from plans.models import KPI, Goal
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    PlanFactory,
    StatusSnapshotFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

JUNE, JULY = datetime.date(2025, 6, 30), datetime.date(2025, 7, 31)


def test_owner_teams_of_a_plan_are_listed_once_each():
    goal = GoalFactory(owner_team=TeamFactory(name="Goal owners"))
    KPIFactory(goal=goal, owner_team=TeamFactory(name="KPI owners"))
    KPIFactory(goal=goal, owner_team=goal.owner_team)
    MilestoneFactory(goal=goal, owner_team=TeamFactory(name="Milestone owners"))
    GoalFactory(owner_team=TeamFactory(name="Another plan's team"))

    names = [team.name for team in selectors.plan_owner_team_list(plan_id=goal.plan_id)]

    assert names == ["Goal owners", "KPI owners", "Milestone owners"]


def test_plan_overview_lists_focus_areas_goals_and_kpis_in_order(django_assert_num_queries):
    plan = PlanFactory()
    second = FocusAreaFactory(plan=plan, code="FA2", order=2)
    first = FocusAreaFactory(plan=plan, code="FA1", order=1)
    goal = GoalFactory(focus_area=first, code="G1")
    KPIFactory(goal=goal, code="K2")
    KPIFactory(goal=goal, code="K1")

    with django_assert_num_queries(4):
        [listed] = selectors.plan_overview_list()
        areas = list(listed.focus_areas.all())
        kpis = [kpi.code for kpi in areas[0].goals.all()[0].kpis.all()]

    assert areas == [first, second]
    assert kpis == ["K1", "K2"]


def test_snapshot_days_are_the_asked_days_the_plan_has_snapshots_for_oldest_first():
    kpi = KPIFactory()
    other = KPIFactory()
    may = datetime.date(2025, 5, 31)
    for day, item in [(JULY, kpi), (JUNE, kpi), (JULY, kpi.goal), (may, other)]:
        item_type = ItemType.KPI if isinstance(item, KPI) else ItemType.GOAL
        StatusSnapshotFactory(plan=item.plan, item_type=item_type, item_id=item.pk, as_of=day)

    asked = [JULY, may, JUNE, JULY, datetime.date(2025, 8, 31)]
    assert selectors.plan_snapshot_days(plan_id=kpi.plan_id, among=asked) == [JUNE, JULY]
    assert selectors.plan_snapshot_days(plan_id=kpi.plan_id, among=[]) == []


@pytest.mark.parametrize("latest_by", [None, JUNE, JULY + datetime.timedelta(days=3), datetime.date(2025, 1, 1)])
def test_snapshot_days_read_by_sql_and_by_the_orm_agree(requires_postgres, latest_by):
    kpi, other = KPIFactory(), KPIFactory()
    for day, item in [(JUNE, kpi), (JULY, kpi), (datetime.date(2025, 5, 31), other)]:
        StatusSnapshotFactory(plan=item.plan, item_type=ItemType.KPI, item_id=item.pk, as_of=day)
    asked = [JUNE, JUNE + datetime.timedelta(days=1), JULY, datetime.date(2025, 12, 31)]
    by_sql = selectors._snapshot_days_probed(kpi.plan_id, sorted(asked), latest_by)
    assert by_sql == selectors._snapshot_days_orm(kpi.plan_id, sorted(asked), latest_by)
    assert set(by_sql) >= {JUNE, JULY} and datetime.date(2025, 5, 31) not in by_sql  # another plan's day


def test_status_counts_now_read_the_items_and_in_the_past_their_snapshots():
    goal = GoalFactory(status=Status.AT_RISK)
    KPIFactory(goal=goal, status=Status.ON_TRACK)
    KPIFactory(goal=goal, status=Status.ON_TRACK)
    StatusSnapshotFactory(plan=goal.plan, item_type=ItemType.GOAL, item_id=goal.pk, as_of=JUNE, status=Status.OFF_TRACK)
    StatusSnapshotFactory(plan=goal.plan, item_type=ItemType.PLAN, item_id=goal.plan_id, as_of=JUNE)

    now = {(row["item_type"], row["status"]): row["n"] for row in selectors.plan_status_counts(plan=goal.plan)}
    past = selectors.plan_status_counts(plan=goal.plan, as_of=JUNE)

    assert now[(ItemType.GOAL, Status.AT_RISK)] == 1
    assert now[(ItemType.KPI, Status.ON_TRACK)] == 2
    assert past == [{"item_type": ItemType.GOAL, "status": Status.OFF_TRACK, "n": 1}]


def test_status_trend_counts_items_per_day_and_status_without_the_plan():
    goal = GoalFactory()
    plan = goal.plan
    for kpi in (KPIFactory(goal=goal), KPIFactory(goal=goal)):
        StatusSnapshotFactory(plan=plan, item_type=ItemType.KPI, item_id=kpi.pk, as_of=JUNE, status=Status.AT_RISK)
    StatusSnapshotFactory(plan=plan, item_type=ItemType.PLAN, item_id=plan.pk, as_of=JUNE, status=Status.AT_RISK)

    StatusSnapshotFactory(plan=plan, item_type=ItemType.GOAL, item_id=goal.pk, as_of=JULY, status=Status.AT_RISK)

    trend = [{"as_of": JUNE, "status": Status.AT_RISK, "n": 2}]
    assert selectors.plan_status_trend(plan_id=plan.pk, dates=[JUNE]) == trend


def test_plan_snapshot_is_the_plans_own_row_of_that_day():
    plan = PlanFactory()
    own = StatusSnapshotFactory(plan=plan, item_type=ItemType.PLAN, item_id=plan.pk, as_of=JUNE)
    StatusSnapshotFactory(plan=plan, item_type=ItemType.GOAL, item_id=plan.pk, as_of=JULY)

    assert selectors.plan_snapshot_get(plan_id=plan.pk, as_of=JUNE) == own
    assert selectors.plan_snapshot_get(plan_id=plan.pk, as_of=JULY) is None


def test_dashboard_goals_show_live_statuses_now_and_snapshot_statuses_in_the_past():
    goal = GoalFactory(status=Status.ON_TRACK)
    StatusSnapshotFactory(plan=goal.plan, item_type=ItemType.GOAL, item_id=goal.pk, as_of=JUNE, status=Status.AT_RISK)

    [now] = selectors.dashboard_goal_list(plan_id=goal.plan_id)
    [past] = selectors.dashboard_goal_list(plan_id=goal.plan_id, as_of=JUNE)
    [before] = selectors.dashboard_goal_list(plan_id=goal.plan_id, as_of=datetime.date(2025, 1, 31))

    assert (now.as_of_status, past.as_of_status, before.as_of_status) == (Status.ON_TRACK, Status.AT_RISK, None)


def test_dashboard_kpis_in_the_past_take_the_latest_measurement_up_to_that_day():
    kpi = KPIFactory(latest_value=75.0, latest_date=JULY)
    MeasurementFactory(kpi=kpi, date=datetime.date(2024, 12, 31), value=1.0)  # the baseline date: not kept
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 3, 31), value=65.0)
    MeasurementFactory(kpi=kpi, date=JUNE, value=70.0)
    MeasurementFactory(kpi=kpi, date=JULY, value=75.0)

    [now] = selectors.dashboard_kpi_list(plan_id=kpi.plan_id)
    [june] = selectors.dashboard_kpi_list(plan_id=kpi.plan_id, as_of=JUNE)
    [january] = selectors.dashboard_kpi_list(plan_id=kpi.plan_id, as_of=datetime.date(2025, 1, 31))

    assert (now.as_of_latest_value, now.as_of_latest_date) == (75.0, JULY)
    assert (june.as_of_latest_value, june.as_of_latest_date) == (70.0, JUNE)
    assert (january.as_of_latest_value, january.as_of_latest_date) == (None, None)


def test_dashboard_milestones_are_ordered_by_due_date():
    goal = GoalFactory()
    late = MilestoneFactory(goal=goal, due_date=datetime.date(2025, 12, 31))
    early = MilestoneFactory(goal=goal, due_date=datetime.date(2025, 3, 31))

    assert list(selectors.dashboard_milestone_list(plan_id=goal.plan_id)) == [early, late]


def test_goal_measurements_are_grouped_by_kpi_oldest_first():
    goal = GoalFactory()
    kpi, other = KPIFactory(goal=goal), KPIFactory(goal=goal)
    KPIFactory()  # another goal's KPI
    june = MeasurementFactory(kpi=kpi, date=JUNE)
    march = MeasurementFactory(kpi=kpi, date=datetime.date(2025, 3, 31))
    only = MeasurementFactory(kpi=other, date=JULY)
    MeasurementFactory(date=JUNE)

    assert selectors.goal_kpi_measurement_map(goal_id=goal.pk) == {kpi.pk: [march, june], other.pk: [only]}


def test_kpi_measurements_are_oldest_first():
    kpi = KPIFactory()
    july, june = MeasurementFactory(kpi=kpi, date=JULY), MeasurementFactory(kpi=kpi, date=JUNE)
    MeasurementFactory(date=JUNE)

    assert selectors.kpi_measurement_log(kpi_id=kpi.pk) == [june, july]


def test_api_measurements_carry_their_kpis_plan_and_owner_team():
    measurement = MeasurementFactory()

    [row] = selectors.api_measurement_list()

    assert (row.plan_id, row.owner_team_id) == (measurement.kpi.plan_id, measurement.kpi.owner_team_id)


def test_an_item_is_found_by_source_and_external_id():
    goal = GoalFactory(source="erp", external_id="G-1")
    GoalFactory(source="other", external_id="G-1")

    assert selectors.api_item_by_external_id(Goal, source="erp", external_id="G-1") == goal
    assert selectors.api_item_by_external_id(Goal, source="erp", external_id="G-2") is None


def test_kpis_are_found_by_id_or_by_external_id():
    by_id = KPIFactory()
    by_ref = KPIFactory(source="bureau", external_id="EXT-1")
    KPIFactory(source="bureau", external_id="EXT-2")

    found = selectors.api_kpis_for_refs(ids={by_id.pk}, external_ids={"EXT-1", "MISSING"})

    assert sorted(found) == sorted(
        [
            (by_id.pk, by_id.source, by_id.external_id, by_id.owner_team_id, by_id.plan_id),
            (by_ref.pk, "bureau", "EXT-1", by_ref.owner_team_id, by_ref.plan_id),
        ]
    )
    assert selectors.api_kpis_for_refs(ids=set(), external_ids=set()) == []


def test_items_in_a_status_at_a_past_date_are_those_whose_snapshot_of_that_day_has_it():
    goal = GoalFactory()
    overdue_then = MilestoneFactory(goal=goal, status=Status.ON_TRACK)
    on_track_then = MilestoneFactory(goal=goal, status=Status.OVERDUE)
    MilestoneFactory(goal=goal, status=Status.OVERDUE)  # no snapshot that day
    for milestone, status in [(overdue_then, Status.OVERDUE), (on_track_then, Status.ON_TRACK)]:
        StatusSnapshotFactory(
            plan=goal.plan, item_type=ItemType.MILESTONE, item_id=milestone.pk, as_of=JUNE, status=status
        )
        StatusSnapshotFactory(
            plan=goal.plan, item_type=ItemType.MILESTONE, item_id=milestone.pk, as_of=JULY, status=Status.AT_RISK
        )
    listed = {"plan_id": goal.plan_id, "as_of": JUNE}

    def attention(as_of):
        items = selectors.dashboard_milestone_list(plan_id=goal.plan_id, as_of=as_of)
        kept = selectors.in_status_as_of(
            items, item_type=ItemType.MILESTONE, plan_id=goal.plan_id, as_of=as_of, statuses=[Status.OVERDUE]
        )
        return {m.pk for m in kept}

    by_subquery = selectors.dashboard_milestone_list(**listed).filter(as_of_status__in=[Status.OVERDUE])
    assert attention(JUNE) == {m.pk for m in by_subquery} == {overdue_then.pk}
    assert len(attention(None)) == 2  # now: the stored statuses
