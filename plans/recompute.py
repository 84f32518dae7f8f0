"""The status engine's write side: recompute a plan from its source rows with ``plans.rollup``.

One recompute streams the plan goal by goal: four queries read every goal, KPI (with its
measurements packed in one value, a ``rollup.MeasurementSeries``), milestone and logged progress in
goal order through server-side cursors, as tuples rather than model instances; each goal is
evaluated in Python and dropped, and the results are written in batches (``plans.setwrites``, one
statement per ``BATCH_ROWS`` rows; snapshots by COPY), so memory is bounded by a batch and a goal,
not by the plan. Only the rows whose computed values changed are written; a stored explanation is
decoded only to compare it with a new one of the same day and headline figures. Recomputes of one
plan are serialised by a PostgreSQL advisory lock held for the transaction, so two workers cannot
interleave their writes.

History: snapshots are "month ends plus the current day". Each current recompute writes a
StatusSnapshot of every item for its as-of date, drops the plan's snapshots of other days that
are not month ends, and rebuilds the month-end snapshots that may have changed since the previous
recompute: month ends on or after the earliest back-dated measurement or milestone completion
written since then, and month ends that passed since then. ``plan_backfill`` rebuilds all month
ends of the plan's period.

Method versions: when the stored statuses were computed with another method version than
``rollup.METHOD_VERSION`` (the plan's explanation, or one of its month-end snapshots', says so),
the recompute rebuilds every month end of the period with the current one, so a trend never mixes
two methods. The first recompute after a deploy that changes the method (the nightly one, or
``recompute_rollups``) does it.

Replaying a past date uses the measurements dated up to it and each milestone's progress as
logged by then (MilestoneUpdate history; a milestone without history counts with its current
progress). Target, weight and date changes apply to the whole history once it is rebuilt.
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from operator import itemgetter
from types import SimpleNamespace

from django.db import connection, transaction
from django.db.models import Min, TextField
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from . import jsontext, rollup
from .aggregation import aggregates_refresh
from .choices import ItemType, MilestoneState
from .dates import is_month_end, month_ends_between, stray_snapshot_days
from .models import KPI, FocusArea, Goal, Measurement, Milestone, MilestoneUpdate, Plan, StatusSnapshot
from .page_generation import pages_changed
from .series import series_annotation, series_unpack
from .setwrites import bulk_set, insert_rows
from .tallies import tallies_count

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 7_311_001
COMMON_FIELDS = ["status", "score", "progress", "computed_at", "explanation", "updated_at"]
KPI_FIELDS = [*COMMON_FIELDS, "forecast_value", "forecast_low", "forecast_high", "latest_value", "latest_date", "stale"]
HEADLINE = ("status", "score", "progress", "forecast_value", "forecast_low", "forecast_high", "latest_value", "stale")


@dataclass
class PlanData:
    """A whole plan in memory (``plan_data_load``): for callers that evaluate a few items or a small plan.

    ``plan_recompute`` does not use it: it streams the plan goal by goal (``_goal_stream``).
    """

    plan: Plan
    focus_areas: list[FocusArea]
    goals: list[Goal]
    milestones: list[Milestone]
    kpis: list[KPI]
    points: dict[int, list[rollup.MeasurementPoint]] = field(default_factory=dict)
    history: dict[int, list[tuple]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecomputeSummary:
    """What one recompute wrote: the as-of day, the past month ends whose snapshots it rebuilt, and the
    other past days whose snapshots it dropped (only month ends and the current day are kept)."""

    plan_id: int
    as_of: datetime.date
    items: int
    month_ends: tuple[datetime.date, ...]
    dropped_days: tuple[datetime.date, ...] = ()
    method_changed: bool = False
    rows_written: int = 0  # KPI, milestone, goal and focus-area rows whose computed values changed
    skipped: bool = False  # ``only_if_behind`` found every revision already computed today


MEASUREMENT_COLUMNS = ("kpi_id", "date", "value", "recorded_at")
UPDATE_COLUMNS = (
    "milestone_id",
    "created_at",
    "percent_complete",
    "state",
    "previous_percent_complete",
    "previous_state",
)


def _point(row) -> rollup.MeasurementPoint:
    return rollup.MeasurementPoint(date=row[1], value=row[2], recorded_at=row[3])


def plan_data_load(plan: Plan) -> PlanData:
    """Six queries whatever the plan's size; everything held in memory."""
    points = defaultdict(list)
    for row in (
        Measurement.objects.national()
        .filter(kpi__plan=plan)
        .order_by("kpi_id", "date", "recorded_at", "id")
        .values_list(*MEASUREMENT_COLUMNS)
    ):
        points[row[0]].append(_point(row))
    history = defaultdict(list)
    updates = MilestoneUpdate.objects.filter(milestone__plan=plan).order_by("created_at", "id")
    for row in updates.values_list(*UPDATE_COLUMNS):
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

    ``history`` rows are ``UPDATE_COLUMNS`` after the milestone, oldest first; the first, when the update
    was logged, is its aware creation time or (as the whole-plan recompute reads it, once per update)
    the local date of it.

    A completion is back-dated to its ``completed_on`` date: a milestone logged done on 5 July as
    completed on 20 June counts complete at the June month end.
    """
    if live or not history:
        return milestone.percent_complete, milestone.state
    done = milestone.state == MilestoneState.DONE or milestone.percent_complete == 100
    if done and milestone.completed_on and milestone.completed_on <= day:
        return 100, MilestoneState.DONE
    logged = [row for row in history if _logged_on(row[0]) <= day]
    if logged:
        return logged[-1][1], logged[-1][2]
    first = history[0]
    return (first[3] or 0), (first[4] or MilestoneState.PLANNED)


def _logged_on(logged: datetime.date) -> datetime.date:
    return timezone.localdate(logged) if isinstance(logged, datetime.datetime) else logged


def kpi_evaluate(kpi: KPI, points, as_of: datetime.date) -> rollup.Result:
    """One KPI's result at ``as_of`` from its measurement points."""
    return rollup.kpi_status(
        as_of=as_of,
        baseline_value=kpi.baseline_value,
        baseline_date=kpi.baseline_date,
        target_value=kpi.target_value,
        target_date=kpi.target_date,
        direction=kpi.direction,
        frequency=kpi.frequency,
        measurements=points,
    )


