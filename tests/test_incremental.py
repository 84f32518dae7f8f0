"""plans.incremental: a write updates only its chain, and gives what a whole-plan recompute gives."""

import datetime
import itertools
import json
import logging
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plans.incremental
from plans import series, services
from plans.choices import Aggregation, ItemType, MeasurementSource, MilestoneState, NationalSource
from plans.dates import is_month_end, month_ends_between
from plans.incremental import INLINE_MAX_ITEMS, Changes, Fallback, plan_update_incremental
from plans.models import KPI, FocusArea, Goal, Measurement, Milestone, Plan, StatusSnapshot
from plans.permissions import STAFF
from plans.recompute import plan_recompute
from plans.recompute_queue import broker_breaker
from plans.services import MeasurementRow
from plans.tallies import tallies_count, tallies_current, tallies_shifted
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MilestoneFactory,
    NationFactory,
    PlanFactory,
    ProvinceFactory,
    TeamFactory,
    UserFactory,
    ZoneFactory,
)
from tests.worker import wait_for
from tracker.celery import app as celery_app

pytest_plugins = ["tests.worker"]

TODAY = timezone.localdate()
START = TODAY - datetime.timedelta(days=330)  # ten or eleven month ends of history behind today
END = TODAY + datetime.timedelta(days=200)
FALLBACK = "is recomputed whole"
COMPUTED = ["status", "score", "progress", "explanation"]
KPI_COMPUTED = [*COMPUTED, "forecast_value", "forecast_low", "forecast_high", "latest_value", "latest_date", "stale"]
WEIGHTS = st.sampled_from([Decimal("0.5"), Decimal("1"), Decimal("2")])


def day(offset: int) -> datetime.date:
    return min(START + datetime.timedelta(days=offset), TODAY)


def plan_build(shape: list[list[tuple[int, int]]], weights) -> Plan:
    """A plan of focus areas of goals, each with (KPIs, milestones), with a few measurements and a full history."""
    plan = PlanFactory(start_date=START, end_date=END, baseline_year=START.year - 1)
    team = TeamFactory()
    weight = itertools.cycle(weights)
    for area_goals in shape:
        area = FocusAreaFactory(plan=plan, weight=next(weight))
        for kpis, milestones in area_goals:
            goal = GoalFactory(focus_area=area, owner_team=team, weight=next(weight))
            for _ in range(kpis):
                kpi = KPIFactory(
                    goal=goal,
                    weight=next(weight),
                    baseline_date=START - datetime.timedelta(days=1),
                    target_date=END,
                    frequency="monthly",
                )
                Measurement.objects.create(kpi=kpi, date=day(40), value=64)
            for index in range(milestones):
                MilestoneFactory(
                    goal=goal,
                    weight=next(weight),
                    start_date=day(30 * index),
                    due_date=day(60 + 90 * index),
                    percent_complete=10 * index,
                    state=MilestoneState.IN_PROGRESS if index else MilestoneState.PLANNED,
                )
    plan_recompute(plan_id=plan.pk)
    return plan


def stored(plan: Plan) -> dict:
    """Every computed value of the plan's items, and its snapshots of today and of every month end."""
    state = {}
    for model, item_type, fields in (
        (KPI, ItemType.KPI, KPI_COMPUTED),
        (Milestone, ItemType.MILESTONE, COMPUTED),
        (Goal, ItemType.GOAL, COMPUTED),
        (FocusArea, ItemType.FOCUS_AREA, COMPUTED),
    ):
        for row in model.objects.filter(plan=plan).values("pk", *fields):
            state[(item_type, row.pop("pk"))] = row
    state[(ItemType.PLAN, plan.pk)] = Plan.objects.filter(pk=plan.pk).values(*COMPUTED).get()
    # The stored tallies (plans.tallies), as the pages read them: current, and what a count of the rows gives.
    fresh = Plan.objects.get(pk=plan.pk)
    tallies, counted = tallies_current(fresh), tallies_count(fresh)
    assert tallies is not None
    state["tallies"] = (sorted(map(tuple, tallies["counts"])), tallies["closure"])  # union parts come in any order
    assert state["tallies"] == (sorted(map(tuple, counted["counts"])), counted["closure"])
    days = [TODAY, *month_ends_between(START, min(END, TODAY))]
    for row in StatusSnapshot.objects.filter(plan=plan, as_of__in=days).values(
        "item_type", "item_id", "as_of", "status", "score", "progress", "forecast", "explanation"
    ):
        state[(row.pop("item_type"), row.pop("item_id"), row.pop("as_of"))] = row
    return state


