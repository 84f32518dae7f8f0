import datetime
import json
import math

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from plans import recompute, rollup, services, setwrites
from plans.dates import month_ends_between
from plans.models import KPI, FocusArea, Goal, Milestone, Plan, StatusSnapshot
from plans.recompute import plan_backfill, plan_recompute
from plans.rollup import METHOD_VERSION
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    PlanFactory,
)

pytestmark = pytest.mark.django_db
JULY_1 = datetime.date(2025, 7, 1)


def record(kpi, day, value):
    return services.measurement_record(kpi=kpi, date=day, value=value)


def test_worked_examples_flow_from_source_rows_to_goal_status():
    goal = GoalFactory()
    kpi = KPIFactory(goal=goal, weight=2)
    record(kpi, datetime.date(2025, 6, 30), 70)
    MilestoneFactory(goal=goal, start_date=datetime.date(2025, 1, 1), due_date=datetime.date(2025, 6, 30))
    MilestoneFactory(goal=goal, start_date=datetime.date(2025, 9, 1), due_date=datetime.date(2025, 12, 31))

    plan_recompute(plan_id=goal.plan_id, as_of=JULY_1)

    kpi.refresh_from_db()
    goal.refresh_from_db()
    assert (kpi.status, round(kpi.score, 4), round(kpi.forecast_value, 4)) == ("on_track", 2.9163, 80.1657)
    assert (kpi.latest_value, kpi.latest_date) == (70, datetime.date(2025, 6, 30))
    assert round(goal.score, 4) == round((2 * 2.9163 - 3.75) / 3, 4)
    assert goal.status == "at_risk"
    assert goal.explanation["values"]["coverage"] == pytest.approx(0.75)


def test_every_item_gets_status_score_and_explanation():
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get()
    plan_recompute(plan_id=plan.pk)
    for model in (KPI, Milestone, Goal, FocusArea, Plan):
        assert not model.objects.filter(status="").exists(), model
        assert not model.objects.filter(explanation__isnull=True).exists(), model
    plan.refresh_from_db()
    assert plan.explanation["method_version"] == METHOD_VERSION == 2
    assert not plan.needs_recompute


def test_demo_plan_shows_a_mix_of_statuses():
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get()
    plan_recompute(plan_id=plan.pk, as_of=datetime.date(2026, 1, 15))
    kpi_statuses = set(KPI.objects.values_list("status", flat=True))
    # No KPI is without data any more: R&D growth, never reported nationally, is derived from the zones' R&D spending.
    assert {"achieved", "missed", "on_track", "off_track", "at_risk"} <= kpi_statuses
    assert {"complete", "overdue", "cancelled"} <= set(Milestone.objects.values_list("status", flat=True))
    assert KPI.objects.filter(stale=True).exists()


def computed_rows():
    rows = []
    for model in (KPI, Milestone, Goal, FocusArea, Plan):
        rows += list(model.objects.order_by("pk").values("pk", "status", "score", "progress", "explanation"))
    rows += list(StatusSnapshot.objects.order_by("item_type", "item_id", "as_of").values_list())
    return [row if isinstance(row, dict) else row[1:] for row in rows]


def test_recompute_is_idempotent():
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get()
    plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 9, 15))
    first = computed_rows()
    plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 9, 15))
    assert computed_rows() == first


def plan_of_size(kpis: int) -> Plan:
    plan = PlanFactory()
    goals = [GoalFactory(focus_area=FocusAreaFactory(plan=plan)) for _ in range(3)]
    for i in range(kpis):
        goal = goals[i % 3]
        kpi = KPIFactory(goal=goal)
        record(kpi, datetime.date(2025, 3, 31), 60 + i % 20)
        MilestoneFactory(goal=goal, percent_complete=i % 100)
    return plan


def count_queries(plan) -> int:
    with CaptureQueriesContext(connection) as ctx:
        plan_recompute(plan_id=plan.pk, as_of=JULY_1)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_plan_size(monkeypatch):
    # Reads are a fixed number of streamed queries; writes one statement per BATCH_ROWS rows, here all in one.
    monkeypatch.setattr(recompute, "BATCH_ROWS", 100_000)
    # Many rows go by COPY (two statements more than one small write's): the same way for both sizes here.
    monkeypatch.setattr(setwrites, "COPY_MIN_ROWS", 1)
    small, large = plan_of_size(10), plan_of_size(1000)
    assert count_queries(small) == count_queries(large)
    assert (
        KPI.objects.filter(plan=large).exclude(status="on_track").count()
        + KPI.objects.filter(plan=large, status="on_track").count()
        == 1000
    )
    assert not KPI.objects.filter(plan=large, status="").exists()