def milestone_evaluate(milestone: Milestone, goal: Goal, plan: Plan, history, as_of: datetime.date, *, live: bool):
    """One milestone's result at ``as_of``: its logged progress by then (current progress when ``live``)."""
    percent, state = milestone_progress_at(milestone, history, as_of, live)
    return rollup.milestone_status(
        as_of=as_of,
        start_date=milestone.start_date or goal.start_date or plan.start_date,
        due_date=milestone.due_date,
        percent_complete=percent,
        state=state,
    )


def kpi_child(kpi: KPI, result: rollup.Result) -> rollup.Child:
    return _child(f"kpi:{kpi.pk}", f"{kpi.code} {kpi.name}", kpi, result)


def milestone_child(milestone: Milestone, result: rollup.Result) -> rollup.Child:
    return _child(f"milestone:{milestone.pk}", milestone.title, milestone, result)


def goal_child(goal: Goal, result: rollup.Result) -> rollup.Child:
    return _child(f"goal:{goal.pk}", f"{goal.code} {goal.title}", goal, result)


def area_child(area: FocusArea, result: rollup.Result) -> rollup.Child:
    return _child(f"focus_area:{area.pk}", f"{area.code} {area.name}", area, result)


def items_evaluate(data: PlanData, as_of: datetime.date, *, live: bool) -> dict[tuple[str, int], rollup.Result]:
    """Results of the KPIs and milestones at ``as_of`` keyed by (item type, id), what their goals roll up. Pure
    computation, no queries."""
    results: dict[tuple[str, int], rollup.Result] = {}
    goals = {g.pk: g for g in data.goals}
    for kpi in data.kpis:
        results[(ItemType.KPI, kpi.pk)] = kpi_evaluate(kpi, data.points.get(kpi.pk, ()), as_of)
    for milestone in data.milestones:
        history = data.history.get(milestone.pk, [])
        results[(ItemType.MILESTONE, milestone.pk)] = milestone_evaluate(
            milestone, goals[milestone.goal_id], data.plan, history, as_of, live=live
        )
    return results


