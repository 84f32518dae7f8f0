"""Incremental status maintenance: after a write, recompute only what it can change.

A write records what it changed (``Changes``) on its transaction (``services.plan_mark_changed``); once
it commits, ``plan_update_incremental`` re-evaluates those KPIs and milestones from their own source
rows with ``plans.rollup``, then rolls up their goals from the stored results of each goal's children,
then the focus areas, then the plan, in a fixed number of queries whatever the plan's size. It writes
only the items whose values changed, today's snapshot rows of the chain, and the chain's month-end
snapshots the change can touch: from a measurement's date on, or the whole period for anything else
(a milestone's first logged update, a target or a weight reshape its whole history). A past month
end rolls up from the siblings' stored snapshots of that day, so the history stays what a backfill
(``plan_recompute(backfill=True)``) would give; a property test checks both paths agree.

It applies only on top of a consistent state, and raises ``Fallback`` (the caller then enqueues the
whole-plan recompute) when:
- the plan's stored statuses are not today's (never computed, or the nightly run is still due: dates
  passed and every sibling may have changed), or come from another method version;
- a sibling the roll-up needs has no stored status, or no snapshot at a month end to rebuild;
- the write is not a change of KPIs, milestones or goals: plan and focus-area edits and deletions,
  imports and items moved to another plan record ``Changes.whole()``.

Large batches (a bulk upload of 10,000 rows over 1,200 KPIs) take the same path, set-based: one query
per kind of row, whatever the number of KPIs. Past month ends before the earliest date measured only
gain or lose points after their as-of date, so their KPI snapshots keep their status and only their
explanation's point counts move: they are recounted in the database (``history_recount``, after the
statuses commit, ``RECOUNT_BATCH`` KPIs a statement, each batch a task of its own queued behind the tasks already
waiting, and stepping aside for a write whose update is waiting, so that the next write's update does not wait for a
whole recount) instead of re-evaluating every KPI at every month end. A change of more than ``INLINE_MAX_ITEMS``
items runs on the worker (``plans.tasks.plan_changes_task``), enqueued at once, so the response does not wait for it;
a smaller one runs in-process and rebuilds those month ends in its own transaction, at no extra query.

Revisions: each write bumps ``data_revision`` in its transaction; the update runs under the plan's
advisory lock (the one ``plan_recompute`` takes) and advances ``computed_revision`` to the write's
revision only when every earlier revision was already computed. Otherwise (an earlier update is
still pending or was lost) it writes its chain and has the whole plan recomputed, which catches up.
"""

import datetime
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from celery import current_app
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import rollup
from .aggregation import aggregates_refresh
from .choices import ItemType
from .dates import is_month_end, month_ends_between
from .gcpause import collection_paused
from .models import KPI, FocusArea, Goal, Measurement, Milestone, MilestoneUpdate, Plan, StatusSnapshot
from .recompute import (
    AREA_COLUMNS,
    COMMON_FIELDS,
    GOAL_COLUMNS,
    KPI_COLUMNS,
    MEASUREMENT_COLUMNS,
    MILESTONE_COLUMNS,
    SNAPSHOT_FIELDS,
    PlanData,
    _apply,
    _Item,
    _items,
    _lock,
    _point,
    _snapshot_rows,
    explanation_compared,
    item_apply,
    items_evaluate,
    items_fields,
)
from .recompute_queue import broker_breaker
from .series import (
    ASIDE_CHUNKS,
    SeriesAside,
    measurements_unwritten,
    series_packed,
    series_packed_aside,
    series_unpack,
)
from .setwrites import StatementsStepped, bulk_insert, bulk_set, bulk_set_prepared
from .snapshot_copy import today_snapshot_copy, today_snapshot_copy_prepared
from .tallies import final_in, tallies_count, tallies_shifted

logger = logging.getLogger(__name__)

# Beyond this many changed items (a large bulk upload), the update runs on the worker, not before the response.
INLINE_MAX_ITEMS = 200
WHOLE_PERIOD = datetime.date.min
# KPIs whose past explanations one transaction (one worker task) recounts (``_recount``). A write that comes while
# a large batch's recount runs waits for the batch in hand, on the plan's lock and in the worker's queue: at national
# scale 10, with 12 month ends, 200 KPIs took 225-300 ms and 100 take 110 ms.
RECOUNT_BATCH = 100
# A recount batch that finds a write committed whose update has not run yet (the plan's statuses behind its data)
# steps aside for it: it is queued again this many seconds later, by then behind that update's task, at most
# ``RECOUNT_DEFERRALS`` times in a row (a whole-plan recompute or a plan left behind may keep the statuses behind
# for longer: the batch then runs, as it would have, waiting for the plan's lock).
RECOUNT_DEFER_SECONDS = 0.2
RECOUNT_DEFERRALS = 25
# Looked up by name, as plans.recompute_queue does: plans.tasks imports this module.
CHANGES_TASK = "plans.tasks.plan_changes_task"
RECOUNT_TASK = "plans.tasks.history_recount_task"


class Fallback(Exception):
    """The incremental path cannot apply; the whole plan must be recomputed."""