def write(plan: Plan, op: tuple) -> None:
    """One write through the services, as a web form or the API makes it (it commits: transactional_db)."""
    kind, index, number = op
    kpis = list(KPI.objects.filter(plan=plan).order_by("pk"))
    milestones = list(Milestone.objects.filter(plan=plan).order_by("pk"))
    goals = list(Goal.objects.filter(plan=plan).order_by("pk"))
    kpi = kpis[index % len(kpis)] if kpis else None
    milestone = milestones[index % len(milestones)] if milestones else None
    goal = goals[index % len(goals)]
    if kind == "measure" and kpi:
        services.measurement_record(kpi=kpi, date=day(number * 7 + 1), value=50 + number % 50, note="checked")
    elif kind == "achieve" and kpi:  # today, past the target: achieved again by a second one, no figure moves
        services.measurement_record(kpi=kpi, date=TODAY, value=90 + number, note="above target")
    elif kind == "unmeasure" and kpi:
        measurement = Measurement.objects.filter(kpi=kpi).order_by("date").first()
        if measurement:
            services.measurement_delete(measurement=measurement)
    elif kind == "progress" and milestone and milestone.state != MilestoneState.CANCELLED:
        percent = min(number * 10, 100)
        completed_on = day(number * 20) if percent == 100 else None
        state = MilestoneState.DONE if percent == 100 else MilestoneState.IN_PROGRESS
        services.milestone_progress_record(
            milestone=milestone, percent_complete=percent, state=state, note="logged", completed_on=completed_on
        )
    elif kind == "kpi_weight" and kpi:
        services.kpi_update(kpi=kpi, data={"weight": Decimal(number % 3 + 1)})
    elif kind == "kpi_target" and kpi:
        services.kpi_update(kpi=kpi, data={"target_value": 66.0 + number})
    elif kind == "kpi_move" and kpi:
        services.kpi_update(kpi=kpi, data={"goal": goals[number % len(goals)]})
    elif kind == "milestone_due" and milestone:
        services.milestone_update(milestone=milestone, data={"due_date": day(100 + number * 30)})
    elif kind == "goal_start":
        services.goal_update(goal=goal, data={"start_date": day(number * 10), "weight": Decimal(number % 2 + 1)})
    elif kind == "kpi_create":
        services.kpi_create(
            data={
                "goal": goal,
                "code": f"NEW-{KPI.objects.count()}-{number}",
                "name": "New",
                "unit": "%",
                "baseline_value": 60.0,
                "baseline_date": START - datetime.timedelta(days=1),
                "target_value": 70.0 + number,
                "target_date": END,
                "frequency": "quarterly",
            }
        )
    elif kind == "kpi_delete" and kpi:
        services.kpi_delete(kpi=kpi)
    elif kind == "milestone_delete" and milestone:
        services.milestone_delete(milestone=milestone)


shapes = st.lists(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=2), min_size=1, max_size=2
)
kinds = st.sampled_from(
    [
        "measure",
        "measure",
        "achieve",
        "achieve",
        "unmeasure",
        "progress",
        "kpi_weight",
        "kpi_target",
        "kpi_move",
        "milestone_due",
        "goal_start",
        "kpi_create",
        "kpi_delete",
        "milestone_delete",
    ]
)
ops = st.lists(st.tuples(kinds, st.integers(0, 9), st.integers(0, 10)), min_size=1, max_size=6)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=25,
    print_blob=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(shape=shapes, weights=st.lists(WEIGHTS, min_size=1, max_size=5), writes=ops)