def plan_evaluate(data: PlanData, as_of: datetime.date, *, live: bool) -> dict[tuple[str, int], rollup.Result]:
    """Results of every item at ``as_of`` keyed by (item type, id). Pure computation, no queries."""
    plan = data.plan
    results = items_evaluate(data, as_of, live=live)
    children = defaultdict(list)
    for kpi in data.kpis:
        children[(ItemType.GOAL, kpi.goal_id)].append(kpi_child(kpi, results[(ItemType.KPI, kpi.pk)]))
    for milestone in data.milestones:
        result = results[(ItemType.MILESTONE, milestone.pk)]
        children[(ItemType.GOAL, milestone.goal_id)].append(milestone_child(milestone, result))
    for goal in data.goals:
        result = rollup.rollup_status(as_of=as_of, children=children[(ItemType.GOAL, goal.pk)])
        results[(ItemType.GOAL, goal.pk)] = result
        children[(ItemType.FOCUS_AREA, goal.focus_area_id)].append(goal_child(goal, result))
    for area in data.focus_areas:
        result = rollup.rollup_status(as_of=as_of, children=children[(ItemType.FOCUS_AREA, area.pk)])
        results[(ItemType.FOCUS_AREA, area.pk)] = result
        children[(ItemType.PLAN, plan.pk)].append(area_child(area, result))
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


# Rows per write statement and per fetch from a server-side cursor: what the recompute holds at a time.
BATCH_ROWS = 2000


def _normalised(explanation: dict) -> dict:
    """The explanation as it reads back from the database (JSON types), for comparison with the stored one."""
    return jsontext.loads(jsontext.dumps(explanation))


def _values(result: rollup.Result, *, kpi: bool) -> dict:
    """The computed figures ``_apply`` sets from ``result``, by field name."""
    values = {"status": str(result.status), "score": result.score, "progress": result.progress}
    if kpi:
        values.update(
            forecast_value=result.forecast_value,
            forecast_low=result.forecast_low,
            forecast_high=result.forecast_high,
            latest_value=result.latest_value,
            latest_date=result.latest_date,
            stale=result.stale,
        )
    return values


def _figures_unchanged(item, values: dict) -> bool:
    return all(getattr(item, name, None) == value for name, value in values.items())


def _apply(item, result: rollup.Result, now, *, kpi: bool) -> bool:
    """Set the item's computed fields from ``result``; False (and the item untouched) when nothing changes.

    ``computed_at`` is the time of the recompute that last changed the item's computed values or
    explanation (the plan's own ``computed_at`` is the time of the latest recompute, whatever it changed),
    and ``updated_at`` moves only when a figure a client shows changes, for incremental sync.
    """
    values = _values(result, kpi=kpi)
    if _figures_unchanged(item, values):
        stored = item.explanation  # read only now: the whole-plan recompute decodes it on first read
        # (None, an explanation of another day, equals no explanation: no need to normalise the new one)
        if stored is not None and (stored == result.explanation or stored == _normalised(result.explanation)):
            return False
    before = tuple(getattr(item, name, None) for name in HEADLINE)
    for name, value in values.items():
        setattr(item, name, value)
    item.explanation = result.explanation
    item.computed_at = now
    # Incremental sync sees an item again only when a figure a client shows has changed.
    if tuple(getattr(item, name, None) for name in HEADLINE) != before:
        item.updated_at = now
    return True


def _rows(queryset):
    """The queryset's rows through a server-side cursor on PostgreSQL, fetched ``BATCH_ROWS`` at a time, so
    memory holds a batch and not the plan. SQLite isolates no cursor from the connection's own writes:
    it reads the rows whole (it serves development and tests, not national plans)."""
    if connection.vendor == "postgresql":
        return queryset.iterator(chunk_size=BATCH_ROWS)
    return iter(list(queryset))


_END = object()