@dataclass
class Changes:
    """What one transaction changed in a plan, accumulated until it commits.

    ``kpis``/``milestones`` are re-evaluated from their source rows; ``goals`` changed their own
    definition (their milestones default to the goal's start, so those are re-evaluated too);
    ``parents`` are goals and focus areas to roll up again because a child left them;
    ``deleted`` lose their snapshots. ``since`` is the earliest month end the writes can touch.
    ``values_only``: the KPIs of ``kpis`` whose measurements alone changed, not their definition (a KPI created or
    redefined in the same transaction is not one).
    """

    kpis: set[int] = field(default_factory=set)
    milestones: set[int] = field(default_factory=set)
    goals: set[int] = field(default_factory=set)
    parents: set[tuple[str, int]] = field(default_factory=set)
    deleted: set[tuple[str, int]] = field(default_factory=set)
    values_only: set[int] = field(default_factory=set)
    since: datetime.date = WHOLE_PERIOD
    whole: bool = False

    @classmethod
    def whole_plan(cls) -> "Changes":
        return cls(whole=True)

    @classmethod
    def measured(cls, kpi_ids, since: datetime.date) -> "Changes":
        """Measurements of ``kpi_ids`` dated ``since`` or later were written or deleted."""
        return cls(kpis=set(kpi_ids), values_only=set(kpi_ids), since=since)

    @classmethod
    def saved(cls, item, *, previous_parent_id: int | None = None) -> "Changes":
        """A KPI, milestone or goal was created or redefined (``previous_parent_id``: its goal or focus
        area before the write, rolled up again when it moved)."""
        if isinstance(item, KPI | Milestone):
            changes = cls(kpis={item.pk}) if isinstance(item, KPI) else cls(milestones={item.pk})
            if previous_parent_id and previous_parent_id != item.goal_id:
                changes.parents.add((ItemType.GOAL, previous_parent_id))
            return changes
        if isinstance(item, Goal):
            changes = cls(goals={item.pk})
            if previous_parent_id and previous_parent_id != item.focus_area_id:
                changes.parents.add((ItemType.FOCUS_AREA, previous_parent_id))
            return changes
        return cls.whole_plan()

    @classmethod
    def deleting(cls, item) -> "Changes":
        """``item`` is about to be deleted (call before the delete: a goal's children are read here)."""
        if isinstance(item, KPI):
            return cls(parents={(ItemType.GOAL, item.goal_id)}, deleted={(ItemType.KPI, item.pk)})
        if isinstance(item, Milestone):
            return cls(parents={(ItemType.GOAL, item.goal_id)}, deleted={(ItemType.MILESTONE, item.pk)})
        if isinstance(item, Goal):
            deleted = {(ItemType.GOAL, item.pk)}
            deleted |= {(ItemType.KPI, pk) for pk in KPI.objects.filter(goal=item).values_list("pk", flat=True)}
            deleted |= {
                (ItemType.MILESTONE, pk) for pk in Milestone.objects.filter(goal=item).values_list("pk", flat=True)
            }
            return cls(parents={(ItemType.FOCUS_AREA, item.focus_area_id)}, deleted=deleted)
        return cls.whole_plan()

    def merge(self, other: "Changes") -> None:
        self.values_only = (self.values_only | other.values_only) - self.defined() - other.defined()
        self.kpis |= other.kpis
        self.milestones |= other.milestones
        self.goals |= other.goals
        self.parents |= other.parents
        self.deleted |= other.deleted
        self.since = min(self.since, other.since)
        self.whole = self.whole or other.whole

    def defined(self) -> set[int]:
        """The KPIs of ``kpis`` created or redefined."""
        return self.kpis - self.values_only

    def values_changed(self, kpi_ids) -> None:
        """The measurements of ``kpi_ids`` changed too (a zone's figures summed into the nation's)."""
        self.values_only |= set(kpi_ids) - self.defined()
        self.kpis |= set(kpi_ids)

    def figures_only(self) -> bool:
        """Whether the writes changed only measurements: no item came, went, moved or was redefined."""
        return not (self.whole or self.milestones or self.goals or self.parents or self.deleted or self.defined())

    def size(self) -> int:
        return len(self.kpis) + len(self.milestones) + len(self.goals) + len(self.parents) + len(self.deleted)

    def as_json(self) -> dict:
        """A task argument (Celery's JSON): ``Changes.from_json`` reads it back."""
        return {
            "kpis": sorted(self.kpis),
            "milestones": sorted(self.milestones),
            "goals": sorted(self.goals),
            "parents": sorted(self.parents),
            "deleted": sorted(self.deleted),
            "values_only": sorted(self.values_only),
            "since": self.since.isoformat(),
            "whole": self.whole,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Changes":
        return cls(
            kpis=set(data["kpis"]),
            milestones=set(data["milestones"]),
            goals=set(data["goals"]),
            parents={(kind, pk) for kind, pk in data["parents"]},
            deleted={(kind, pk) for kind, pk in data["deleted"]},
            values_only=set(data.get("values_only", ())),  # a task queued before the field: every KPI redefined
            since=datetime.date.fromisoformat(data["since"]),
            whole=data["whole"],
        )


def parent_id(item) -> int | None:
    """The id of the goal (KPI, milestone) or focus area (goal) ``item`` rolls up into."""
    return getattr(item, "goal_id", None) or getattr(item, "focus_area_id", None)


@dataclass
class _Node:
    """A stored item of the chain's neighbourhood: what a parent's roll-up reads of it."""

    key: tuple[str, int]
    label: str
    weight: float
    status: str
    score: float | None
    progress: float | None
    parent: tuple[str, int]


def _child(node: _Node, result: rollup.Result | None = None) -> rollup.Child:
    source = result or node
    return rollup.Child(
        key=f"{node.key[0]}:{node.key[1]}",
        label=node.label,
        weight=node.weight,
        status=source.status,
        score=source.score,
        progress=source.progress,
    )


def _nodes(plan: Plan, goal_ids: set[int], area_ids: set[int]) -> list[_Node]:
    """The children of the goals and focus areas to roll up, and the plan's focus areas, in the
    order the whole-plan recompute lists them (it decides the explanation's order of ties)."""
    nodes = []
    common = ("pk", "weight", "status", "score", "progress")
    for pk, weight, status, score, progress, goal_id, code, name in (
        KPI.objects.filter(goal_id__any=goal_ids).order_by("code").values_list(*common, "goal_id", "code", "name")
    ):
        nodes.append(
            _Node(
                (ItemType.KPI, pk), f"{code} {name}", float(weight), status, score, progress, (ItemType.GOAL, goal_id)
            )
        )
    for pk, weight, status, score, progress, goal_id, title in (
        Milestone.objects.filter(goal_id__any=goal_ids)
        .order_by("due_date", "id")
        .values_list(*common, "goal_id", "title")
    ):
        nodes.append(
            _Node((ItemType.MILESTONE, pk), title, float(weight), status, score, progress, (ItemType.GOAL, goal_id))
        )
    for pk, weight, status, score, progress, area_id, code, title in (
        Goal.objects.filter(focus_area_id__any=area_ids)
        .order_by("code")
        .values_list(*common, "focus_area_id", "code", "title")
    ):
        nodes.append(
            _Node(
                (ItemType.GOAL, pk),
                f"{code} {title}",
                float(weight),
                status,
                score,
                progress,
                (ItemType.FOCUS_AREA, area_id),
            )
        )
    for pk, weight, status, score, progress, code, name in (
        FocusArea.objects.filter(plan=plan).order_by("order", "code").values_list(*common, "code", "name")
    ):
        nodes.append(
            _Node(
                (ItemType.FOCUS_AREA, pk),
                f"{code} {name}",
                float(weight),
                status,
                score,
                progress,
                (ItemType.PLAN, plan.pk),
            )
        )
    return nodes


@dataclass
class _Chain:
    """The rows one update reads: the items to re-evaluate, and the goals and focus areas to roll up."""

    plan: Plan
    kpis: list[_Item]  # read as columns (``_read``), not model instances
    milestones: list[_Item]
    goals: list[_Item]
    areas: list[_Item]
    nodes: list[_Node]

    def keys(self) -> list[tuple[str, int]]:
        return [
            *((ItemType.KPI, k.pk) for k in self.kpis),
            *((ItemType.MILESTONE, m.pk) for m in self.milestones),
            *((ItemType.GOAL, g.pk) for g in self.goals),
            *((ItemType.FOCUS_AREA, a.pk) for a in self.areas),
            (ItemType.PLAN, self.plan.pk),
        ]


def _read(queryset, columns: tuple[str, ...]) -> list[_Item]:
    """The items as the whole-plan recompute reads them: their columns, not model instances (a bulk upload's chain
    holds 10,000 KPIs at national scale 10, whose instances cost 0.7 s to build against 0.27 s as tuples), but for
    the stored explanations: ``_explanations_read`` reads those ``item_apply`` compares (the text of 10,000 KPIs'
    and 2,400 goals' explanations took longer to read than all their other columns did)."""
    columns = tuple(name for name in columns if name != "explanation_text")
    return [_Item(columns, row) for row in _items(queryset).values_list(*columns)]


def _explanations_read(model, items: list[_Item]) -> None:
    """The stored explanations of ``items`` (read without them, ``_read``), as text for ``_Item`` to decode."""
    if not items:
        return
    texts = dict(
        _items(model.objects.filter(pk__any=[item.pk for item in items])).values_list("pk", "explanation_text")
    )
    for item in items:
        item.explanation_text = texts.get(item.pk)


def _chain_load(plan: Plan, changes: Changes) -> _Chain:
    kpis = _read(KPI.objects.filter(plan=plan, pk__any=changes.kpis).order_by("code"), KPI_COLUMNS)
    milestones = _read(
        Milestone.objects.filter(plan=plan)
        .filter(Q(pk__any=changes.milestones) | Q(goal_id__any=changes.goals))
        .order_by("due_date", "id"),
        MILESTONE_COLUMNS,
    )
    parent_goals = {pk for kind, pk in changes.parents if kind == ItemType.GOAL}
    goal_ids = {k.goal_id for k in kpis} | {m.goal_id for m in milestones} | changes.goals | parent_goals
    goals = _read(Goal.objects.filter(plan=plan, pk__any=goal_ids).order_by("code"), GOAL_COLUMNS)
    area_ids = {g.focus_area_id for g in goals} | {pk for kind, pk in changes.parents if kind == ItemType.FOCUS_AREA}
    areas = _read(FocusArea.objects.filter(plan=plan, pk__in=area_ids).order_by("order", "code"), AREA_COLUMNS)
    return _Chain(plan, kpis, milestones, goals, areas, nodes=[])  # the nodes once the unmoved parents are known


def _parents_unmoved(chain: _Chain, changes: Changes, results: dict, day: datetime.date, figures: dict) -> dict:
    """The chain's goals, focus areas and plan that the write leaves as they are at ``day``, with their stored
    status, score and progress (and no explanation: they are not written again). Only for a plan whose stored
    statuses are in sync, of ``day`` (the caller's conditions): a stored roll-up is then that of its children's
    stored results, and it stays so when every child the write touched is a KPI whose values alone changed
    (``Changes.values_only``: its label and weight are those the roll-up read) and whose status, score and
    progress are those stored (``figures``, by KPI id: read before any KPI's new results were applied).

    A batch that moves no KPI's figures (late figures of a closed plan repeat its final ones) rolls up none of
    its 2,400 goals at national scale 10, nor reads their 36,000 children. A changed milestone, a redefined KPI or
    goal, a child come or gone (``parents``) roll their goal up, and a goal that moves rolls up its focus area."""
    moved = {m.goal_id for m in chain.milestones} | changes.goals
    moved |= {pk for kind, pk in changes.parents if kind == ItemType.GOAL}
    for kpi in chain.kpis:
        result = results[(ItemType.KPI, kpi.pk)]
        if kpi.pk not in changes.values_only or figures[kpi.pk] != (
            str(result.status),
            result.score,
            result.progress,
        ):
            moved.add(kpi.goal_id)
    as_of = day.isoformat()
    unmoved = {}
    for goal in chain.goals:
        if goal.pk not in moved and goal.explanation_as_of == as_of:
            unmoved[(ItemType.GOAL, goal.pk)] = _stored_result(goal)
    moved_areas = {pk for kind, pk in changes.parents if kind == ItemType.FOCUS_AREA}
    moved_areas |= {g.focus_area_id for g in chain.goals if (ItemType.GOAL, g.pk) not in unmoved}
    for area in chain.areas:
        if area.pk not in moved_areas and area.explanation_as_of == as_of:
            unmoved[(ItemType.FOCUS_AREA, area.pk)] = _stored_result(area)
    plan = chain.plan
    if (
        all((ItemType.FOCUS_AREA, a.pk) in unmoved for a in chain.areas)
        and (plan.explanation or {}).get("as_of") == as_of
    ):
        unmoved[(ItemType.PLAN, plan.pk)] = rollup.Result(
            rollup.Status(plan.status), plan.score, plan.progress, plan.explanation
        )
    return unmoved


def _counted(chain: _Chain) -> dict:
    """What the plan's tallies count of each chain item (``tallies.tallies_shifted``): its status and, for a KPI,
    whether its final figure is in; as stored before the update applies its results."""
    return {
        (item_type, item.pk): (item.status, item_type == ItemType.KPI and final_in(item))
        for item_type, items in (
            (ItemType.KPI, chain.kpis),
            (ItemType.MILESTONE, chain.milestones),
            (ItemType.GOAL, chain.goals),
            (ItemType.FOCUS_AREA, chain.areas),
        )
        for item in items
    }


def _tallies(plan: Plan, revision: int, changes: Changes, before: dict, chain: _Chain) -> dict:
    """The plan's tallies once its statuses are written, counted once for the pages. Shifted by what the chain's
    items moved when they counted the rows as they stood before this update: counted at the computed revision it
    starts from, and every write since was figures only (no item came, went or was redefined). Else counted."""
    stored = plan.tallies or {}
    if stored.get("revision") == revision and changes.figures_only():
        after = _counted(chain)
        moves = ((key[0], was, after[key]) for key, was in before.items())
        shifted = tallies_shifted(stored, plan.computed_revision, moves)
        if shifted is not None:
            return shifted
    return tallies_count(plan)


def _stored_result(item: _Item) -> rollup.Result:
    """An unmoved parent's result (``_parents_unmoved``): its stored figures; its explanation is not read."""
    return rollup.Result(rollup.Status(item.status), item.score, item.progress, explanation=None)


def _item_results(chain: _Chain, points, history, day: datetime.date, *, live: bool) -> dict:
    """The re-evaluated KPIs and milestones at ``day``, by the whole-plan recompute's own evaluation
    (``items_evaluate``, run on just these items; their goals are rolled up by ``_roll_up``)."""
    data = PlanData(
        plan=chain.plan,
        focus_areas=[],
        goals=chain.goals,
        milestones=chain.milestones,
        kpis=chain.kpis,
        points=points,
        history=history,
    )
    return items_evaluate(data, day, live=live)


def _roll_up(chain: _Chain, results: dict, day: datetime.date, stored) -> dict:
    """Add the chain's goals, focus areas and plan at ``day`` to ``results``; ``stored(node)`` is what a
    sibling outside ``results`` contributes (its status, score and progress), or None when unknown."""
    children = defaultdict(list)
    for node in chain.nodes:
        children[node.parent].append(node)
    parents = [
        *((ItemType.GOAL, g.pk) for g in chain.goals),
        *((ItemType.FOCUS_AREA, a.pk) for a in chain.areas),
        (ItemType.PLAN, chain.plan.pk),
    ]
    for parent in parents:
        if parent in results:  # unmoved (``_parents_unmoved``)
            continue
        rows = []
        for node in children[parent]:
            source = results.get(node.key) or stored(node)
            if source is None:
                raise Fallback(f"{node.key[0]} {node.key[1]} has no stored status for {day}")
            rows.append(_child(node, source))
        results[parent] = rollup.rollup_status(as_of=day, children=rows)
    return results


def _stored_today(node: _Node):
    return node if node.status else None


def _key_filter(keys) -> Q:
    by_type = defaultdict(list)
    for item_type, item_id in keys:
        by_type[item_type].append(item_id)
    query = Q(pk__in=[])
    for item_type, ids in by_type.items():
        query |= Q(item_type=item_type, item_id__any=ids)
    return query


def _month_end_snapshots(chain: _Chain, days: list[datetime.date]) -> dict:
    """The siblings' stored snapshots at ``days``: (item type, id, day) -> a row with status, score, progress."""
    if not days:
        return {}
    chained = set(chain.keys())
    siblings = [node.key for node in chain.nodes if node.key not in chained]
    if not siblings:
        return {}
    rows = StatusSnapshot.objects.filter(plan=chain.plan, as_of__in=days).filter(_key_filter(siblings))
    return {
        (item_type, item_id, as_of): rollup.Child("", "", 0.0, status, score, progress)
        for item_type, item_id, as_of, status, score, progress in rows.values_list(
            "item_type", "item_id", "as_of", "status", "score", "progress"
        )
    }


def _items_written(chain: _Chain, results: dict, now, today: datetime.date) -> list[Callable[[], None]]:
    """The writes of the chain's KPIs and milestones (``_writes_prepared``), then the copy of their rows into today's
    snapshot (``today_snapshot_copy``): sent together, they run on the server while Python evaluates or rolls up
    what comes next. Nothing writes those rows later in the update."""
    keys = [*((ItemType.KPI, kpi.pk) for kpi in chain.kpis), *((ItemType.MILESTONE, m.pk) for m in chain.milestones)]
    return [
        *_writes_prepared(chain, results, now, (KPI, Milestone)),
        today_snapshot_copy_prepared(chain.plan.pk, today, keys),
    ]


def _writes_prepared(chain: _Chain, results: dict, now, models, unmoved=()) -> list[Callable[[], None]]:
    """The writes of the chain's items of ``models`` whose computed values changed, prepared up to their UPDATEs
    (``bulk_set_prepared``), which the caller sends (the plan is written by the caller); ``unmoved`` are left."""
    sends = []
    for model, items, item_type in (
        (KPI, chain.kpis, ItemType.KPI),
        (Milestone, chain.milestones, ItemType.MILESTONE),
        (Goal, chain.goals, ItemType.GOAL),
        (FocusArea, chain.areas, ItemType.FOCUS_AREA),
    ):
        if model not in models:
            continue
        items = [item for item in items if (item_type, item.pk) not in unmoved]
        _explanations_read(
            model,
            [item for item in items if explanation_compared(item, results[(item_type, item.pk)], kpi=model is KPI)],
        )
        changed = {True: [], False: []}  # by whether a figure a client shows changed (updated_at written too)
        for item in items:
            if item_apply(item, results[(item_type, item.pk)], now, kpi=model is KPI):
                changed[hasattr(item, "updated_at")].append(item)
        sends += [bulk_set_prepared(model, rows, items_fields(model, shown=shown)) for shown, rows in changed.items()]
    return sends


def _current_results(
    chain: _Chain, aside: SeriesAside | None, history, today: datetime.date, evaluated: Callable[[list, dict], None]
) -> tuple[dict, dict]:
    """The chain KPIs' series (``_points``) and today's results of its KPIs and milestones (``_item_results``).

    With a read aside, each chunk's KPIs are evaluated as soon as it comes, while the database still reads the
    other chunks: at national scale 10 the evaluation of 10,000 KPIs (0.4 s) no longer waits for the last series.
    ``evaluated(kpis, results)`` hears of each such chunk (the caller writes them while the next is evaluated).
    """
    if aside is None:
        points = _points(chain.kpis)
        return points, _item_results(chain, points, history, today, live=True)
    by_id = {kpi.pk: kpi for kpi in chain.kpis}
    points, results = {}, {}
    for chunk in aside.completed():
        kpis = [by_id[pk] for pk in chunk if pk in by_id]
        points.update((kpi.pk, chunk[kpi.pk]) for kpi in kpis)
        chunk_results = _item_results(replace(chain, kpis=kpis, milestones=[]), points, {}, today, live=True)
        evaluated(kpis, chunk_results)
        results |= chunk_results
    # No measurement (no series), or drawn into the change by the zones' aggregates once the read aside had begun.
    rest = [kpi for kpi in chain.kpis if kpi.pk not in points]
    points.update(_points(rest))
    results |= _item_results(replace(chain, kpis=rest), points, history, today, live=True)  # the milestones too
    return points, results


def _points(kpis: list[_Item]) -> dict[int, rollup.MeasurementSeries | list[rollup.MeasurementPoint]]:
    """The national series of ``kpis``, in one query, as the whole-plan recompute reads them.

    A bulk upload's chain holds a whole plan's series (240,000 rows at scale 1). PostgreSQL sends each KPI's
    series packed in one value (``plans.series``), the very ``MeasurementSeries`` the whole-plan recompute
    evaluates, so both paths read the same figures in the same order; elsewhere the points are read as rows.
    """
    if not kpis:
        return {}
    if connection.vendor == "postgresql":
        read = _unpacked(series_packed(kpi.pk for kpi in kpis))
        return {kpi.pk: read.get(kpi.pk) or rollup.MeasurementSeries([], []) for kpi in kpis}
    points = defaultdict(list)
    query = (
        Measurement.objects.national()
        .filter(kpi_id__any=[kpi.pk for kpi in kpis])
        .order_by("kpi_id", "date", "recorded_at", "id")
        .values_list(*MEASUREMENT_COLUMNS)
    )
    for row in query:
        points[row[0]].append(_point(row))
    return points


def _unpacked(packed: dict[int, bytes]) -> dict[int, rollup.MeasurementSeries]:
    """The ``MeasurementSeries`` of packed series, by KPI (``series_packed_aside`` makes them in its threads)."""
    return {kpi_id: rollup.MeasurementSeries(*series_unpack(value)) for kpi_id, value in packed.items()}


def _recount_applies(chain: _Chain, since: datetime.date) -> bool:
    """Whether to recount (``_recount``) the month ends before ``since`` rather than re-evaluate the chain's
    KPIs there: for more than ``INLINE_MAX_ITEMS`` KPIs (a few are re-evaluated in the same transaction at
    no extra query), when those month ends only saw points come and go after their as-of date: the write
    changed measurements only (a redefinition, a milestone or a deletion rebuilds the whole period, so
    ``since`` is then the start of time), all dated after every chain KPI's baseline date (on or before it
    a point is counted as before the baseline, not after the as-of date)."""
    if len(chain.kpis) <= INLINE_MAX_ITEMS or since == WHOLE_PERIOD:
        return False
    return all(kpi.baseline_date < since for kpi in chain.kpis)


def _recount(plan_id: int, kpi_ids: list[int], days: list[datetime.date]) -> None:
    """Set the point counts of the KPIs' explanations at ``days`` (month ends before the earliest date written)
    to what a re-evaluation gives: ``count`` is every point the KPI has now, and the points a day does not
    use because they come after it are that count less those it did see (before the baseline, used,
    superseded), which no write dated after the day changes. Status, score, forecast and every other
    figure stay as they are. One statement, whatever the number of KPIs and days; counted from the rows
    at the time it runs, so running it late or twice gives the same."""
    if not kpi_ids or not days:
        return
    # Counted first, in a statement of its own: inside the UPDATE the planner, misled by a snapshot table
    # whose statistics lag behind, ran the count once per snapshot row.
    counts = dict(
        Measurement.objects.national()
        .filter(kpi_id__any=kpi_ids)
        .values("kpi_id")
        .annotate(n=Count("id"))
        .values_list("kpi_id", "n")
    )
    totals = [{"id": pk, "total": counts.get(pk, 0)} for pk in kpi_ids]
    after = rollup.EXCLUDED_AFTER_AS_OF
    table = connection.ops.quote_name(StatusSnapshot._meta.db_table)
    if connection.vendor == "postgresql":
        seen = (
            "((s.explanation #>> '{inputs,points,count}')::bigint"
            f" - COALESCE((s.explanation #>> '{{inputs,points,excluded,{after}}}')::bigint, 0))"
        )
        sql = f"""
            UPDATE {table} AS s SET explanation = jsonb_set(
                s.explanation, '{{inputs,points}}',
                (s.explanation #> '{{inputs,points}}') || jsonb_build_object(
                    'count', v.total,
                    'excluded', CASE WHEN v.total - {seen} > 0
                        THEN (s.explanation #> '{{inputs,points,excluded}}')
                            || jsonb_build_object('{after}', v.total - {seen})
                        ELSE (s.explanation #> '{{inputs,points,excluded}}') - '{after}' END))
            FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, total bigint)
            WHERE s.plan_id = %s AND s.item_type = %s AND s.as_of = ANY(%s::date[]) AND s.item_id = v.id
              AND (s.explanation #>> '{{inputs,points,count}}')::bigint <> v.total
        """
        params = [json.dumps(totals), plan_id, ItemType.KPI, days]
    else:
        seen = (
            "(json_extract(explanation, '$.inputs.points.count')"
            f" - COALESCE(json_extract(explanation, '$.inputs.points.excluded.{after}'), 0))"
        )
        counted = "json_set(explanation, '$.inputs.points.count', v.total)"
        sql = f"""
            UPDATE {table} SET explanation = CASE WHEN v.total - {seen} > 0
                THEN json_set({counted}, '$.inputs.points.excluded.{after}', v.total - {seen})
                ELSE json_remove({counted}, '$.inputs.points.excluded.{after}') END
            FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.total') AS total
                  FROM json_each(%s)) AS v
            WHERE plan_id = %s AND item_type = %s AND as_of IN ({", ".join(["%s"] * len(days))})
              AND item_id = v.id AND json_extract(explanation, '$.inputs.points.count') <> v.total
        """
        params = [json.dumps(totals), plan_id, ItemType.KPI, *(day.isoformat() for day in days)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@dataclass
class Recount:
    """The explanations ``plan_update_incremental`` leaves to recount once the new statuses are committed
    (``history_recount``)."""

    kpi_ids: list[int] = field(default_factory=list)
    days: list[datetime.date] = field(default_factory=list)
    deferrals: int = 0  # how many times in a row its next batch has stepped aside (``history_recount_step``)

    def split(self, count: int) -> tuple["Recount", "Recount"]:
        """The first ``count`` KPIs' recount and the rest's."""
        return Recount(self.kpi_ids[:count], self.days), Recount(self.kpi_ids[count:], self.days)

    def as_json(self) -> dict:
        return {"kpi_ids": self.kpi_ids, "days": [day.isoformat() for day in self.days], "deferrals": self.deferrals}

    @classmethod
    def from_json(cls, data: dict) -> "Recount":
        days = [datetime.date.fromisoformat(day) for day in data["days"]]
        return cls(list(data["kpi_ids"]), days, data.get("deferrals", 0))


@collection_paused
@transaction.atomic
def plan_update_incremental(
    *, plan_id: int, changes: Changes, first_revision: int, last_revision: int, recount: Recount | None = None
) -> bool:
    """Apply ``changes`` (committed writes that took the plan's data_revision from ``first_revision - 1``
    to ``last_revision``) to the stored statuses and snapshots; raises Fallback when it cannot (see the
    module's docstring).

    Returns True when the plan's statuses are now current (computed_revision advanced), False when an
    earlier write is still to be computed, so the whole plan should follow.

    ``recount`` (from ``plan_changes_apply``) receives the past explanations of a large batch to recount
    once this transaction has committed (``history_recount``); without it they are rebuilt here.
    """
    _lock(plan_id)
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return True
    if changes.whole:
        raise Fallback("the write changed the plan's structure")
    today = timezone.localdate()
    if plan.computed_at is None or timezone.localdate(plan.computed_at) != today:
        raise Fallback("the stored statuses are not today's")
    if (plan.explanation or {}).get("method_version") != rollup.METHOD_VERSION:
        raise Fallback("the stored statuses come from another method version")
    # A large batch's series, read while the zones' aggregates refresh and the chain loads, each chunk evaluated as
    # it comes (``_current_results``).
    aside = series_packed_aside(changes.kpis, then=_unpacked, chunks=ASIDE_CHUNKS)
    changes.values_changed(aggregates_refresh(plan, kpi_ids=changes.kpis))  # a zone's figure moves the nation's
    if aside is not None and not measurements_unwritten():
        aside = None  # the refresh wrote the nation's derived figures, which the connections aside do not see
    chain = _chain_load(plan, changes)
    history = defaultdict(list)
    updates = MilestoneUpdate.objects.filter(milestone_id__any=[m.pk for m in chain.milestones]).order_by(
        "created_at", "id"
    )
    for row in updates.values_list(
        "milestone_id", "created_at", "percent_complete", "state", "previous_percent_complete", "previous_state"
    ):
        history[row[0]].append(row[1:])

    # An item's explanation counts every measurement, later ones too (as left out): its own history
    # changes in full; its parents read only statuses and scores, which change from ``since`` on. Before
    # ``since``, only those counts move when the write changed measurements only: recounted in place.
    start = max(changes.since, plan.start_date)
    end = min(plan.end_date, today)
    month_ends = [d for d in month_ends_between(plan.start_date, end) if d >= plan.start_date and d != today]
    rolled = [d for d in month_ends if d >= start]
    recounted = (
        [d for d in month_ends if d < start] if recount is not None and _recount_applies(chain, changes.since) else []
    )
    evaluated_days = [d for d in month_ends if d not in recounted]
    now = timezone.now()
    figures = {kpi.pk: (kpi.status, kpi.score, kpi.progress) for kpi in chain.kpis}  # as stored, before item_apply
    counted = _counted(chain)
    written = set()
    with StatementsStepped() as steps:
        # A read aside's chunks of KPIs are written as they are evaluated, each chunk's UPDATE running on the server
        # while the next is evaluated (10,000 KPI rows at national scale 10 take the database 0.6 s).

        def evaluated(kpis: list[_Item], results: dict) -> None:
            steps.step(lambda: _items_written(replace(chain, kpis=kpis, milestones=[]), results, now, today))
            written.update(kpi.pk for kpi in kpis)

        points, current = _current_results(chain, aside, history, today, evaluated)
        in_sync = plan.computed_revision >= first_revision - 1
        # The stored results are today's; past month ends roll up from their own snapshots, and today's snapshot
        # keeps the explanation on a month end.
        unmoved = (
            _parents_unmoved(chain, changes, current, today, figures)
            if in_sync and not rolled and not is_month_end(today)
            else {}
        )
        current |= unmoved
        steps.wait()  # the reads below see the chunks written
        chain.nodes = _nodes(
            plan,
            {g.pk for g in chain.goals if (ItemType.GOAL, g.pk) not in unmoved},
            {a.pk for a in chain.areas if (ItemType.FOCUS_AREA, a.pk) not in unmoved},
        )
        stored = _month_end_snapshots(chain, rolled)
        rest = replace(chain, kpis=[kpi for kpi in chain.kpis if kpi.pk not in written])
        # The other KPIs' and the milestones' rows are written and copied while their goals are rolled up (the
        # roll-ups and the month ends are Python's work).
        steps.step(lambda: _items_written(rest, current, now, today))
        _roll_up(chain, current, today, _stored_today)
        by_day = {today: current}
        for day in evaluated_days:
            items = _item_results(chain, points, history, day, live=False)
            by_day[day] = (
                _roll_up(chain, items, day, lambda node, day=day: stored.get((*node.key, day)))
                if day >= start
                else items
            )
    for send in _writes_prepared(chain, current, now, (Goal, FocusArea), unmoved):
        send()
    computed_at, revision = plan.computed_at, plan.computed_revision
    _apply(plan, current[(ItemType.PLAN, plan.pk)], now, kpi=False)
    if in_sync:
        plan.computed_revision = min(max(revision, last_revision), plan.data_revision)
        plan.tallies = _tallies(plan, revision, changes, counted, chain)
    else:
        # The dirty month ends of the writes not yet computed are found from computed_at: keep it.
        plan.computed_at = computed_at
    bulk_set(Plan, [plan], [*COMMON_FIELDS, "computed_revision", "tallies"])

    keys = chain.keys()
    item_keys = [key for key in keys if key[0] in (ItemType.KPI, ItemType.MILESTONE)]
    past = (Q(as_of__in=rolled) & _key_filter(keys)) | (Q(as_of__in=evaluated_days) & _key_filter(item_keys))
    if rolled or evaluated_days or changes.deleted:
        StatusSnapshot.objects.filter(plan=plan).filter(past | _key_filter(changes.deleted)).delete()
    rows = []
    for day, results in by_day.items():
        if day != today:
            rows += _snapshot_rows(plan, day, {key: results[key] for key in keys if key in results})
    bulk_insert(StatusSnapshot, rows, SNAPSHOT_FIELDS)
    parents = (ItemType.GOAL, ItemType.FOCUS_AREA, ItemType.PLAN)  # the KPIs and milestones are copied as written
    today_snapshot_copy(plan.pk, today, [key for key in keys if key[0] in parents and key in current])
    if recounted:
        recount.kpi_ids, recount.days = [kpi.pk for kpi in chain.kpis], recounted
    return in_sync


def history_recount(*, plan_id: int, recount: Recount) -> bool:
    """After ``plan_update_incremental`` committed a large batch's statuses: the point counts of older month
    ends' explanations (``_recount``). At national scale that rewrites 120,000 snapshot rows, seconds of I/O
    the dashboards need not wait for; in batches, each under the plan's lock for a fraction of a second,
    so that the next write's update (or a recompute) does not queue behind it. Should one fail, the rest
    is left (False): those counts stay as a whole-plan recompute leaves them, until the next recount or
    backfill."""
    for start in range(0, len(recount.kpi_ids) if recount.days else 0, RECOUNT_BATCH):
        try:
            with transaction.atomic():
                _lock(plan_id)
                _recount(plan_id, recount.kpi_ids[start : start + RECOUNT_BATCH], recount.days)
        except Exception:
            logger.exception("The point counts of plan %s's past explanations were not recounted", plan_id)
            return False
    return True


def history_recount_schedule(*, plan_id: int, recount: Recount) -> None:
    """Queue ``recount`` on the worker, a batch per task (``history_recount_step``): the worker takes one task at
    a time, so a whole recount in one task (14 s at national scale 10) held back the update of a write that came
    meanwhile; each batch now queues the rest behind it. In-process (no broker) or with the broker down, the
    recount runs here, whole."""
    if not recount.kpi_ids or not recount.days:
        return
    # Run eagerly, each batch's task would start the next one within itself, a call stack as deep as the batches.
    if current_app.conf.task_always_eager or not _enqueue(RECOUNT_TASK, plan_id, {"recount": recount.as_json()}):
        history_recount(plan_id=plan_id, recount=recount)


def history_recount_step(*, plan_id: int, recount: Recount) -> None:
    """The worker's share of ``history_recount_schedule``: one batch, then the rest queued again. A batch queued
    before a write's update would hold that update back for its own run, a tenth of a second at national scale 10,
    while the worker has the update in its queue: the batch steps aside instead (``RECOUNT_DEFERRALS``)."""
    if recount.deferrals < RECOUNT_DEFERRALS and _update_waiting(plan_id):
        recount.deferrals += 1
        if _enqueue(RECOUNT_TASK, plan_id, {"recount": recount.as_json()}, countdown=RECOUNT_DEFER_SECONDS):
            return
    batch, rest = recount.split(RECOUNT_BATCH)
    if history_recount(plan_id=plan_id, recount=batch):
        history_recount_schedule(plan_id=plan_id, recount=rest)


def plan_changes_apply(
    *, plan_id: int, changes: Changes, first_revision: int, last_revision: int, inline: bool = False
) -> bool:
    """After a write commits: the incremental update; True when the whole-plan recompute must follow
    (the incremental path could not apply, failed, or found an earlier write not yet computed).

    A change of more than ``INLINE_MAX_ITEMS`` items is handed to the worker (``plan_changes_task``, which
    calls back with ``inline``) so that the write's response does not wait for it; in-process (no broker)
    the task runs at once. False when it was handed over, True when that failed (the plan stays marked).
    """
    if changes.whole:
        logger.info("Plan %s is recomputed whole: the write changed its structure", plan_id)
        return True
    if not inline and changes.size() > INLINE_MAX_ITEMS:
        return not _enqueue(
            CHANGES_TASK,
            plan_id,
            {"changes": changes.as_json(), "first_revision": first_revision, "last_revision": last_revision},
        )
    recount = Recount()
    try:
        in_sync = plan_update_incremental(
            plan_id=plan_id,
            changes=changes,
            first_revision=first_revision,
            last_revision=last_revision,
            recount=recount,
        )
        history_recount_schedule(plan_id=plan_id, recount=recount)
        return not in_sync
    except Fallback as reason:
        logger.info("Plan %s is recomputed whole: %s", plan_id, reason)
    except Exception:
        logger.exception("The incremental update of plan %s failed; the whole plan is recomputed", plan_id)
    return True


def _update_waiting(plan_id: int) -> bool:
    """Whether a write to the plan has committed whose statuses are not computed yet (``Plan.needs_recompute``)."""
    plan = Plan.objects.only("data_revision", "computed_revision").filter(pk=plan_id).first()
    return plan is not None and plan.needs_recompute


def _enqueue(task: str, plan_id: int, kwargs: dict, countdown: float | None = None) -> bool:
    """Queue ``task`` (``CHANGES_TASK``, ``RECOUNT_TASK``) for the plan on the worker, at once: no coalescing delay,
    each large write is its own update (``countdown``: not before that many seconds). False when the broker is down or
    refuses, as ``plan_recompute_enqueue`` judges it."""
    if broker_breaker.is_down():
        return False
    try:
        current_app.tasks[task].apply_async(kwargs={"plan_id": plan_id, **kwargs}, countdown=countdown)
        return True
    except Exception:
        logger.exception("Could not enqueue %s for plan %s", task, plan_id)
        broker_breaker.trip()
        return False