FIRST_QUARTER_ENDS = {datetime.date(2025, 1, 31), datetime.date(2025, 2, 28), datetime.date(2025, 3, 31)}


def kpi_snapshot_days() -> set:
    return set(StatusSnapshot.objects.filter(item_type="kpi").values_list("as_of", flat=True))


def test_recompute_writes_a_snapshot_for_its_day_and_every_passed_month_end():
    kpi = KPIFactory()
    plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 4, 15))
    assert kpi_snapshot_days() == {*FIRST_QUARTER_ENDS, datetime.date(2025, 4, 15)}


def test_back_dated_measurement_rewrites_the_month_end_snapshots_it_affects():
    kpi = KPIFactory()
    plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 8, 15))
    snapshot = StatusSnapshot.objects.get(item_type="kpi", item_id=kpi.pk, as_of=datetime.date(2025, 5, 31))
    assert snapshot.status == "no_data"

    record(kpi, datetime.date(2025, 4, 30), 75)
    plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 8, 16))

    snapshot = StatusSnapshot.objects.get(item_type="kpi", item_id=kpi.pk, as_of=datetime.date(2025, 5, 31))
    assert snapshot.status == "on_track"
    march = StatusSnapshot.objects.get(item_type="kpi", item_id=kpi.pk, as_of=datetime.date(2025, 3, 31))
    assert march.status == "no_data"


def test_backfill_rebuilds_all_month_ends_of_the_period():
    kpi = KPIFactory()
    plan_backfill(plan_id=kpi.plan_id)
    days = StatusSnapshot.objects.filter(item_type="plan").values_list("as_of", flat=True)
    assert set(month_ends_between(datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))) <= set(days)


def test_month_end_replay_uses_milestone_progress_logged_by_then():
    milestone = MilestoneFactory(start_date=datetime.date(2025, 1, 1), due_date=datetime.date(2025, 12, 31))
    services.milestone_progress_record(milestone=milestone, percent_complete=100, state="done")
    from plans.models import MilestoneUpdate

    MilestoneUpdate.objects.update(created_at=datetime.datetime(2025, 6, 15, 12, tzinfo=datetime.UTC))
    plan_recompute(plan_id=milestone.plan_id, as_of=datetime.date(2025, 7, 10))
    status_on = dict(StatusSnapshot.objects.filter(item_type="milestone").values_list("as_of", "status"))
    assert status_on[datetime.date(2025, 5, 31)] == "off_track"
    assert status_on[datetime.date(2025, 6, 30)] == "complete"


def test_computed_at_keeps_its_time_of_day():
    from django.utils import timezone

    kpi = KPIFactory()
    before = timezone.now()
    plan_recompute(plan_id=kpi.plan_id)
    kpi.refresh_from_db()
    assert before <= kpi.computed_at <= timezone.now()
    assert kpi.plan.__class__.objects.get(pk=kpi.plan_id).computed_at == kpi.computed_at


def test_recompute_of_a_deleted_plan_does_nothing():
    assert plan_recompute(plan_id=987654) is None


def test_recompute_rollups_command_accepts_plan_and_as_of(capsys):
    kpi = KPIFactory()
    call_command("recompute_rollups", "--plan", kpi.plan.slug, "--as-of", "2025-07-01")
    assert StatusSnapshot.objects.filter(item_type="kpi", item_id=kpi.pk, as_of=JULY_1).exists()
    assert "as of 2025-07-01" in capsys.readouterr().out


def stored_statuses(plan_id):
    return [
        sorted(model.objects.filter(**{key: plan_id}).values_list("id", "status", "explanation", "computed_at"))
        for model, key in ((KPI, "plan"), (Milestone, "plan"), (Goal, "plan"), (FocusArea, "plan"), (Plan, "pk"))
    ] + [Plan.objects.filter(pk=plan_id).values_list("computed_revision", "data_revision").get()]