class _Runs:
    """A stream sorted by goal, taken one goal's run at a time in the order of the goal stream.

    The streams are separate queries, so under READ COMMITTED a row written between them (say a KPI
    created in a goal the goal stream has not seen) can belong to no goal: it is skipped, and the write
    that made it enqueues its own recompute.
    """

    def __init__(self, rows, goal_of):
        self._rows, self._goal_of = iter(rows), goal_of
        self._next = next(self._rows, _END)

    def take(self, goal_id: int) -> list:
        run = []
        while self._next is not _END and self._goal_of(self._next) <= goal_id:
            if self._goal_of(self._next) == goal_id:
                run.append(self._next)
            self._next = next(self._rows, _END)
        return run


class _Item:
    """An item read as a tuple of columns, not as a model instance: its definition, which the evaluation
    reads by attname as it would the instance's, and its stored computed values, which ``_apply`` compares
    and sets and ``bulk_set`` writes back. ``updated_at`` is not read: it exists once ``_apply`` sets it.

    The stored explanation comes as JSON text and is decoded when first read (``_apply`` reads it only
    when every headline figure is unchanged); ``explanation_as_of`` is its as-of date and a KPI's
    ``explanation_points`` the number of points it counts, as text.
    """

    def __init__(self, columns: tuple[str, ...], row: tuple):
        self.__dict__.update(zip(columns, row, strict=True))

    @property
    def pk(self) -> int:
        return self.id

    def __getattr__(self, name: str):
        if name != "explanation":
            raise AttributeError(name)
        text = self.__dict__.pop("explanation_text")
        self.explanation = None if text is None else jsontext.loads(text)
        return self.explanation


# The stored computed values of an item (annotations of ``_items``), read to write only what changes.
STORED_COLUMNS = ("status", "score", "progress", "explanation_text", "explanation_as_of")
AREA_COLUMNS = ("id", "code", "name", "weight", *STORED_COLUMNS)
GOAL_COLUMNS = ("id", "focus_area_id", "code", "title", "weight", "start_date", *STORED_COLUMNS)
KPI_COLUMNS = (
    *("id", "goal_id", "code", "name", "weight", "baseline_value", "baseline_date", "target_value", "target_date"),
    *("direction", "frequency", *STORED_COLUMNS, "explanation_points", *HEADLINE[3:7], "latest_date", "stale"),
)
MILESTONE_COLUMNS = (
    *("id", "goal_id", "title", "weight", "start_date", "due_date", "percent_complete", "state", "completed_on"),
    *STORED_COLUMNS,
)


def _series(packed: bytes | None) -> rollup.MeasurementSeries:
    """The ``MeasurementSeries`` of a KPI's packed series (``plans.series``; None: no measurement)."""
    return rollup.MeasurementSeries(*series_unpack(packed))


@dataclass
class GoalData:
    """One goal with its KPIs (code order, each with its measurement series) and milestones (due order, each
    with its logged progress, oldest first, dated by the local day it was logged): what a recompute holds at
    a time."""

    goal: _Item
    kpis: list[tuple[_Item, rollup.MeasurementSeries]]
    milestones: list[tuple[_Item, list[tuple]]]


def _items(queryset):
    """``queryset`` (of items) with the stored explanation as text and its as-of date (``STORED_COLUMNS``), and a
    KPI's count of points (``KPI_COLUMNS``)."""
    return queryset.annotate(
        explanation_text=Cast("explanation", TextField()),
        explanation_as_of=KeyTextTransform("as_of", "explanation"),
        explanation_points=Cast(KT("explanation__inputs__points__count"), TextField()),
    )


