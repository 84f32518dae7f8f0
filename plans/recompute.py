"""The status engine's write side: recompute a plan from its source rows with ``plans.rollup``.

One recompute loads the whole plan in a fixed number of queries, evaluates every KPI, milestone,
goal, focus area and the plan in Python, and writes the results with one statement per table
(``plans.setwrites``), whatever the plan's size. Recomputes of one plan are serialised by a
PostgreSQL advisory lock held for the transaction, so two workers cannot interleave their writes.

History: each recompute writes a StatusSnapshot of every item for its as-of date, and rebuilds
the month-end snapshots that may have changed since the previous recompute: month ends on or
after the earliest back-dated measurement or milestone completion written since then, and month
ends that passed since then. ``plan_backfill`` rebuilds all month ends of the plan's period.

Method versions: when the stored statuses were computed with another method version than
``rollup.METHOD_VERSION`` (the plan's explanation, or one of its month-end snapshots', says so),
the recompute rebuilds the whole history with the current one: every month end of the period and
every other day that has snapshots, so a trend never mixes two methods. The first recompute after
a deploy that changes the method (the nightly one, or ``recompute_rollups``) does it.

Replaying a past date uses the measurements dated up to it and each milestone's progress as
logged by then (MilestoneUpdate history; a milestone without history counts with its current
progress). Target, weight and date changes apply to the whole history once it is rebuilt.
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from . import rollup
from .choices import ItemType, MilestoneState
from .dates import is_month_end, month_ends_between
from .models import KPI, FocusArea, Goal, Measurement, Milestone, MilestoneUpdate, Plan, StatusSnapshot
from .setwrites import bulk_insert, bulk_set

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 7_311_001
COMMON_FIELDS = ["status", "score", "progress", "computed_at", "explanation", "updated_at"]
KPI_FIELDS = [*COMMON_FIELDS, "forecast_value", "forecast_low", "forecast_high", "latest_value", "latest_date", "stale"]
HEADLINE = ("status", "score", "progress", "forecast_value", "forecast_low", "forecast_high", "latest_value", "stale")


@dataclass
class PlanData:
    """Everything a recompute reads, loaded once."""

    plan: Plan
    focus_areas: list[FocusArea]
    goals: list[Goal]
    milestones: list[Milestone]
    kpis: list[KPI]
    points: dict[int, list[rollup.MeasurementPoint]] = field(default_factory=dict)
    history: dict[int, list[tuple]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecomputeSummary:
    """What one recompute wrote: the as-of day, and the past days whose snapshots it rebuilt."""

    plan_id: int
    as_of: datetime.date
    items: int
    month_ends: tuple[datetime.date, ...]
    other_days: tuple[datetime.date, ...] = ()
    method_changed: bool = False


def plan_data_load(plan: Plan) -> PlanData:
    """Six queries whatever the plan's size."""
    points = defaultdict(list)
    for kpi_id, date, value, recorded_at in Measurement.objects.filter(kpi__plan=plan).values_list(
        "kpi_id", "date", "value", "recorded_at"
    ):
        points[kpi_id].append(rollup.MeasurementPoint(date=date, value=value, recorded_at=recorded_at))
    history = defaultdict(list)
    updates = MilestoneUpdate.objects.filter(milestone__plan=plan).order_by("created_at", "id")
    for row in updates.values_list(
        "milestone_id", "created_at", "percent_complete", "state", "previous_percent_complete", "previous_state"
    ):
        history[row[0]].append(row[1:])
    return PlanData(
        plan=plan,
        focus_areas=list(FocusArea.objects.filter(plan=plan).order_by("order", "code")),
        goals=list(Goal.objects.filter(plan=plan).order_by("code")),
        milestones=list(Milestone.objects.filter(plan=plan).order_by("due_date", "id")),
        kpis=list(KPI.objects.filter(plan=plan).order_by("code")),
        points=points,
        history=history,
    )


def milestone_progress_at(milestone: Milestone, history: list[tuple], day: datetime.date, live: bool):
    """(percent, state) of a milestone at the end of ``day``: its latest logged update by then.

    A completion is back-dated to its ``completed_on`` date: a milestone logged done on 5 July as
    completed on 20 June counts complete at the June month end.
    """
    if live or not history:
        return milestone.percent_complete, milestone.state
    done = milestone.state == MilestoneState.DONE or milestone.percent_complete == 100
    if done and milestone.completed_on and milestone.completed_on <= day:
        return 100, MilestoneState.DONE
    logged = [row for row in history if timezone.localdate(row[0]) <= day]
    if logged:
        return logged[-1][1], logged[-1][2]
    first = history[0]
    return (first[3] or 0), (first[4] or MilestoneState.PLANNED)