def test_recompute_rollups_as_of_a_past_date_writes_its_snapshot_and_leaves_current_statuses():
    kpi = KPIFactory()
    MilestoneFactory(goal=kpi.goal, due_date=datetime.date(2025, 6, 30), percent_complete=40)
    record(kpi, datetime.date(2025, 3, 31), 66)
    plan_recompute(plan_id=kpi.plan_id)
    before = stored_statuses(kpi.plan_id)
    call_command("recompute_rollups", "--plan", kpi.plan.slug, "--as-of", "2025-04-15", verbosity=0)
    assert stored_statuses(kpi.plan_id) == before
    snapshot = StatusSnapshot.objects.get(item_type="kpi", item_id=kpi.pk, as_of=datetime.date(2025, 4, 15))
    assert snapshot.status == "on_track"


def test_recompute_rollups_command_rejects_an_unknown_plan():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("recompute_rollups", "--plan", "nope")


def test_recomputes_of_one_plan_are_serialised(requires_postgres, transactional_db):
    import threading
    import time

    from django.db import connections, transaction

    from plans.recompute import _lock

    kpi = KPIFactory()
    locked, release, finished = threading.Event(), threading.Event(), []

    def hold_lock():
        with transaction.atomic():
            _lock(kpi.plan_id)
            locked.set()
            release.wait(10)
            finished.append(("holder", time.monotonic()))
        connections.close_all()

    def recompute():
        plan_recompute(plan_id=kpi.plan_id)
        finished.append(("recompute", time.monotonic()))
        connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(10)
    worker = threading.Thread(target=recompute)
    worker.start()
    time.sleep(1)
    assert finished == []  # blocked behind the holder's lock
    release.set()
    holder.join()
    worker.join()
    assert [name for name, _ in finished] == ["holder", "recompute"]


def test_back_dated_completion_rewrites_the_month_ends_after_it():
    milestone = MilestoneFactory(start_date=datetime.date(2025, 1, 1), due_date=datetime.date(2025, 12, 31))
    services.milestone_progress_record(milestone=milestone, percent_complete=40, state="in_progress")
    from plans.models import MilestoneUpdate

    MilestoneUpdate.objects.update(created_at=datetime.datetime(2025, 3, 10, 12, tzinfo=datetime.UTC))
    plan_recompute(plan_id=milestone.plan_id, as_of=datetime.date(2025, 7, 10))

    services.milestone_progress_record(
        milestone=milestone, percent_complete=100, state="done", completed_on=datetime.date(2025, 5, 20)
    )
    plan_recompute(plan_id=milestone.plan_id, as_of=datetime.date(2025, 7, 11))

    status_on = dict(StatusSnapshot.objects.filter(item_type="milestone").values_list("as_of", "status"))
    assert status_on[datetime.date(2025, 4, 30)] != "complete"
    assert status_on[datetime.date(2025, 5, 31)] == "complete"
    assert status_on[datetime.date(2025, 6, 30)] == "complete"


def test_progress_advances_once_per_evaluated_day():
    class Bar:
        total, done = None, 0

        def reset(self, total):
            self.total = total

        def update(self, n=1):
            self.done += n

    kpi = KPIFactory()
    bar = Bar()
    summary = plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 4, 15), progress=bar)
    assert bar.total == bar.done == 1 + len(summary.month_ends) == 4


def snapshot_rows(plan_id) -> dict:
    rows = StatusSnapshot.objects.filter(plan_id=plan_id).values_list(
        "item_type", "item_id", "as_of", "status", "score", "progress", "forecast", "explanation"
    )
    return {row[:3]: row[3:] for row in rows}


def goal_with_history() -> Goal:
    goal = GoalFactory()
    record(KPIFactory(goal=goal), datetime.date(2025, 6, 30), 70)
    MilestoneFactory(goal=goal, start_date=datetime.date(2025, 1, 1), due_date=datetime.date(2025, 12, 31))
    plan_recompute(plan_id=goal.plan_id, as_of=datetime.date(2025, 8, 15))
    return goal