def _goal_stream(plan: Plan):
    """``GoalData`` of every goal of the plan, by goal id: four queries (five on SQLite, which reads the
    measurements as rows) whatever the plan's size, each read through a server-side cursor, as tuples."""
    goal_of = itemgetter(1)
    goals = _rows(_items(Goal.objects.filter(plan=plan).order_by("id")).values_list(*GOAL_COLUMNS))
    kpi_rows = _items(KPI.objects.filter(plan=plan).order_by("goal_id", "code"))
    if connection.vendor == "postgresql":
        kpis = _Runs(_rows(kpi_rows.annotate(series=series_annotation()).values_list(*KPI_COLUMNS, "series")), goal_of)
        points = None
    else:
        kpis = _Runs(_rows(kpi_rows.values_list(*KPI_COLUMNS)), goal_of)
        measurements = (
            Measurement.objects.national()
            .filter(kpi__plan=plan)
            .order_by("kpi__goal_id", "kpi_id", "date", "recorded_at", "id")
        )
        points = _Runs(_rows(measurements.values_list("kpi__goal_id", *MEASUREMENT_COLUMNS)), itemgetter(0))
    milestones = _Runs(
        _rows(
            _items(Milestone.objects.filter(plan=plan).order_by("goal_id", "due_date", "id")).values_list(
                *MILESTONE_COLUMNS
            )
        ),
        goal_of,
    )
    updates = MilestoneUpdate.objects.filter(milestone__plan=plan).order_by("milestone__goal_id", "created_at", "id")
    history = _Runs(_rows(updates.values_list("milestone__goal_id", *UPDATE_COLUMNS)), itemgetter(0))
    zone = timezone.get_current_timezone()
    for row in goals:
        goal_id = row[0]
        by_kpi, by_milestone = defaultdict(list), defaultdict(list)
        if points is not None:
            for point in points.take(goal_id):
                by_kpi[point[1]].append(_point(point[1:]))
        for _goal, milestone_id, created_at, *update in history.take(goal_id):
            by_milestone[milestone_id].append((timezone.localdate(created_at, zone), *update))
        yield GoalData(
            goal=_Item(GOAL_COLUMNS, row),
            kpis=[
                (_Item(KPI_COLUMNS, kpi[:-1]), _series(kpi[-1]))
                if points is None
                else (_Item(KPI_COLUMNS, kpi), rollup.MeasurementSeries.from_points(by_kpi[kpi[0]]))
                for kpi in kpis.take(goal_id)
            ],
            milestones=[(_Item(MILESTONE_COLUMNS, m), by_milestone.get(m[0], [])) for m in milestones.take(goal_id)],
        )


SNAPSHOT_FIELDS = ["plan", "item_type", "item_id", "as_of", "status", "score", "progress", "forecast", "explanation"]
SNAPSHOT_COLUMNS = ["plan_id", *SNAPSHOT_FIELDS[1:]]


def snapshot_row(plan_id: int, day: datetime.date, item_type: str, item_id: int, result: rollup.Result):
    """A plain row, not a model instance (a backfill of a national plan makes a great many). Month ends keep
    the explanation, so a past "Why?" can be read; the current day's keeps the outcome only."""
    values = _snapshot_values(plan_id, day, item_type, item_id, result)
    return SimpleNamespace(**dict(zip(SNAPSHOT_COLUMNS, values, strict=True)))


def _snapshot_values(plan_id: int, day: datetime.date, item_type: str, item_id: int, result: rollup.Result) -> tuple:
    """``SNAPSHOT_COLUMNS`` of one item's snapshot of ``day``."""
    explanation = result.explanation if is_month_end(day) else None
    return (
        plan_id,
        item_type,
        item_id,
        day,
        str(result.status),
        result.score,
        result.progress,
        result.forecast_value,
        explanation,
    )


def _snapshot_rows(plan: Plan, day: datetime.date, results) -> list[SimpleNamespace]:
    """The snapshot rows of ``results`` (keyed by (item type, id)) for ``day`` (the incremental path's)."""
    return [snapshot_row(plan.pk, day, item_type, item_id, result) for (item_type, item_id), result in results.items()]


def explanation_compared(item: _Item, result: rollup.Result, *, kpi: bool) -> bool:
    """Whether ``item_apply`` reads the item's stored explanation: when it is of the same day (an explanation names
    its as-of date), a KPI's counts the same points (a batch of late figures moves no figure of 10,000 KPIs, but
    each one's count: those 10,000 explanations need not be read to be told apart) and every figure is unchanged,
    the explanation alone decides whether the item is written."""
    if item.explanation_as_of != result.explanation["as_of"]:
        return False
    if kpi and item.explanation_points != str(result.explanation["inputs"]["points"]["count"]):
        return False
    return _figures_unchanged(item, _values(result, kpi=kpi))