def test_incremental_updates_equal_a_whole_plan_recompute(shape, weights, writes, caplog):
    plan = plan_build(shape, weights)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="plans.incremental"):
        for op in writes:
            write(plan, op)
    assert FALLBACK not in caplog.text
    assert_equals_backfill(plan)


def assert_equals_backfill(plan: Plan) -> None:
    """The plan's stored statuses and snapshots are what a backfill from its source rows gives."""
    plan.refresh_from_db()
    assert plan.computed_revision == plan.data_revision
    incremental = stored(plan)
    plan_recompute(plan_id=plan.pk, backfill=True)
    whole = stored(plan)
    differing = {
        key: (incremental.get(key), whole.get(key))
        for key in incremental.keys() | whole.keys()
        if incremental.get(key) != whole.get(key)
    }
    assert not differing, sorted(differing.items(), key=str)[:3]


LARGE = INLINE_MAX_ITEMS + 10  # KPIs in the large plan: more than the old whole-plan threshold (200)
bulks = st.lists(
    st.tuples(
        st.integers(INLINE_MAX_ITEMS + 1, LARGE),  # KPIs the bulk touches
        st.integers(0, 330),  # its earliest date, days after START (later rows follow it)
        st.integers(0, 3),  # rows per KPI
        st.integers(0, 2**16),  # seed of its values
    ),
    min_size=1,
    max_size=3,
)


def bulk_write(plan: Plan, bulk: tuple) -> None:
    """One bulk upsert of measurements of ``touched`` KPIs, through the service the API calls."""
    touched, first, per_kpi, seed = bulk
    kpis = list(KPI.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True))[:touched]
    rows = [
        MeasurementRow(kpi_id=kpi_id, date=day(first + 9 * n), value=55.0 + (seed * 7 + kpi_id * 3 + n) % 40, note="x")
        for kpi_id in kpis
        for n in range(max(per_kpi, 1))
        if day(first + 9 * n) not in {day(first + 9 * m) for m in range(n)}
    ]
    services.measurements_bulk_upsert(rows=rows)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=6,
    print_blob=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(writes=bulks, small=ops)