def plan_evaluate(data: PlanData, as_of: datetime.date, *, live: bool) -> dict[tuple[str, int], rollup.Result]:
    """Results of every item at ``as_of`` keyed by (item type, id). Pure computation, no queries."""
    plan = data.plan
    results: dict[tuple[str, int], rollup.Result] = {}
    children = defaultdict(list)
    goals = {g.pk: g for g in data.goals}
    for kpi in data.kpis:
        result = rollup.kpi_status(
            as_of=as_of,
            baseline_value=kpi.baseline_value,
            baseline_date=kpi.baseline_date,
            target_value=kpi.target_value,
            target_date=kpi.target_date,
            direction=kpi.direction,
            frequency=kpi.frequency,
            measurements=data.points.get(kpi.pk, ()),
        )
        results[(ItemType.KPI, kpi.pk)] = result
        children[(ItemType.GOAL, kpi.goal_id)].append(_child(f"kpi:{kpi.pk}", f"{kpi.code} {kpi.name}", kpi, result))
    for milestone in data.milestones:
        goal = goals[milestone.goal_id]
        percent, state = milestone_progress_at(milestone, data.history.get(milestone.pk, []), as_of, live)
        result = rollup.milestone_status(
            as_of=as_of,
            start_date=milestone.start_date or goal.start_date or plan.start_date,
            due_date=milestone.due_date,
            percent_complete=percent,
            state=state,
        )
        results[(ItemType.MILESTONE, milestone.pk)] = result
        children[(ItemType.GOAL, goal.pk)].append(
            _child(f"milestone:{milestone.pk}", milestone.title, milestone, result)
        )
    for goal in data.goals:
        result = rollup.rollup_status(as_of=as_of, children=children[(ItemType.GOAL, goal.pk)])
        results[(ItemType.GOAL, goal.pk)] = result
        children[(ItemType.FOCUS_AREA, goal.focus_area_id)].append(
            _child(f"goal:{goal.pk}", f"{goal.code} {goal.title}", goal, result)
        )
    for area in data.focus_areas:
        result = rollup.rollup_status(as_of=as_of, children=children[(ItemType.FOCUS_AREA, area.pk)])
        results[(ItemType.FOCUS_AREA, area.pk)] = result
        children[(ItemType.PLAN, plan.pk)].append(
            _child(f"focus_area:{area.pk}", f"{area.code} {area.name}", area, result)
        )
    results[(ItemType.PLAN, plan.pk)] = rollup.rollup_status(as_of=as_of, children=children[(ItemType.PLAN, plan.pk)])
    return results


def _child(key: str, label: str, item, result: rollup.Result) -> rollup.Child:
    return rollup.Child(
        key=key,
        label=label,
        weight=float(item.weight),
        status=result.status,
        score=result.score,
        progress=result.progress,
    )