def item_apply(item: _Item, result: rollup.Result, now, *, kpi: bool) -> bool:
    """``_apply`` for an item read as columns (``_Item``); once it returns True, ``hasattr(item, "updated_at")``
    tells whether a figure a client shows changed (``items_write``'s ``shown``)."""
    if not explanation_compared(item, result, kpi=kpi):
        # The stored explanation plays no part (of another day, or a figure changed): not decoded, nor even read
        # by the incremental update (``plans.incremental._explanations_read``).
        item.explanation = None
    return _apply(item, result, now, kpi=kpi)


def items_write(model, items: list[_Item], *, shown: bool) -> None:
    """Write the computed fields of ``items`` set by ``item_apply``, ``updated_at`` too when ``shown``."""
    bulk_set(model, items, items_fields(model, shown=shown))


def items_fields(model, *, shown: bool) -> list[str]:
    """The computed fields ``items_write`` writes."""
    fields = _Writer.FIELDS[model]
    return fields if shown else [name for name in fields if name != "updated_at"]


class _Writer:
    """Buffers the rows a recompute writes and flushes them ``BATCH_ROWS`` at a time, one statement each.

    Current statuses (``live`` day only) are written when their values change, with ``updated_at`` when a
    figure a client shows changed; snapshots are copied in for every day in ``snapshot_days``. Month-end
    snapshots keep the explanation, so a past "Why?" can be read; the current day's keeps the outcome only.
    """

    FIELDS = {
        KPI: KPI_FIELDS,
        Milestone: COMMON_FIELDS,
        Goal: COMMON_FIELDS,
        FocusArea: COMMON_FIELDS,
    }

    def __init__(self, plan: Plan, *, as_of: datetime.date, live: bool, snapshot_days, now):
        self.plan, self.as_of, self.snapshot_days, self.now = plan, as_of, set(snapshot_days), now
        self.live = as_of if live else None
        # Per model, the changed items whose shown figures changed (updated_at too) and the others.
        self.changed = {(model, shown): [] for model in self.FIELDS for shown in (True, False)}
        self.snapshots: list[tuple] = []
        self.items = self.rows_written = 0

    def add(self, day: datetime.date, item_type: str, model, item: _Item, result: rollup.Result) -> None:
        if day == self.as_of:
            self.items += 1
        if day == self.live and model in self.FIELDS:
            self._current(model, item, result)
        if day in self.snapshot_days:
            self.snapshots.append(_snapshot_values(self.plan.pk, day, item_type, item.pk, result))
            if len(self.snapshots) >= BATCH_ROWS:
                self._flush_snapshots()

    def _current(self, model, item: _Item, result: rollup.Result) -> None:
        if item_apply(item, result, self.now, kpi=model is KPI):
            key = (model, hasattr(item, "updated_at"))
            self.changed[key].append(item)
            self.rows_written += 1
            if len(self.changed[key]) >= BATCH_ROWS:
                self._flush_model(key)

    def _flush_model(self, key) -> None:
        model, shown = key
        items_write(model, self.changed[key], shown=shown)
        self.changed[key] = []

    def _flush_snapshots(self) -> None:
        insert_rows(StatusSnapshot, SNAPSHOT_COLUMNS, self.snapshots)
        self.snapshots = []

    def flush(self) -> None:
        for key in self.changed:
            self._flush_model(key)
        self._flush_snapshots()


def _evaluate_goal(data: GoalData, plan: Plan, day: datetime.date, *, live: bool, writer: _Writer) -> rollup.Result:
    """The goal's result at ``day``, its KPIs' and milestones' handed to ``writer`` on the way."""
    goal, children = data.goal, []
    for kpi, series in data.kpis:
        result = kpi_evaluate(kpi, series, day)
        writer.add(day, ItemType.KPI, KPI, kpi, result)
        children.append(kpi_child(kpi, result))
    for milestone, history in data.milestones:
        result = milestone_evaluate(milestone, goal, plan, history, day, live=live)
        writer.add(day, ItemType.MILESTONE, Milestone, milestone, result)
        children.append(milestone_child(milestone, result))
    result = rollup.rollup_status(as_of=day, children=children)
    writer.add(day, ItemType.GOAL, Goal, goal, result)
    return result