def test_incremental_updates_of_batches_above_the_old_threshold_equal_a_backfill(writes, small, caplog, monkeypatch):
    """Bulk upserts of more than 200 KPIs (the update runs as the worker's task, here in-process), mixed with
    single writes, on a plan of 210 KPIs: the past month ends are recounted, not re-evaluated."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    plan = plan_build([[(35, 1)] * 3, [(35, 1)] * 3], [Decimal("1"), Decimal("2")])
    assert KPI.objects.filter(plan=plan).count() == LARGE
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="plans.incremental"):
        for bulk, op in itertools.zip_longest(writes, small):
            if bulk:
                bulk_write(plan, bulk)
            if op:
                write(plan, op)
    assert FALLBACK not in caplog.text
    assert_equals_backfill(plan)


def measured_plan(goals: int) -> KPI:
    """A plan of ``goals`` goals of three KPIs and two milestones each, computed today; returns one KPI."""
    return plan_build([[(3, 2)] * goals], [Decimal("1")]).kpis.order_by("pk").first()


def measurement_write_queries(kpi: KPI, capture) -> int:
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        services.measurement_record(kpi=kpi, date=TODAY, value=71, note="checked")
    return len(queries)


@pytest.mark.django_db
def test_a_measurement_write_costs_the_same_queries_whatever_the_plan_size(django_capture_on_commit_callbacks):
    small = measurement_write_queries(measured_plan(2), django_capture_on_commit_callbacks)
    large = measurement_write_queries(measured_plan(12), django_capture_on_commit_callbacks)
    # full_clean checks the zones' unit constraints; the aggregate refresh reads once; the plan's tallies are
    # counted once (two queries) so that the pages need not count them (plans.tallies)
    assert small == large <= 50


def tallies_of(plan_id: int) -> tuple:
    tallies = Plan.objects.get(pk=plan_id).tallies
    return sorted(map(tuple, tallies["counts"])), tallies["closure"], tallies["revision"]


def counted_now(plan_id: int) -> tuple:
    counted = tallies_count(Plan.objects.get(pk=plan_id))
    return sorted(map(tuple, counted["counts"])), counted["closure"], counted["revision"]


@pytest.mark.django_db
def test_figures_shift_the_stored_tallies_and_anything_else_counts_them(
    django_capture_on_commit_callbacks, monkeypatch
):
    """A write of figures only moves the counts of the items whose status or final figure moved (the rows are not
    counted again: plans.tallies.tallies_shifted); any other write has them counted. Both as a count gives."""
    kpi = measured_plan(2)
    counts = []
    monkeypatch.setattr(plans.incremental, "tallies_count", lambda plan: counts.append(plan.pk) or tallies_count(plan))
    before = tallies_of(kpi.plan_id)
    with django_capture_on_commit_callbacks(execute=True):  # the KPI and its goal move
        services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked")
    assert KPI.objects.get(pk=kpi.pk).status == "achieved"
    assert counts == []
    assert tallies_of(kpi.plan_id) == counted_now(kpi.plan_id) != before
    other = measured_plan(2)  # a plan of its own: this test's one transaction updates a plan once
    with django_capture_on_commit_callbacks(execute=True):  # a milestone's progress: counted
        services.milestone_progress_record(
            milestone=Milestone.objects.filter(goal=other.goal_id).first(), percent_complete=40, state="in_progress"
        )
    assert counts == [other.plan_id]
    assert tallies_of(other.plan_id) == counted_now(other.plan_id)


def test_tallies_that_would_shift_below_zero_are_counted_instead():
    tallies = {"revision": 3, "counts": [["kpi", "on_track", 1]], "closure": [1, 0, 0, 0]}
    moved = ("kpi", ("on_track", False), ("achieved", True))
    assert tallies_shifted(tallies, 4, [moved]) == {
        "revision": 4,
        "counts": [["kpi", "achieved", 1]],
        "closure": [1, 1, 1, 0],
    }
    assert tallies_shifted(tallies, 4, [moved, moved]) is None


@pytest.mark.django_db
def test_a_write_updates_its_chain_without_a_whole_plan_recompute(django_capture_on_commit_callbacks, caplog):
    kpi = measured_plan(3)
    untouched = KPI.objects.exclude(goal=kpi.goal).order_by("pk").first()
    before = untouched.computed_at
    with caplog.at_level(logging.INFO, logger="plans.incremental"), django_capture_on_commit_callbacks(execute=True):
        services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked")
    kpi.refresh_from_db()
    plan = Plan.objects.get(pk=kpi.plan_id)
    assert kpi.status == "achieved"
    assert FALLBACK not in caplog.text
    assert not plan.needs_recompute
    assert KPI.objects.get(pk=untouched.pk).computed_at == before
    assert StatusSnapshot.objects.get(item_type=ItemType.KPI, item_id=kpi.pk, as_of=TODAY).status == "achieved"


def stamps(kpi: KPI) -> dict:
    return {
        model.__name__: tuple(model.objects.filter(pk=pk).values_list("computed_at", "updated_at").get())
        for model, pk in ((KPI, kpi.pk), (Goal, kpi.goal_id), (FocusArea, kpi.goal.focus_area_id))
    }


@pytest.mark.django_db
def test_an_update_rewrites_only_the_items_whose_values_changed(django_capture_on_commit_callbacks):
    kpi = measured_plan(3)
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked")
    before = stamps(kpi)

    def again():
        plan = Plan.objects.get(pk=kpi.plan_id)
        revision = plan.data_revision
        assert plan_update_incremental(
            plan_id=plan.pk,
            changes=Changes.measured([kpi.pk], TODAY),
            first_revision=revision + 1,
            last_revision=revision,
        )

    again()  # the same statuses and explanations: no item is written again
    assert stamps(kpi) == before
    # An explanation that differs with every figure a client shows unchanged: the row is written (computed_at
    # moves) but incremental sync is not told (updated_at stays).
    stored = KPI.objects.get(pk=kpi.pk).explanation
    KPI.objects.filter(pk=kpi.pk).update(explanation={**stored, "summary": "stale words"})
    again()
    after = stamps(kpi)
    assert after["KPI"][0] > before["KPI"][0] and after["KPI"][1] == before["KPI"][1]
    assert KPI.objects.get(pk=kpi.pk).explanation == stored
    assert after["Goal"] == before["Goal"] and after["FocusArea"] == before["FocusArea"]


def rollups_counted(monkeypatch) -> list:
    """The roll-ups the incremental update computes from here on, by their children's keys."""
    counted, rollup_status = [], plans.incremental.rollup.rollup_status

    def counting(*, as_of, children):
        counted.append([child.key for child in children])
        return rollup_status(as_of=as_of, children=children)

    monkeypatch.setattr(plans.incremental.rollup, "rollup_status", counting)
    return counted