def test_snapshots_stored_by_an_earlier_method_version_are_rewritten_with_the_current_one():
    goal = goal_with_history()
    expected = snapshot_rows(goal.plan_id)
    # What method version 1 left behind: other outcomes, and month-end explanations naming version 1.
    StatusSnapshot.objects.update(status="missed", score=-5.0)
    for snapshot in StatusSnapshot.objects.exclude(explanation=None):
        snapshot.explanation = {**snapshot.explanation, "method_version": 1}
        snapshot.save(update_fields=["explanation"])

    summary = plan_recompute(plan_id=goal.plan_id, as_of=datetime.date(2025, 8, 16))

    assert summary.method_changed
    assert summary.dropped_days == (datetime.date(2025, 8, 15),)  # month ends plus the current day are kept
    rows = snapshot_rows(goal.plan_id)
    month_ends = {key: row for key, row in expected.items() if key[2] != datetime.date(2025, 8, 15)}
    assert {key: row for key, row in rows.items() if key[2] != datetime.date(2025, 8, 16)} == month_ends
    explained = StatusSnapshot.objects.exclude(explanation=None)
    assert {s.as_of for s in explained} == set(
        month_ends_between(datetime.date(2025, 1, 1), datetime.date(2025, 8, 15))
    )
    assert {s.explanation["method_version"] for s in explained} == {METHOD_VERSION}


def test_statuses_computed_by_an_earlier_method_version_rebuild_the_whole_history():
    goal = goal_with_history()
    Plan.objects.filter(pk=goal.plan_id).update(explanation={"method_version": 1})
    StatusSnapshot.objects.filter(as_of=datetime.date(2025, 3, 31)).update(status="missed")
    summary = plan_recompute(plan_id=goal.plan_id, as_of=datetime.date(2025, 8, 16))
    assert summary.method_changed
    assert len(summary.month_ends) == 7
    assert not StatusSnapshot.objects.filter(as_of=datetime.date(2025, 3, 31), status="missed").exists()


def test_a_recompute_under_the_same_method_version_leaves_old_history_alone():
    goal = goal_with_history()
    StatusSnapshot.objects.filter(as_of=datetime.date(2025, 3, 31)).update(status="missed")
    summary = plan_recompute(plan_id=goal.plan_id, as_of=datetime.date(2025, 8, 16))
    assert not summary.method_changed
    assert summary.month_ends == ()
    assert StatusSnapshot.objects.filter(as_of=datetime.date(2025, 3, 31), status="missed").exists()


def test_recompute_rollups_command_says_when_it_recomputed_history_for_a_new_method(capsys):
    goal = goal_with_history()
    Plan.objects.filter(pk=goal.plan_id).update(explanation={"method_version": 1})
    call_command("recompute_rollups", "--plan", goal.plan.slug)  # a current recompute: --as-of writes one snapshot
    assert f"history recomputed with method version {METHOD_VERSION}" in capsys.readouterr().out


def stored_results(plan) -> dict:
    rows = {}
    for model, item_type in ((KPI, "kpi"), (Milestone, "milestone"), (Goal, "goal"), (FocusArea, "focus_area")):
        for pk, status, score, progress, explanation in model.objects.filter(plan=plan).values_list(
            "pk", "status", "score", "progress", "explanation"
        ):
            rows[(item_type, pk)] = (status, score, progress, explanation)
    return rows


@pytest.mark.parametrize("batch", [3, 100_000])
def test_streamed_recompute_stores_what_the_in_memory_evaluation_gives(monkeypatch, batch):
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get()
    monkeypatch.setattr(recompute, "BATCH_ROWS", batch)
    as_of = datetime.date(2025, 9, 15)
    plan_recompute(plan_id=plan.pk, as_of=as_of)
    expected = recompute.plan_evaluate(recompute.plan_data_load(plan), as_of, live=False)
    want = {
        key: (str(r.status), r.score, r.progress, recompute._normalised(r.explanation))
        for key, r in expected.items()
        if key[0] != "plan"
    }
    assert stored_results(plan) == want
    june = {
        (s.item_type, s.item_id): (s.status, s.score)
        for s in StatusSnapshot.objects.filter(plan=plan, as_of=datetime.date(2025, 6, 30))
    }
    replay = recompute.plan_evaluate(recompute.plan_data_load(plan), datetime.date(2025, 6, 30), live=False)
    assert june == {key: (str(r.status), r.score) for key, r in replay.items()}