def _stream_evaluate(plan: Plan, days: list[datetime.date], *, live_day, writer: _Writer, progress) -> None:
    """Evaluate the plan at every day of ``days`` goal by goal, keeping only each goal's roll-up child per day.

    ``live_day`` is the day whose milestones count with their current progress (the as-of day when it is
    today or later), as ``plan_evaluate(live=True)`` does.
    """
    goal_children, live = {day: {} for day in days}, None
    for data in _goal_stream(plan):
        goal = data.goal
        for day in days:
            result = _evaluate_goal(data, plan, day, live=day == live_day, writer=writer)
            goal_children[day][goal.pk] = goal_child(goal, result)
    areas = [
        _Item(AREA_COLUMNS, row)
        for row in _items(FocusArea.objects.filter(plan=plan).order_by("order", "code")).values_list(*AREA_COLUMNS)
    ]
    goal_order = list(Goal.objects.filter(plan=plan).order_by("code").values_list("id", "focus_area_id"))
    for day in days:
        area_children = defaultdict(list)
        for goal_id, area_id in goal_order:
            if goal_id in goal_children[day]:
                area_children[area_id].append(goal_children[day][goal_id])
        plan_children = []
        for area in areas:
            result = rollup.rollup_status(as_of=day, children=area_children[area.pk])
            writer.add(day, ItemType.FOCUS_AREA, FocusArea, area, result)
            plan_children.append(area_child(area, result))
        result = rollup.rollup_status(as_of=day, children=plan_children)
        writer.add(day, ItemType.PLAN, Plan, plan, result)
        if day == writer.live:
            live = result
        if progress is not None:
            progress.update()
    writer.flush()
    if writer.live is not None:
        # The plan's row last, as every write bumps it after its own rows: one lock order, no deadlock.
        _apply(plan, live, writer.now, kpi=False)
        plan.computed_at = writer.now  # the latest recompute, whether or not the plan's own values changed
        plan.tallies = tallies_count(plan)  # the statuses just written, counted once for the pages
        bulk_set(Plan, [plan], [*COMMON_FIELDS, "computed_revision", "tallies"])


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
    measured = (
        Measurement.objects.national().filter(kpi__plan=plan, updated_at__gt=previous).aggregate(d=Min("date"))["d"]
    )
    completed = Milestone.objects.filter(plan=plan, updated_at__gt=previous).aggregate(d=Min("completed_on"))["d"]
    earliest = min(d for d in (measured, completed, timezone.localdate(previous)) if d is not None)
    # Month ends before the plan starts are never shown: a stray early date (written before dates were
    # checked, or by hand) must not make the run walk every month since it.
    return max(earliest, plan.start_date)


def _snapshot_days(plan: Plan) -> list[datetime.date]:
    """The days the plan has snapshots of, in order: one index probe per day (a recursive query that jumps from
    each day to the next through an index on (plan, as_of)), not a scan of every snapshot row."""
    table = connection.ops.quote_name(StatusSnapshot._meta.db_table)
    sql = f"""
        WITH RECURSIVE days(day) AS (
            SELECT min(as_of) FROM {table} WHERE plan_id = %s
            UNION ALL
            SELECT (SELECT min(as_of) FROM {table} WHERE plan_id = %s AND as_of > days.day) FROM days
            WHERE days.day IS NOT NULL
        )
        SELECT day FROM days WHERE day IS NOT NULL ORDER BY day
    """  # noqa: S608  (the table name is the model's)
    with connection.cursor() as cursor:
        cursor.execute(sql, [plan.pk, plan.pk])
        # SQLite gives an aggregate's date as its ISO text.
        return [day if isinstance(day, datetime.date) else datetime.date.fromisoformat(day) for (day,) in cursor]


def _compact(plan: Plan, keep: datetime.date) -> list[datetime.date]:
    """Drop the plan's snapshots of days other than month ends and ``keep`` (the current day); return them.

    Snapshots are "month ends plus the current day": the trend charts month ends, a past "Why?" reads
    a month end, and the current day is what the pages show as now. A replay of another past day
    (``recompute_rollups --as-of``) lasts until the next current recompute.
    """
    dropped = stray_snapshot_days(_snapshot_days(plan), current=keep)
    if dropped:
        StatusSnapshot.objects.filter(plan=plan, as_of__in=dropped).delete()
    return dropped