@pytest.mark.django_db(transaction=True)  # each write commits, and its update runs then
def test_values_that_move_no_kpi_figure_roll_up_no_parent(monkeypatch):
    """A late figure of yesterday, below the KPI's achieved figure of today, moves none of the KPI's figures: its
    goal, focus area and plan keep theirs without being rolled up (their children are not even read), and
    everything equals a backfill. Its explanation counts one more point: told apart from the stored one by that
    count, which is not read to be compared."""
    plan = plan_build([[(2, 1), (1, 1)], [(1, 0)]], [Decimal("1")])
    kpi = KPI.objects.filter(plan=plan).order_by("pk").first()
    services.measurement_record(kpi=kpi, date=TODAY, value=95, note="achieved")
    goal_before = Goal.objects.filter(pk=kpi.goal_id).values("computed_at", "explanation").get()
    counted = rollups_counted(monkeypatch)
    read, explanations_read = [], plans.incremental._explanations_read
    monkeypatch.setattr(
        plans.incremental,
        "_explanations_read",
        lambda model, items: read.extend((model, item.pk) for item in items) or explanations_read(model, items),
    )
    yesterday = TODAY - datetime.timedelta(days=1)
    services.measurement_record(kpi=kpi, date=yesterday, value=85, note="late")
    assert (KPI, kpi.pk) not in read
    assert KPI.objects.get(pk=kpi.pk).explanation["inputs"]["points"]["count"] == 3
    plan.refresh_from_db()
    assert plan.computed_revision == plan.data_revision
    if not is_month_end(TODAY) and not is_month_end(yesterday):  # a month end's snapshot is rebuilt with its roll-ups
        assert counted == []
    assert Goal.objects.filter(pk=kpi.goal_id).values("computed_at", "explanation").get() == goal_before
    assert_equals_backfill(plan)


@pytest.mark.django_db(transaction=True)
def test_a_redefined_kpi_whose_figures_stay_rolls_up_its_goal_again(monkeypatch):
    """Renaming a KPI moves none of its figures, but its goal's explanation names it: the goal is rolled up. (A plan
    that starts today has no month end to rebuild, which would roll the goal up anyway.)"""
    plan = PlanFactory(start_date=TODAY, end_date=END, baseline_year=TODAY.year - 1)
    goal = GoalFactory(focus_area=FocusAreaFactory(plan=plan))
    baseline = TODAY - datetime.timedelta(days=1)
    kpi, _other = (KPIFactory(goal=goal, baseline_date=baseline, target_date=END) for _ in "ab")
    plan_recompute(plan_id=plan.pk)
    counted = rollups_counted(monkeypatch)
    services.kpi_update(kpi=kpi, data={"name": "Renamed indicator"})
    assert any(f"kpi:{kpi.pk}" in keys for keys in counted)
    labels = [row["label"] for row in Goal.objects.get(pk=goal.pk).explanation["inputs"]["children"]]
    assert f"{kpi.code} Renamed indicator" in labels
    assert_equals_backfill(plan)