def test_a_recompute_with_nothing_new_rewrites_no_row():
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get()
    first = plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 9, 15))
    assert first.rows_written == first.items - 1  # every item but the plan, whose row is always written
    stamps = dict(KPI.objects.values_list("pk", "computed_at"))

    again = plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 9, 15))

    assert again.rows_written == 0
    assert dict(KPI.objects.values_list("pk", "computed_at")) == stamps
    assert Plan.objects.get().computed_at > max(stamps.values())


def test_a_new_measurement_rewrites_only_the_rows_it_changes():
    goal = GoalFactory()
    kpi, other = KPIFactory(goal=goal), KPIFactory(goal=GoalFactory(focus_area=goal.focus_area))
    plan_recompute(plan_id=goal.plan_id, as_of=JULY_1)
    record(kpi, datetime.date(2025, 6, 30), 70)
    summary = plan_recompute(plan_id=goal.plan_id, as_of=JULY_1)
    # The KPI, its goal and their roll-ups change; the other KPI does not.
    changed = {
        model.__name__: set(
            model.objects.filter(plan_id=goal.plan_id, computed_at=Plan.objects.get().computed_at).values_list(
                "pk", flat=True
            )
        )
        for model in (KPI, Goal, FocusArea)
    }
    assert changed["KPI"] == {kpi.pk}
    assert other.pk not in changed["KPI"]
    assert goal.pk in changed["Goal"]
    assert (
        summary.rows_written
        == sum(len(pks) for pks in changed.values())
        + Milestone.objects.filter(plan_id=goal.plan_id, computed_at=Plan.objects.get().computed_at).count()
    )


def test_snapshots_keep_month_ends_and_the_current_day():
    kpi = KPIFactory()
    plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 4, 15))
    summary = plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 4, 16))
    assert kpi_snapshot_days() == {*FIRST_QUARTER_ENDS, datetime.date(2025, 4, 16)}
    assert summary.dropped_days == (datetime.date(2025, 4, 15),)


def test_kpi_points_lists_every_measurement_the_summary_counts():
    from plans.explain import kpi_points

    kpi = KPIFactory()
    MeasurementFactory(kpi=kpi, date=datetime.date(2024, 12, 31), value=59)  # a stray row at the baseline date
    for day, value in (("2025-03-31", 66), ("2025-06-30", 70), ("2025-08-31", 72)):
        record(kpi, datetime.date.fromisoformat(day), value)
    plan_recompute(plan_id=kpi.plan_id, as_of=JULY_1)
    kpi.refresh_from_db()
    points = kpi_points(kpi)
    summary = kpi.explanation["inputs"]["points"]
    assert [(p["date"], p["used"], p["reason"]) for p in points] == [
        ("2024-12-31", False, "on_or_before_baseline_date"),
        ("2025-03-31", True, None),
        ("2025-06-30", True, None),
        ("2025-08-31", False, "after_as_of_date"),
    ]
    assert summary["count"] == len(points) and summary["used"] == sum(p["used"] for p in points)
    assert summary["last"] == {"date": "2025-06-30", "value": 70.0}
    assert [p["used"] for p in kpi_points(kpi, as_of=datetime.date(2025, 9, 30))] == [False, True, True, True]


BASELINE = datetime.date(2024, 12, 31)
series_points = st.lists(
    st.builds(
        rollup.MeasurementPoint,
        date=st.integers(-40, 400).map(lambda offset: BASELINE + datetime.timedelta(days=offset)),
        value=st.integers(-10_000, 10_000).map(lambda i: i / 100),
        recorded_at=st.one_of(
            st.none(),
            st.integers(0, 3).map(lambda h: datetime.datetime(2025, 7, 1, h)),  # naive: taken as UTC
            st.integers(0, 3).map(lambda h: datetime.datetime(2025, 7, 1, h, tzinfo=datetime.UTC)),
        ),
    ),
    max_size=12,
)