def _up_to_date(plan: Plan, today: datetime.date) -> bool:
    """Whether the plan's stored statuses already cover every committed write, computed today, without a
    failure pending (read under the lock: a write committed since bumped ``data_revision``)."""
    return (
        plan.computed_revision >= plan.data_revision
        and plan.computed_at is not None
        and timezone.localdate(plan.computed_at) == today
        and not plan.recompute_failures
    )


@transaction.atomic
def plan_recompute(
    *,
    plan_id: int,
    as_of: datetime.date | None = None,
    snapshot: bool = True,
    backfill: bool = False,
    progress=None,
    current: bool = True,
    only_if_behind: bool = False,
) -> RecomputeSummary | None:
    """Recompute one plan as of ``as_of`` (default today) and write statuses, snapshots and history.

    The plan is streamed goal by goal (``_goal_stream``): each goal's KPIs, measurements, milestones and
    their logged progress are read through server-side cursors, evaluated at ``as_of`` and at every month
    end to rebuild, and written in batches of ``BATCH_ROWS``; what stays in memory is each goal's roll-up
    child per day. Item rows are rewritten only when their computed values change.

    ``current=False`` writes only the snapshot for ``as_of`` (and, with ``backfill``, the month ends up
    to it), never the items' current status, explanation or the plan's computed revision: a replay of
    a past date must not become what the dashboards show as now (``recompute_rollups --as-of``).

    ``progress`` is an optional tqdm-like bar (``reset(total=...)``, ``update()``), advanced once per
    evaluated day as that day's plan-level roll-up completes, for the command's long runs.

    Idempotent: it reads only source rows, so running it twice gives the same statuses. Returns
    None when the plan no longer exists (a queued task may outlive its plan).

    ``only_if_behind`` (a write's enqueued recompute) does nothing when, once the lock is held, every
    revision is already computed today and the plan is not failing: with several workers, a task queued
    for a write that an earlier run (or an incremental update) already covered would only repeat it.
    The nightly run and the catch-up of a failing plan always recompute, as dates pass.
    """
    _lock(plan_id)
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return None
    today = timezone.localdate()
    if only_if_behind and _up_to_date(plan, today):
        return RecomputeSummary(plan_id=plan.pk, as_of=today, items=0, month_ends=(), skipped=True)
    aggregates_refresh(plan)  # the national series derived from the zones, before it is read
    as_of = as_of or today
    previous = plan.computed_at
    method_changed, dropped = False, []
    if current:
        method_changed = _method_changed(plan)
        plan.computed_revision = plan.data_revision
        start = plan.start_date if backfill or method_changed else _dirty_from(plan, previous)
        dropped = _compact(plan, keep=as_of)
    else:
        # The month ends a write made dirty are the next current recompute's to rebuild: it reads
        # computed_at, which this run leaves as it was.
        start = plan.start_date if backfill else as_of + datetime.timedelta(days=1)
    days = [d for d in month_ends_between(start, min(plan.end_date, as_of, today)) if d >= start and d != as_of]
    StatusSnapshot.objects.filter(plan=plan, as_of__in=[as_of, *days] if snapshot else days).delete()
    if progress is not None:
        progress.reset(total=1 + len(days))
    snapshot_days = [as_of, *days] if snapshot else days
    writer = _Writer(plan, as_of=as_of, live=current, snapshot_days=snapshot_days, now=timezone.now())
    _stream_evaluate(plan, [as_of, *days], live_day=as_of if as_of >= today else None, writer=writer, progress=progress)
    pages_changed()
    return RecomputeSummary(
        plan_id=plan.pk,
        as_of=as_of,
        items=writer.items,
        month_ends=tuple(days),
        dropped_days=tuple(dropped),
        method_changed=method_changed,
        rows_written=writer.rows_written,
    )


def plan_backfill(*, plan_id: int) -> RecomputeSummary | None:
    """Recompute today's statuses and rebuild every month-end snapshot of the plan's period."""
    return plan_recompute(plan_id=plan_id, backfill=True)


# The nightly recompute (tracker/celery.py) refreshes every plan: statuses computed longer ago than this
# mean it has not run, and the pages say so.
STATUSES_STALE_AFTER = datetime.timedelta(hours=26)