def _lock(plan_id: int) -> None:
    """Serialise recomputes of one plan until the transaction ends (SQLite serialises writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, plan_id % 2**31])


def _apply(item, result: rollup.Result, now, *, kpi: bool) -> None:
    before = tuple(getattr(item, name, None) for name in HEADLINE)
    item.status = str(result.status)
    item.score = result.score
    item.progress = result.progress
    item.explanation = result.explanation
    item.computed_at = now
    if kpi:
        item.forecast_value = result.forecast_value
        item.forecast_low = result.forecast_low
        item.forecast_high = result.forecast_high
        item.latest_value = result.latest_value
        item.latest_date = result.latest_date
        item.stale = result.stale
    # Incremental sync sees an item again only when a figure a client shows has changed.
    if tuple(getattr(item, name, None) for name in HEADLINE) != before:
        item.updated_at = now


def _write_live(data: PlanData, results, now) -> None:
    for model, items, item_type, fields in (
        (KPI, data.kpis, ItemType.KPI, KPI_FIELDS),
        (Milestone, data.milestones, ItemType.MILESTONE, COMMON_FIELDS),
        (Goal, data.goals, ItemType.GOAL, COMMON_FIELDS),
        (FocusArea, data.focus_areas, ItemType.FOCUS_AREA, COMMON_FIELDS),
    ):
        for item in items:
            _apply(item, results[(item_type, item.pk)], now, kpi=model is KPI)
        bulk_set(model, items, fields)
    plan = data.plan
    _apply(plan, results[(ItemType.PLAN, plan.pk)], now, kpi=False)
    bulk_set(Plan, [plan], [*COMMON_FIELDS, "computed_revision"])


SNAPSHOT_FIELDS = ["plan", "item_type", "item_id", "as_of", "status", "score", "progress", "forecast", "explanation"]


def _snapshot_rows(plan: Plan, day: datetime.date, results) -> list[SimpleNamespace]:
    """Plain rows, not model instances: a backfill of a national plan makes a great many.

    Month ends keep the explanation, so a past "Why?" can be read; other days keep the outcome only.
    """
    explain = is_month_end(day)
    return [
        SimpleNamespace(
            plan_id=plan.pk,
            item_type=item_type,
            item_id=item_id,
            as_of=day,
            status=str(result.status),
            score=result.score,
            progress=result.progress,
            forecast=result.forecast_value,
            explanation=result.explanation if explain else None,
        )
        for (item_type, item_id), result in results.items()
    ]


def _method_changed(plan: Plan) -> bool:
    """Whether stored statuses of the plan come from another method version than the current one.

    Every recompute writes all items of a day together, so the plan's own rows speak for the rest.
    """
    if plan.explanation and plan.explanation.get("method_version") != rollup.METHOD_VERSION:
        return True
    snapshots = StatusSnapshot.objects.filter(plan=plan, item_type=ItemType.PLAN, explanation__isnull=False)
    return snapshots.exclude(explanation__method_version=rollup.METHOD_VERSION).exists()


def _dirty_from(plan: Plan, previous: datetime.datetime | None) -> datetime.date | None:
    """Earliest date whose month-end snapshot may have changed since the previous recompute."""
    if previous is None:
        return plan.start_date
    measured = Measurement.objects.filter(kpi__plan=plan, updated_at__gt=previous).aggregate(d=Min("date"))["d"]
    completed = Milestone.objects.filter(plan=plan, updated_at__gt=previous).aggregate(d=Min("completed_on"))["d"]
    earliest = min(d for d in (measured, completed, timezone.localdate(previous)) if d is not None)
    # Month ends before the plan starts are never shown: a stray early date (written before dates were
    # checked, or by hand) must not make the run walk every month since it.
    return max(earliest, plan.start_date)


@transaction.atomic
def plan_recompute(
    *,
    plan_id: int,
    as_of: datetime.date | None = None,
    snapshot: bool = True,
    backfill: bool = False,
    progress=None,
    current: bool = True,
) -> RecomputeSummary | None:
    """Recompute one plan as of ``as_of`` (default today) and write statuses, snapshots and history.

    ``current=False`` writes only the snapshot for ``as_of`` (and, with ``backfill``, the month ends up
    to it), never the items' current status, explanation or the plan's computed revision: a replay of
    a past date must not become what the dashboards show as now (``recompute_rollups --as-of``).

    ``progress`` is an optional tqdm-like bar (``reset(total=...)``, ``update()``), advanced once per
    evaluated day, for the command's long runs.

    Idempotent: it reads only source rows, so running it twice gives the same statuses. Returns
    None when the plan no longer exists (a queued task may outlive its plan).
    """
    _lock(plan_id)
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return None
    today = timezone.localdate()
    as_of = as_of or today
    previous = plan.computed_at
    data = plan_data_load(plan)
    results = plan_evaluate(data, as_of, live=as_of >= today)
    method_changed = False
    if current:
        method_changed = _method_changed(plan)
        plan.computed_revision = plan.data_revision
        _write_live(data, results, timezone.now())
        start = plan.start_date if backfill or method_changed else _dirty_from(plan, previous)
    else:
        # The month ends a write made dirty are the next current recompute's to rebuild: it reads
        # computed_at, which this run leaves as it was.
        start = plan.start_date if backfill else as_of + datetime.timedelta(days=1)
    days = [d for d in month_ends_between(start, min(plan.end_date, as_of, today)) if d >= start and d != as_of]
    other_days = []
    if method_changed:
        # Other days keep no explanation to tell their method by: every stored one is rebuilt.
        stored = StatusSnapshot.objects.filter(plan=plan).exclude(as_of__in=[as_of, *days])
        other_days = list(stored.order_by("as_of").values_list("as_of", flat=True).distinct())
    days = sorted([*days, *other_days])
    StatusSnapshot.objects.filter(plan=plan, as_of__in=[as_of, *days] if snapshot else days).delete()
    if snapshot:
        bulk_insert(StatusSnapshot, _snapshot_rows(plan, as_of, results), SNAPSHOT_FIELDS)
    # One statement per month end (at most a dozen or so a year, whatever the plan's size), so only one
    # day's explanations are held in memory at a time.
    if progress is not None:
        progress.reset(total=1 + len(days))
        progress.update()
    for day in days:
        bulk_insert(StatusSnapshot, _snapshot_rows(plan, day, plan_evaluate(data, day, live=False)), SNAPSHOT_FIELDS)
        if progress is not None:
            progress.update()
    return RecomputeSummary(
        plan_id=plan.pk,
        as_of=as_of,
        items=len(results),
        month_ends=tuple(d for d in days if d not in other_days),
        other_days=tuple(other_days),
        method_changed=method_changed,
    )


def plan_backfill(*, plan_id: int) -> RecomputeSummary | None:
    """Recompute today's statuses and rebuild every month-end snapshot of the plan's period."""
    return plan_recompute(plan_id=plan_id, backfill=True)


# The nightly recompute (tracker/celery.py) refreshes every plan: statuses computed longer ago than this
# mean it has not run, and the pages say so.
STATUSES_STALE_AFTER = datetime.timedelta(hours=26)