@pytest.mark.django_db(False)
@settings(max_examples=300, deadline=None, database=None)
@given(
    points=series_points,
    as_of=st.integers(-60, 420).map(lambda offset: BASELINE + datetime.timedelta(days=offset)),
    target=st.integers(-10_000, 10_000).map(lambda i: i / 100),
    direction=st.sampled_from(["increase", "decrease"]),
    frequency=st.sampled_from(["monthly", "quarterly", "annual"]),
)
def test_a_measurement_series_gives_the_result_of_its_points(points, as_of, target, direction, frequency):
    case = dict(
        as_of=as_of,
        baseline_value=50.0,
        baseline_date=BASELINE,
        target_value=target,
        target_date=datetime.date(2025, 12, 31),
        direction=direction,
        frequency=frequency,
    )
    series = rollup.MeasurementSeries.from_points(points)
    expected = rollup.kpi_status(**case, measurements=points)
    assert rollup.kpi_status(**case, measurements=series) == expected
    # In the order the series ranks them, the points give the very same explanation, key order included.
    ranked = sorted(enumerate(points), key=lambda p: (p[1].date, rollup._recorded_key(p[1].recorded_at), p[0]))
    in_order = rollup.kpi_status(**case, measurements=[p for _, p in ranked])
    assert json.dumps(rollup.kpi_status(**case, measurements=series).explanation) == json.dumps(in_order.explanation)


def test_a_series_refuses_a_value_that_is_not_finite():
    series = rollup.MeasurementSeries([BASELINE.toordinal() + 1], [math.nan])
    with pytest.raises(ValueError, match="measurement value must be a finite number"):
        rollup.kpi_status(
            as_of=JULY_1,
            baseline_value=50.0,
            baseline_date=BASELINE,
            target_value=60.0,
            target_date=datetime.date(2025, 12, 31),
            direction="increase",
            frequency="monthly",
            measurements=series,
        )


def test_recompute_ranks_same_day_measurements_as_the_status_method():
    # Several rows on one date (other sources), recorded earlier, later and at the same instant, rows on and
    # before the baseline date and after the as-of date: the streamed recompute reads each KPI's series from
    # the database in one row and must store what the method gives the list of its points.
    goal = GoalFactory()
    noon = datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.UTC)
    kpis = [KPIFactory(goal=goal, code=f"K{i}") for i in range(3)]
    rows = [
        (kpis[0], "2025-03-31", 61.5, "manual", noon),
        (kpis[0], "2025-03-31", 64.25, "api", noon + datetime.timedelta(hours=1)),  # later: counts
        (kpis[0], "2025-05-31", 66.0, "manual", noon + datetime.timedelta(hours=2)),
        (kpis[0], "2025-05-31", 63.0, "api", noon),  # earlier: superseded
        (kpis[1], "2025-04-30", 70.1, "manual", noon),
        (kpis[1], "2025-04-30", 65.3, "api", noon),  # same instant: the later row counts
        (kpis[1], "2024-12-31", 58.0, "manual", noon),
        (kpis[1], "2024-06-30", 57.0, "manual", noon),
        (kpis[2], "2025-08-31", 75.0, "manual", noon),  # after the as-of date only
    ]
    for kpi, day, value, source, recorded_at in rows:
        MeasurementFactory(
            kpi=kpi, date=datetime.date.fromisoformat(day), value=value, source=source, recorded_at=recorded_at
        )
    plan = Plan.objects.get(pk=goal.plan_id)
    plan_recompute(plan_id=plan.pk, as_of=JULY_1)
    expected = recompute.plan_evaluate(recompute.plan_data_load(plan), JULY_1, live=True)
    for kpi in KPI.objects.filter(plan=plan):
        result = expected[("kpi", kpi.pk)]
        assert (kpi.status, kpi.score, kpi.forecast_value, kpi.latest_value) == (
            result.status,
            result.score,
            result.forecast_value,
            result.latest_value,
        )
        assert kpi.explanation == recompute._normalised(result.explanation)
    summaries = [KPI.objects.get(pk=k.pk).explanation["inputs"]["points"] for k in kpis]
    assert [s["excluded"] for s in summaries] == [
        {"superseded_by_later_record_same_date": 2},
        {"on_or_before_baseline_date": 2, "superseded_by_later_record_same_date": 1},
        {"after_as_of_date": 1},
    ]
    assert summaries[0]["last"] == {"date": "2025-05-31", "value": 66.0}
    assert summaries[1]["last"] == {"date": "2025-04-30", "value": 65.3}