def test_a_kpi_measured_and_redefined_in_one_transaction_is_not_values_only():
    kpi = KPIFactory.build(pk=7, goal_id=3)
    measured = Changes.measured([7, 8], TODAY)
    measured.merge(Changes.saved(kpi))
    assert measured.values_only == {8} and measured.kpis == {7, 8}
    saved = Changes.saved(kpi)
    saved.merge(Changes.measured([7], TODAY))
    saved.values_changed([7, 9])  # a nation's figure summed from its zones: values too
    assert saved.values_only == {9} and saved.kpis == {7, 9}
    assert Changes.from_json(saved.as_json()) == saved
    old_task = {key: value for key, value in saved.as_json().items() if key != "values_only"}
    assert Changes.from_json(old_task).values_only == set()  # queued before the field: none taken as values only


@pytest.mark.django_db(transaction=True)  # each write commits, and its update runs then
def test_an_update_leaves_todays_snapshots_whose_values_stay():
    """An item's snapshot of today is rewritten only when its status, score, progress or forecast moved; on a month
    end it keeps the explanation too, which moves with every point, and every snapshot of the chain is rewritten."""
    kpi = measured_plan(3)

    def today_ids() -> dict:
        rows = StatusSnapshot.objects.filter(plan_id=kpi.plan_id, as_of=TODAY)
        return {(item_type, item_id): pk for pk, item_type, item_id in rows.values_list("pk", "item_type", "item_id")}

    services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked")
    moved = today_ids()
    services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked twice")  # no figure moves
    plan = Plan.objects.get(pk=kpi.plan_id)
    assert plan.computed_revision == plan.data_revision == 2
    chain = {(ItemType.KPI, kpi.pk), (ItemType.GOAL, kpi.goal_id), (ItemType.FOCUS_AREA, kpi.goal.focus_area_id)}
    rewritten = {key for key, pk in today_ids().items() if moved.get(key) != pk}
    assert rewritten == (chain | {(ItemType.PLAN, plan.pk)} if is_month_end(TODAY) else set())
    assert_equals_backfill(plan)


@pytest.mark.django_db
def test_the_items_written_while_their_goals_roll_up_are_written_all_or_not_at_all(
    requires_postgres, django_capture_on_commit_callbacks, monkeypatch
):
    """The KPIs' rows go in a pipeline (``plans.setwrites.statements_overlapped``), copied beforehand into a
    temporary table when there are many: what a backfill gives; and should their UPDATE fail at the database,
    the error comes out of the update and nothing of it is left."""
    monkeypatch.setattr("plans.setwrites.COPY_MIN_ROWS", 1)  # a national batch's way, on a small plan
    kpi = measured_plan(2)
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked")
    assert_equals_backfill(Plan.objects.get(pk=kpi.plan_id))

    def computed() -> list:
        return list(KPI.objects.filter(plan=kpi.plan_id).order_by("pk").values_list(*KPI_COMPUTED, "computed_at"))

    def update() -> None:
        plan = Plan.objects.get(pk=kpi.plan_id)
        plan_update_incremental(
            plan_id=plan.pk,
            changes=Changes.measured([kpi.pk], TODAY),
            first_revision=plan.data_revision + 1,
            last_revision=plan.data_revision,
        )

    before = computed()
    apply = plans.incremental.item_apply

    def refused(item, result, now, *, kpi):  # a status the table's check constraint refuses: the database's error
        written = apply(item, result, now, kpi=kpi)
        if kpi:
            item.status, item.computed_at = "bogus", now
        return written or kpi

    with monkeypatch.context() as patched:
        patched.setattr("plans.incremental.item_apply", refused)
        with pytest.raises(IntegrityError, match="plans_kpi_status_valid"):
            update()
    assert computed() == before
    with monkeypatch.context() as patched:  # Python's error while the rows are being written
        patched.setattr("plans.incremental._roll_up", lambda *args: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            update()
    assert computed() == before
    update()  # the connection goes on
    assert_equals_backfill(Plan.objects.get(pk=kpi.plan_id))


@pytest.mark.django_db
def test_a_plan_not_computed_today_falls_back_to_the_whole_plan_recompute():
    kpi = measured_plan(1)
    Plan.objects.filter(pk=kpi.plan_id).update(computed_at=timezone.now() - datetime.timedelta(days=2))
    with pytest.raises(Fallback, match="not today's"):
        plan_update_incremental(
            plan_id=kpi.plan_id, changes=Changes.measured([kpi.pk], TODAY), first_revision=1, last_revision=1
        )


@pytest.mark.django_db
def test_a_structural_change_falls_back_to_the_whole_plan_recompute(django_capture_on_commit_callbacks, caplog):
    kpi = measured_plan(1)
    area = FocusArea.objects.get(plan_id=kpi.plan_id)
    with caplog.at_level(logging.INFO, logger="plans.incremental"), django_capture_on_commit_callbacks(execute=True):
        services.structure_save(item=area, is_new=False)
    assert FALLBACK in caplog.text


@pytest.mark.django_db
def test_a_write_after_an_uncomputed_one_updates_its_chain_and_leaves_the_plan_marked(
    django_capture_on_commit_callbacks,
):
    kpi = measured_plan(1)
    Plan.objects.filter(pk=kpi.plan_id).update(data_revision=kpi.plan.data_revision + 1)  # a write not yet computed
    with django_capture_on_commit_callbacks() as callbacks:
        services.measurement_record(kpi=kpi, date=TODAY, value=95, note="checked")
    callback = callbacks[0]
    assert not plan_update_incremental(
        plan_id=kpi.plan_id,
        changes=callback.changes,
        first_revision=callback.last_revision,
        last_revision=callback.last_revision,
    )
    plan = Plan.objects.get(pk=kpi.plan_id)
    assert KPI.objects.get(pk=kpi.pk).status == "achieved"
    assert plan.needs_recompute


def dashboard_kpi_status(client, kpi: KPI) -> str:
    response = client.get(reverse("plans:dashboard", kwargs={"slug": kpi.plan.slug}))
    return next(row.status for row in response.context["kpis"] if row.pk == kpi.pk)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_web_form_write_shows_on_the_dashboard_within_two_seconds(celery_worker, client):
    kpi = measured_plan(2)
    client.force_login(UserFactory(role=STAFF, teams=[kpi.owner_team]))
    assert dashboard_kpi_status(client, kpi) != "achieved"

    response = client.post(
        reverse("plans:measurement_create", kwargs={"pk": kpi.pk}),
        {"version": kpi.version, "date": TODAY.isoformat(), "value": "95", "note": "final figure"},
    )

    assert response.status_code == 302
    assert wait_for(lambda: dashboard_kpi_status(client, kpi) == "achieved", timeout=2.0, interval=0.1)
    assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute


def test_changes_survive_the_task_argument_round_trip():
    changes = Changes(
        kpis={3, 1},
        milestones={7},
        goals={2},
        parents={(ItemType.GOAL, 4)},
        deleted={(ItemType.KPI, 9)},
        since=TODAY,
    )
    assert Changes.from_json(json.loads(json.dumps(changes.as_json()))) == changes
    assert Changes.from_json(json.loads(json.dumps(Changes().as_json()))).since == datetime.date.min


@pytest.mark.django_db
def test_a_large_change_with_the_broker_down_leaves_the_plan_marked(django_capture_on_commit_callbacks, monkeypatch):
    """The worker's update cannot be queued: the write stands, the plan stays marked for the catch-up."""
    kpi = measured_plan(1)
    monkeypatch.setattr("plans.incremental.INLINE_MAX_ITEMS", 2)  # 3 KPIs: the worker's task
    rows = [
        MeasurementRow(kpi_id=pk, date=TODAY, value=95.0, note="final")
        for pk in kpi.goal.kpis.values_list("pk", flat=True)
    ]
    broker_breaker.trip()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.measurements_bulk_upsert(rows=rows)["created"] == 3
    finally:
        broker_breaker.reset()
    assert Plan.objects.get(pk=kpi.plan_id).needs_recompute
    assert Measurement.objects.filter(kpi__plan=kpi.plan_id, date=TODAY).count() == 3


@pytest.mark.django_db
def test_a_large_change_is_brought_up_to_date_by_the_worker_task(django_capture_on_commit_callbacks, monkeypatch):
    kpi = measured_plan(1)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setattr("plans.incremental.INLINE_MAX_ITEMS", 2)
    rows = [
        MeasurementRow(kpi_id=pk, date=TODAY, value=95.0, note="final")
        for pk in kpi.goal.kpis.values_list("pk", flat=True)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        services.measurements_bulk_upsert(rows=rows)
    assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute
    assert set(KPI.objects.filter(plan=kpi.plan_id).values_list("status", flat=True)) == {"achieved"}


@pytest.mark.django_db(transaction=True)
def test_a_large_batchs_update_reads_its_series_aside_and_gives_what_a_backfill_gives(requires_postgres, monkeypatch):
    """The update of a batch of many KPIs reads their series on a connection of its own while the chain loads
    (``plans.series.series_packed_aside``): the written rows are committed, so it reads what a read here would."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setattr("plans.incremental.INLINE_MAX_ITEMS", 4)
    monkeypatch.setattr("plans.series.ASIDE_MIN_KPIS", 5)
    plan = Plan.objects.get(pk=measured_plan(3).plan_id)  # 9 KPIs
    readers, read = [], series.series_packed

    def reading(ids):
        readers.append(threading.current_thread().name)
        return read(ids)  # each part of the KPIs, on its own connection

    monkeypatch.setattr(series, "series_packed", reading)
    kpis = KPI.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True)
    services.measurements_bulk_upsert(
        rows=[MeasurementRow(kpi_id=pk, date=TODAY, value=60.0 + pk % 7, note="batch") for pk in kpis]
    )
    # each of the connections aside reads its chunks in turn
    assert {name.split("_")[0] for name in readers} == {"series-aside"}
    assert len(set(readers)) == series.ASIDE_PARTS < len(readers)
    assert_equals_backfill(plan)


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_of_zone_figures_reads_the_nations_derived_series_here_and_gives_what_a_backfill_gives(
    requires_postgres, monkeypatch
):
    """The series read aside starts before the zones' aggregates refresh: when the refresh then writes the nation's
    derived figures, which another connection cannot see before the commit, the read aside is set aside and the
    series are read here."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setattr("plans.incremental.INLINE_MAX_ITEMS", 4)
    monkeypatch.setattr("plans.series.ASIDE_MIN_KPIS", 5)
    zone = ZoneFactory(parent=ProvinceFactory(parent=NationFactory()))
    plan = Plan.objects.get(pk=measured_plan(3).plan_id)  # 9 KPIs
    KPI.objects.filter(plan=plan).update(aggregation=Aggregation.SUM, national_source=NationalSource.DERIVED)
    plan_recompute(plan_id=plan.pk)
    kpis = KPI.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True)
    services.measurements_bulk_upsert(
        rows=[MeasurementRow(kpi_id=pk, date=TODAY, value=500.0 + pk % 7, unit_id=zone.pk, note="z") for pk in kpis]
    )
    assert Measurement.objects.filter(kpi__plan=plan, source=MeasurementSource.DERIVED, date__gte=TODAY).count()
    assert_equals_backfill(plan)
