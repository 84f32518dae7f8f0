"""Every non-trivial read, with the eager loading it needs (views and the API call these)."""

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    F,
    FloatField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, Collate, Concat, Now
from django.shortcuts import get_object_or_404
from django.utils import timezone

from . import tallies
from .choices import (
    Aggregation,
    ItemType,
    MeasurementSource,
    MilestoneState,
    PlanState,
    Status,
    SubmissionState,
    UnitLevel,
)
from .dates import date_read
from .models import (
    KPI,
    DefinitionChange,
    FocusArea,
    Goal,
    Measurement,
    MeasurementRevision,
    Milestone,
    MilestoneUpdate,
    PeriodReopening,
    Plan,
    ReportingUnit,
    StatusSnapshot,
    Submission,
    SubmissionTransition,
    Team,
    Tombstone,
    UnitAggregate,
    UnitStatus,
)
from .rollup import ALLOWANCE_DAYS, STALE_NO_FINAL_FIGURE, STALE_OLDER_THAN_FREQUENCY, kpi_stale_reasons


def plan_overview_list() -> QuerySet[Plan]:
    """Plans with their focus areas, goals and KPIs, in four queries whatever their size."""
    kpis = KPI.objects.order_by("code")
    goals = Goal.objects.select_related("owner_team").order_by("code").prefetch_related(Prefetch("kpis", kpis))
    focus_areas = FocusArea.objects.order_by("order", "code").prefetch_related(Prefetch("goals", goals))
    return Plan.objects.prefetch_related(Prefetch("focus_areas", focus_areas))


@dataclass(frozen=True)
class PlanClosure:
    """Where a plan stands on its final figures. ``ended`` once ``today`` is past its end date.

    ``final_in`` counts the KPIs with a measurement dated on or after their target date (the final
    figure of KPI rule 3), of ``kpi_count``; ``achieved`` and ``missed`` split those by stored status.
    """

    end_date: datetime.date
    ended: bool
    kpi_count: int = 0
    final_in: int = 0
    achieved: int = 0
    missed: int = 0


def plan_closures(*, plans, today: datetime.date) -> dict[int, PlanClosure]:
    """``{plan id: PlanClosure}`` for ``plans``: from their stored tallies (plans.tallies), in one query at most
    for the plans whose tallies are not current, whatever their number."""
    plans = list(plans)
    counts = tallies.closure_counts(plans)
    closures = {}
    for plan in plans:
        row = counts.get(plan.pk, {})
        closures[plan.pk] = PlanClosure(
            end_date=plan.end_date,
            ended=today > plan.end_date,
            kpi_count=row.get("kpi_count", 0),
            final_in=row.get("final_n", 0),
            achieved=row.get("achieved", 0),
            missed=row.get("missed", 0),
        )
    return closures


def plan_closure(*, plan: Plan, today: datetime.date) -> PlanClosure:
    return plan_closures(plans=[plan], today=today)[plan.pk]


@dataclass(frozen=True)
class FinalReport:
    """A closed plan's final report: the closure's counts (``PlanClosure``), each KPI's final figure against its
    target (``kpis``: KPIs annotated ``final_value``/``final_date``, None when no final figure came in) and the
    milestones' completion (``milestones_by_state``: {state: count}; ``milestones_open``: those not done or
    cancelled)."""

    closure: PlanClosure
    kpis: list
    milestone_count: int
    milestones_done: int
    milestones_by_state: dict
    milestones_open: list

    @property
    def milestone_percent(self) -> int | None:
        return round(100 * self.milestones_done / self.milestone_count) if self.milestone_count else None


def plan_final_report(*, plan: Plan, today: datetime.date) -> FinalReport:
    """The final report of ``plan`` (shown once it is closed), in four queries whatever its size."""
    final = (
        Measurement.objects.national()
        .filter(kpi=OuterRef("pk"), date__gte=OuterRef("target_date"))
        .order_by("-date", "-recorded_at", "-pk")
    )
    kpis = list(
        KPI.objects.filter(plan=plan)
        .select_related("owner_team")
        .annotate(final_value=Subquery(final.values("value")[:1]), final_date=Subquery(final.values("date")[:1]))
        .order_by("code")
    )
    states = dict(Milestone.objects.filter(plan=plan).values("state").annotate(n=Count("id")).values_list("state", "n"))
    open_milestones = list(
        Milestone.objects.filter(plan=plan)
        .exclude(state__in=[MilestoneState.DONE, MilestoneState.CANCELLED])
        .select_related("owner_team")
        .order_by("due_date", "id")
    )
    return FinalReport(
        closure=plan_closure(plan=plan, today=today),
        kpis=kpis,
        milestone_count=sum(states.values()),
        milestones_done=states.get(MilestoneState.DONE, 0),
        milestones_by_state={MilestoneState(state).label: n for state, n in sorted(states.items())},
        milestones_open=open_milestones,
    )


# --- Staff work: "My work", item pages and their history ---------------------------------

# Attention buckets of "My work", in the order the page lists them. They follow the stored status
# (what the badge beside each row says) and, for KPIs, rollup's staleness rule (KPI rule 10).
NEEDS_FIGURE, OFF_TRACK, AT_RISK, ON_TRACK = "needs_figure", "off_track", "at_risk", "on_track"
WORK_BUCKETS = (NEEDS_FIGURE, OFF_TRACK, AT_RISK, ON_TRACK)
DUE_SOON_DAYS = 30
_BUCKET_OF_STATUS = {
    Status.OFF_TRACK: OFF_TRACK,
    Status.OVERDUE: OFF_TRACK,
    Status.MISSED: OFF_TRACK,
    Status.AT_RISK: AT_RISK,
}
# A final result: rule 10 never calls these stale, and no later figure can change them.
_FINAL_STATUSES = (Status.ACHIEVED, Status.MISSED)
_DONE_STATUSES = (Status.COMPLETE, Status.CANCELLED, Status.ACHIEVED, Status.MISSED)


@dataclass(frozen=True)
class WorkItem:
    """One row of "My work": a milestone or a KPI, the bucket it falls in and its latest figure.

    ``figure_date`` is the date the latest figure speaks for (a KPI's measurement date, the day of a
    milestone's latest progress update); ``recorded_at`` and ``recorded_by`` say when and by whom it
    was entered. Neither is a row's ``updated_at``, which any reload or recompute touches.
    """

    kind: str  # ItemType.MILESTONE or ItemType.KPI
    item: Milestone | KPI
    bucket: str
    due: datetime.date
    days_left: int
    stale_reasons: tuple[str, ...] = ()
    figure_date: datetime.date | None = None
    figure_value: float | None = None
    recorded_at: datetime.datetime | None = None
    recorded_by: Any = None  # a user, or None
    # A KPI past its target date without its final figure: the day it is due by (KPI rule 8), and whether that
    # day has passed (its forecast then no longer stands in for it).
    final_due_by: datetime.date | None = None
    final_overdue: bool = False
    figure_derived: bool = False  # the latest figure was computed (from the zones' or another KPI's figures)

    @property
    def is_milestone(self) -> bool:
        return self.kind == ItemType.MILESTONE

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_left)

    @property
    def is_overdue(self) -> bool:
        """A milestone whose stored status is overdue (not merely a due date in the past)."""
        return self.item.status == Status.OVERDUE

    @property
    def figure_older_than_frequency(self) -> bool:
        return STALE_OLDER_THAN_FREQUENCY in self.stale_reasons

    @property
    def due_soon(self) -> bool:
        return self.item.status not in _DONE_STATUSES and 0 <= self.days_left <= DUE_SOON_DAYS


def _kpi_stale_reasons(kpi: KPI, latest_date: datetime.date | None, today: datetime.date) -> tuple[str, ...]:
    """KPI rule 10 at ``today`` (rollup.kpi_stale_reasons), for the "needs a figure" bucket.

    A final result (achieved, missed) is never stale. A KPI without any measurement after its baseline
    counts from its baseline date, the last figure it has: the rule then asks for its first figure once the
    reporting frequency has passed, and for its final figure once the target date has.
    """
    if kpi.status in _FINAL_STATUSES:
        return ()
    reasons = kpi_stale_reasons(
        as_of=today,
        latest_date=latest_date or kpi.baseline_date,
        target_date=kpi.target_date,
        frequency=kpi.frequency,
    )
    return tuple(reasons)


def _status_bucket_cases() -> list[When]:
    """``_bucket`` by stored status alone, as SQL (the order of ``When`` clauses is the order of the rules)."""
    cases = {}
    for status, bucket in _BUCKET_OF_STATUS.items():
        cases.setdefault(bucket, []).append(status)
    return [When(status__in=statuses, then=Value(bucket)) for bucket, statuses in cases.items()]


def _kpi_stale_q(today: datetime.date) -> Q:
    """KPI rule 10 at ``today`` as SQL over ``figure_on`` (the latest figure's date, else the baseline date).

    The same rule as ``_kpi_stale_reasons``: older than the frequency's allowance, or the target date has passed
    without a figure on or after it; a final result is never stale.
    ``figure_on`` is compared once, with the later of the two limits: every reference to it repeats the latest
    figure's subquery, and My work's window query repeats this rule in each of its windows, so comparing it once
    per limit took that query 36 ms to compose at every cold render.
    """
    allowance = Case(
        *[
            When(frequency=frequency, then=Value(today - datetime.timedelta(days=days)))
            for frequency, days in ALLOWANCE_DAYS.items()
        ],
        output_field=DateField(),
    )
    # Past its target date a KPI needs a figure on or after it: the later limit of the two is the one to meet.
    limit = Case(
        When(target_date__lt=today, target_date__gt=allowance, then=F("target_date")),
        default=allowance,
        output_field=DateField(),
    )
    return Q(figure_on__lt=limit) & ~Q(status__in=_FINAL_STATUSES)


def _work_milestones(teams) -> QuerySet[Milestone]:
    # An active plan's work only: a draft is not tracked yet, a closed plan takes no more updates.
    return Milestone.objects.filter(owner_team__in=teams, plan__state=PlanState.ACTIVE).annotate(
        bucket=Case(*_status_bucket_cases(), default=Value(ON_TRACK))
    )


def _kept_figure(today: datetime.date) -> QuerySet[Measurement]:
    """A KPI's (``OuterRef("pk")``) latest figure as the status method keeps it, newest first: after the
    baseline date and on or before ``today``, the latest recorded on one date."""
    return (
        Measurement.objects.national()
        .filter(kpi=OuterRef("pk"), date__gt=OuterRef("baseline_date"), date__lte=today)
        .order_by("-date", "-recorded_at", "-id")
    )


def _work_kpis(teams, today: datetime.date) -> QuerySet[KPI]:
    """The KPIs of ``teams`` with their latest kept figure's date (``measured_on``) and their bucket, in SQL.

    While its plan's statuses are current (every write computed), a computed KPI's stored ``latest_date`` is that
    date: the status method keeps the same figures (after the baseline date, none after today, as no figure can be
    dated later). Otherwise a figure written since may be newer, and the measurements are asked. At national scale
    10 a team's 1,000 KPIs each cost that query an index probe, a fifth of My work's cold render."""
    latest = _kept_figure(today)
    return (
        KPI.objects.filter(owner_team__in=teams, plan__state=PlanState.ACTIVE)
        .annotate(
            measured_on=Case(
                When(
                    Q(plan__computed_revision=F("plan__data_revision"), computed_at__isnull=False),
                    then=F("latest_date"),
                ),
                default=Subquery(latest.values("date")[:1]),
                output_field=DateField(),
            )
        )
        .annotate(
            figure_on=Coalesce("measured_on", "baseline_date"),
            bucket=Case(
                When(_kpi_stale_q(today), then=Value(NEEDS_FIGURE)), *_status_bucket_cases(), default=Value(ON_TRACK)
            ),
        )
    )


def _team_ids(user) -> QuerySet:
    """The user's teams as a subquery: the page's reads embed it rather than read it first."""
    return user.teams.values("id")


@dataclass(frozen=True)
class WorkCount:
    """One bucket of "My work": how many items, and how many of them have no computed status yet."""

    total: int = 0
    uncomputed: int = 0


@dataclass(frozen=True)
class WorkPage:
    """What "My work" shows: every bucket's count, and the requested rows of some buckets."""

    counts: dict[str, WorkCount]
    rows: dict[str, list[WorkItem]]


def _byte_order(expression):
    """``expression`` compared by code point, as Python compares strings (the old in-memory sort's order)."""
    return Collate(expression, "C" if connection.vendor == "postgresql" else "BINARY")


def _work_keys(items: QuerySet, *, kind: int, due: str, label, stops: dict[str, int]) -> list[tuple]:
    """``(bucket, total, uncomputed, due, label, kind, id)`` of the first ``stops[bucket]`` rows of each bucket, in
    one query, plus the first row of every other bucket (so every bucket's count comes along).

    Ranked by due date then name within each bucket by a window, so only the keys of the rows that can be shown
    leave the database; the counts are windows over the same partition. The windows rank the rows of ``items``
    compiled once, as a derived table: as Django's own window filter (a ``filter()`` on a window annotation) the
    bucket's expression, a ``CASE`` over the statuses, frequencies and dates, was compiled into the select list,
    each window's partition and the wrapping query again: at national scale 10 the KPIs' query spent about 11 ms in
    the ORM's Python, now about 5, of a cold render of some 65 ms; the database's work is the same.
    """
    inner, params = (
        items.annotate(due_on=F(due), label_key=_byte_order(label))
        .order_by()
        .values("bucket", "due_on", "label_key", "id", "status")
        .query.sql_with_params()
    )
    shown, shown_params = ["rank = 1"], []
    for bucket, stop in stops.items():
        shown.append("(bucket = %s AND rank <= %s)")
        shown_params += [bucket, stop]
    partition = "OVER (PARTITION BY bucket"
    sql = f"""
        SELECT bucket, total, uncomputed, due_on, label_key, id FROM (
            SELECT bucket, due_on, label_key, id,
                ROW_NUMBER() {partition} ORDER BY due_on, label_key, id) AS rank,
                COUNT(*) {partition}) AS total,
                SUM(CASE WHEN status = '' THEN 1 ELSE 0 END) {partition}) AS uncomputed
            FROM ({inner}) AS items
        ) AS ranked
        WHERE {" OR ".join(shown)}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *shown_params])
        rows = cursor.fetchall()
    # SQLite's cursor gives dates as text: as the ORM would read them, so that both kinds sort alike.
    return [
        (bucket, total, uncomputed, date_read(due_on), label_key, kind, pk)
        for bucket, total, uncomputed, due_on, label_key, pk in rows
    ]


def my_work_page(user, today: datetime.date, *, windows: dict[str, tuple[int, int]]) -> WorkPage:
    """Every bucket's count and ``{bucket: rows start:stop of it}`` for each ``bucket: (start, stop)`` of ``windows``.

    Buckets, in the order the page lists them (``WORK_BUCKETS``): KPIs that need a figure (stale by KPI rule 10
    at ``today``: the latest figure is older than the reporting frequency allows, or the target date has passed
    without a final figure); then by stored status: off track, overdue or missed; at risk; everything else (on
    track, done, not started). By due date then name within each bucket. A KPI's latest figure is the one the
    status method keeps: the newest measurement dated after the baseline and on or before ``today``.

    Classified, counted, ranked and cut in SQL (one query for milestones, one for KPIs), so a team owning
    thousands of items loads only the rows shown; then those milestones, KPIs and authors in one query each.
    """
    teams = _team_ids(user)
    stops = {bucket: stop for bucket, (_start, stop) in windows.items()}
    keys = _work_keys(_work_milestones(teams), kind=0, due="due_date", label=F("title"), stops=stops)
    keys += _work_keys(
        _work_kpis(teams, today), kind=1, due="target_date", label=Concat("code", Value(" "), "name"), stops=stops
    )
    counts = {bucket: WorkCount() for bucket in WORK_BUCKETS}
    # Every row carries its bucket's counts on its side (milestones, KPIs): add each side's once.
    sides = {(kind, bucket): (total, uncomputed) for bucket, total, uncomputed, _due, _label, kind, _pk in keys}
    for (_kind, bucket), (total, uncomputed) in sides.items():
        seen = counts[bucket]
        counts[bucket] = WorkCount(seen.total + total, seen.uncomputed + (uncomputed or 0))
    keys.sort(key=lambda key: key[3:])  # due, label (by code point, as ranked), kind, id
    shown = {bucket: [] for bucket in windows}
    for bucket, _total, _uncomputed, _due, _label, kind, pk in keys:
        if bucket in shown:
            shown[bucket].append((kind, pk))
    keys = {bucket: shown[bucket][start:stop] for bucket, (start, stop) in windows.items()}
    ids = {0: [], 1: []}
    for rows in keys.values():
        for kind, pk in rows:
            ids[kind].append(pk)
    # The page shows no explanation: decoding thousands of them (items, goals, plans) was most of its cost.
    unshown = ("explanation", "goal__explanation", "goal__description", "plan__explanation", "plan__description")
    last_update = MilestoneUpdate.objects.filter(milestone=OuterRef("pk")).order_by("-created_at", "-id")
    milestones = {}
    if ids[0]:
        milestones = (
            Milestone.objects.select_related("goal", "plan", "owner_team")
            .defer(*unshown)
            .annotate(
                last_update_at=Subquery(last_update.values("created_at")[:1]),
                last_update_author_id=Subquery(last_update.values("author_id")[:1]),
            )
            .in_bulk(ids[0])
        )
    kpis = {}
    if ids[1]:
        latest = _kept_figure(today)
        kpis = (
            KPI.objects.select_related("goal", "plan", "owner_team")
            .defer(*unshown)
            .annotate(
                measured_on=Subquery(latest.values("date")[:1]),
                measured_value=Subquery(latest.values("value")[:1]),
                measured_recorded_at=Subquery(latest.values("recorded_at")[:1]),
                measured_source=Subquery(latest.values("source")[:1]),
                measured_by_id=Subquery(latest.values("recorded_by_id")[:1]),
            )
            .in_bulk(ids[1])
        )
    author_ids = {m.last_update_author_id for m in milestones.values()} | {k.measured_by_id for k in kpis.values()}
    author_ids.discard(None)
    authors = get_user_model().objects.in_bulk(author_ids) if author_ids else {}

    def row(kind: int, pk: int, bucket: str) -> WorkItem:
        if kind == 0:
            m = milestones[pk]
            return WorkItem(
                ItemType.MILESTONE,
                m,
                bucket,
                m.due_date,
                (m.due_date - today).days,
                figure_date=timezone.localdate(m.last_update_at) if m.last_update_at else None,
                recorded_at=m.last_update_at,
                recorded_by=authors.get(m.last_update_author_id),
            )
        k = kpis[pk]
        reasons = _kpi_stale_reasons(k, k.measured_on, today)
        due_by = k.final_figure_due_by if STALE_NO_FINAL_FIGURE in reasons else None
        return WorkItem(
            ItemType.KPI,
            k,
            bucket,
            k.target_date,
            (k.target_date - today).days,
            stale_reasons=reasons,
            final_due_by=due_by,
            final_overdue=due_by is not None and today > due_by,
            figure_date=k.measured_on,
            figure_value=k.measured_value,
            recorded_at=k.measured_recorded_at,
            figure_derived=k.measured_source == MeasurementSource.DERIVED,
            recorded_by=authors.get(k.measured_by_id),
        )

    return WorkPage(counts, {bucket: [row(kind, pk, bucket) for kind, pk in rows] for bucket, rows in keys.items()})


@dataclass(frozen=True)
class ManagerWork:
    """What "My work" shows a manager: each plan's pending reviews and problems, and the first rows of two lists."""

    plans: list
    overdue_milestones: list
    stale_kpis: list


def _count_per_plan(rows: QuerySet) -> Coalesce:
    """How many of ``rows`` belong to the plan of the outer query, as a subquery (0 when none)."""
    counted = rows.filter(plan_id=OuterRef("pk")).order_by().values("plan_id").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted[:1]), 0)


def manager_work(*, rows: int) -> ManagerWork:
    """Across every plan (managers manage them all): figures awaiting review, overdue milestones and KPIs whose
    figure is missing, counted per plan, and the first ``rows`` milestones and KPIs, in three queries."""
    plans = (
        Plan.objects.annotate(
            pending_reviews=_count_per_plan(Submission.objects.filter(state=SubmissionState.SUBMITTED)),
            overdue_milestones=_count_per_plan(Milestone.objects.filter(status=Status.OVERDUE)),
            stale_kpis=_count_per_plan(KPI.objects.filter(stale=True)),
        )
        .only("slug", "name", "name_zh", "start_date", "end_date")
        .order_by("-start_date", "name")
    )
    milestones = (
        Milestone.objects.filter(status=Status.OVERDUE)
        .select_related("plan", "goal", "owner_team")
        .defer("explanation", "plan__explanation", "goal__explanation")
        .order_by("due_date", "plan_id", "id")[:rows]
    )
    kpis = (
        KPI.objects.filter(stale=True)
        .select_related("plan", "owner_team")
        .defer("explanation", "plan__explanation")
        .order_by("latest_date", "plan_id", "code")[:rows]
    )
    return ManagerWork(plans=list(plans), overdue_milestones=list(milestones), stale_kpis=list(kpis))


def plan_revision_list() -> QuerySet[Plan]:
    """Every plan with what the page cache keys on (plans.views.pagecache.plan_facts), in one query."""
    fields = ("created_at", "data_revision", "computed_revision", "computed_at", "recompute_failures")
    return Plan.objects.only("id", *fields, "recompute_failed_at").order_by("id")


def milestone_progress_log(*, milestone_id: int) -> QuerySet[MilestoneUpdate]:
    """The milestone's progress updates, newest first, with their authors."""
    return (
        MilestoneUpdate.objects.filter(milestone_id=milestone_id)
        .select_related("author")
        .order_by("-created_at", "-id")
    )


def kpi_measurement_log(*, kpi_id: int, newest: int | None = None) -> list[Measurement]:
    """The KPI's measurements, oldest first; the ``newest`` (one or more) last ones, all of them when None, each with
    ``revisions`` (every write, newest first, with its author).

    Two queries whatever the number of measurements and revisions.
    """
    measurements = list(
        Measurement.objects.national()
        .filter(kpi_id=kpi_id)
        .select_related("recorded_by")
        .order_by("date", "recorded_at")
    )
    revisions = MeasurementRevision.objects.select_related("author").order_by("-created_at", "-id")
    logged = measurements if newest is None else measurements[-newest:]
    prefetch_related_objects(logged, Prefetch("revisions", revisions))
    return measurements


def milestone_for_page(pk: int) -> Milestone:
    return Milestone.objects.select_related("goal", "plan", "owner_team").get(pk=pk)


def kpi_for_page(pk: int) -> KPI:
    return KPI.objects.select_related("goal", "plan", "owner_team").get(pk=pk)


# --- dashboards (plans/views/dashboard.py, plans/views/items.py, plans/exports.py) ---------
# Every dashboard read below issues one query whatever the plan's size. ``as_of=None`` reads the
# live computed fields; a date reads that day's StatusSnapshot rows through correlated subqueries,
# so the same ``as_of_*`` annotations (and the same status filter) serve both cases.


AS_OF_FIELDS = ("status", "score", "progress", "explanation")


def _as_of_annotations(item_type: str, as_of, *, forecast: bool = False, explained: bool = True) -> dict:
    fields = (*AS_OF_FIELDS, "forecast") if forecast else AS_OF_FIELDS
    if not explained:  # the explanation is the large part of a row; the exports show none
        fields = tuple(name for name in fields if name != "explanation")
    if as_of is None:
        # The row's own explanation is the current one (plans.explain.explain_item): not decoded twice.
        live = {"status": "status", "score": "score", "progress": "progress", "forecast": "forecast_value"}
        return {f"as_of_{name}": F(live[name]) for name in fields if name in live}
    # One row at most (unique per item and day): unordered, or the model's ordering joins and sorts for each row.
    rows = StatusSnapshot.objects.filter(item_type=item_type, item_id=OuterRef("pk"), as_of=as_of).order_by()
    return {f"as_of_{name}": Subquery(rows.values(name)[:1]) for name in fields}


def in_status_as_of(items: QuerySet, *, item_type: str, plan_id: int, as_of, statuses) -> QuerySet:
    """``items`` (a dashboard list) whose status at ``as_of`` is one of ``statuses``.

    At a past date a semi-join on that day's snapshots through the (plan, day, status) index, rather than
    the ``as_of_status`` subquery run for every item of the plan (a count of the rows to page needs them all).
    """
    if as_of is None:
        return items.filter(status__in=statuses)
    days = StatusSnapshot.objects.filter(plan_id=plan_id, as_of=as_of, status__in=statuses, item_type=item_type)
    return items.filter(pk__in=days.values("item_id"))


def dashboard_plan_get(*, slug: str) -> Plan:
    return get_object_or_404(Plan, slug=slug)


def plan_snapshot_days(*, plan_id: int, among, latest_by=None) -> list[datetime.date]:
    """The days among ``among`` the plan has snapshots for, oldest first, in one query.

    One index probe per day (``plans_snapshot_plan_day``), never a scan of the history: a plan
    keeps a snapshot for every day a recompute ran, and the pages ask about a dozen month ends.
    With ``latest_by`` (a day), the latest snapshot day on or before it is among the days too (one more probe
    in the same query): what the pages show for a day that has no snapshot of its own.
    """
    days = sorted(set(among))
    if not days and latest_by is None:
        return []
    read = _snapshot_days_probed if connection.vendor == "postgresql" else _snapshot_days_orm
    return read(plan_id, days, latest_by)


def _snapshot_days_orm(plan_id: int, days: list, latest_by) -> list[datetime.date]:
    """``plan_snapshot_days`` by the ORM: an EXISTS per day, and the latest day by ``latest_by``, in one row."""
    probes = {
        f"day_{i}": Exists(StatusSnapshot.objects.filter(plan_id=plan_id, as_of=day)) for i, day in enumerate(days)
    }
    if latest_by is not None:
        before = StatusSnapshot.objects.filter(plan_id=plan_id, as_of__lte=latest_by).order_by("-as_of")
        probes["latest"] = Subquery(before.values("as_of")[:1])
    row = Plan.objects.filter(pk=plan_id).values(**probes).first() or {}
    found = {day for i, day in enumerate(days) if row.get(f"day_{i}")}
    if row.get("latest"):
        found.add(row["latest"])
    return sorted(found)


def _snapshot_days_probed(plan_id: int, days: list, latest_by) -> list[datetime.date]:
    """``plan_snapshot_days`` on PostgreSQL: the same index probes, one per day, written as one statement over the
    days as an array. The ORM's form (an EXISTS per day) took longer to compose than to run: 12 ms for a dozen."""
    table = connection.ops.quote_name(StatusSnapshot._meta.db_table)
    probe = f"SELECT 1 FROM {table} s WHERE s.plan_id = %s AND s.as_of = d"
    sql = f"SELECT d FROM unnest(%s::date[]) AS d WHERE EXISTS ({probe})"
    params: list = [days, plan_id]  # in the order of the placeholders: the days, then the probe's plan
    if latest_by is not None:
        sql += f" UNION SELECT (SELECT max(as_of) FROM {table} WHERE plan_id = %s AND as_of <= %s)"
        params += [plan_id, latest_by]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted({day for (day,) in cursor.fetchall() if day is not None})


def plan_status_counts(*, plan: Plan, as_of=None) -> list[dict]:
    """``[{"item_type", "status", "n"}]`` for focus areas, goals, KPIs and milestones: now from the plan's stored
    tallies (plans.tallies, one query when they are not current), at a past date from its snapshots."""
    if as_of is not None:
        return list(
            StatusSnapshot.objects.filter(plan_id=plan.pk, as_of=as_of)
            .exclude(item_type=ItemType.PLAN)
            .values("item_type", "status")
            .annotate(n=Count("*"))  # not Count("id"): the day-status index answers COUNT(*) alone
            .order_by()
        )
    return tallies.status_counts(plan)


@dataclass(frozen=True)
class ItemScope:
    """The dashboard's filters as the blocks of the page apply them: focus area, owner team, status at the as-of date.

    Focus areas have no owner team: under a team filter they are left out of the counts (the page says so).
    """

    focus_area_id: int | None = None
    team_id: int | None = None
    status: str = ""

    @property
    def active(self) -> bool:
        return bool(self.focus_area_id or self.team_id or self.status)

    def items(self, model, *, plan_id: int, focus_area_path: str) -> QuerySet:
        """``model``'s rows of the plan in the focus area and team (not the status: it depends on the date)."""
        rows = model.objects.filter(plan_id=plan_id)
        if self.focus_area_id:
            rows = rows.filter(**{focus_area_path: self.focus_area_id})
        if self.team_id:
            rows = rows.none() if model is FocusArea else rows.filter(owner_team_id=self.team_id)
        return rows


# Each kind of item counted by the dashboard's blocks, and the path from it to its focus area.
SCOPED_KINDS = (
    (FocusArea, ItemType.FOCUS_AREA, "pk"),
    (Goal, ItemType.GOAL, "focus_area_id"),
    (KPI, ItemType.KPI, "goal__focus_area_id"),
    (Milestone, ItemType.MILESTONE, "goal__focus_area_id"),
)


def plan_status_breakdown(*, plan_id: int, as_of=None, scope: ItemScope) -> list[dict]:
    """``[{"item_type", "status", "area", "n"}]``: the items in ``scope`` by kind, status and focus area, in one query.

    What the status tiles and the focus-area cards count under a filter, so that they agree with the tables
    (which filter the same rows through plans.filtersets). At a past date the status is that day's snapshot's.
    """
    parts = []
    for model, item_type, path in SCOPED_KINDS:
        rows = scope.items(model, plan_id=plan_id, focus_area_path=path)
        if as_of is None:
            state = F("status")
        else:
            day = StatusSnapshot.objects.filter(item_type=item_type, item_id=OuterRef("pk"), as_of=as_of).order_by()
            state = Subquery(day.values("status")[:1])
        rows = rows.annotate(row_status=state, area=F(path))
        if scope.status:
            rows = rows.filter(row_status=scope.status)
        parts.append(
            rows.values("row_status", "area")
            .annotate(item_type=Value(str(item_type)), n=Count("pk"))
            .values("item_type", "row_status", "area", "n")
            .order_by()
        )
    return [
        {"item_type": row["item_type"], "status": row["row_status"] or "", "area": row["area"], "n": row["n"]}
        for row in parts[0].union(*parts[1:], all=True)
    ]


# How an item of each kind is named in a list of changes: what to load along, and the order.
_MOVE_LOADS = {
    ItemType.FOCUS_AREA: ((), ("order", "code")),
    ItemType.GOAL: (("focus_area",), ("focus_area__order", "code")),
    ItemType.KPI: (("goal",), ("code",)),
    ItemType.MILESTONE: (("goal",), ("due_date", "id")),
}


def plan_status_moves(*, plan_id: int, day: datetime.date, limit: int) -> list[tuple[str, Any]]:
    """``[(item type, item)]``: the plan's items whose status now is not the one of ``day``'s snapshot, each with
    ``was`` (that status); at most ``limit`` of each kind, one query per kind. Items without a snapshot that day
    (added since) are left out."""
    moved = []
    for model, item_type, _path in SCOPED_KINDS:
        related, order = _MOVE_LOADS[item_type]
        was = StatusSnapshot.objects.filter(item_type=item_type, item_id=OuterRef("pk"), as_of=day).order_by()
        rows = (
            model.objects.filter(plan_id=plan_id)
            .annotate(was=Subquery(was.values("status")[:1]))
            .filter(was__isnull=False)
            .exclude(was=F("status"))
            .select_related(*related)
            .defer("explanation", *(f"{name}__explanation" for name in related))
            .order_by(*order)
        )
        moved.extend((str(item_type), item) for item in rows[:limit])
    return moved


def plan_figures_since(*, plan_id: int, since: datetime.datetime, limit: int) -> tuple[list, list]:
    """The measurements recorded and the milestone progress logged in the plan at or after ``since``, newest
    first, at most ``limit`` of each (two queries)."""
    figures = (
        Measurement.objects.filter(kpi__plan_id=plan_id, recorded_at__gte=since)
        .select_related("kpi", "unit", "recorded_by")
        .defer("kpi__explanation")
        .order_by("-recorded_at", "-id")[:limit]
    )
    progress = (
        MilestoneUpdate.objects.filter(milestone__plan_id=plan_id, created_at__gte=since)
        .select_related("milestone", "author")
        .defer("milestone__explanation")
        .order_by("-created_at", "-id")[:limit]
    )
    return list(figures), list(progress)


def plan_status_trend(*, plan_id: int, dates, scope: ItemScope | None = None) -> list[dict]:
    """``[{"as_of", "status", "n"}]``: items (not the plan itself) per status on each of ``dates``.

    Reads those days' rows through the (plan, as_of) index, not the daily history between them.
    """
    rows = StatusSnapshot.objects.filter(plan_id=plan_id, as_of__in=list(dates)).exclude(item_type=ItemType.PLAN)
    if scope is not None and (scope.focus_area_id or scope.team_id):
        # The items in the focus area and team today, at each date (items added since count from their first day).
        members = Q()
        for model, item_type, path in SCOPED_KINDS:
            ids = scope.items(model, plan_id=plan_id, focus_area_path=path).values("pk")
            members |= Q(item_type=item_type, item_id__in=ids)
        rows = rows.filter(members)
    if scope is not None and scope.status:
        rows = rows.filter(status=scope.status)
    return list(
        rows.values("as_of", "status")
        .annotate(n=Count("*"))  # not Count("id"): the day-status index answers COUNT(*) alone
        .order_by("as_of", "status")
    )


def plan_snapshot_get(*, plan_id: int, as_of):
    """The plan's own snapshot row on ``as_of``, or None."""
    return StatusSnapshot.objects.filter(plan_id=plan_id, item_type=ItemType.PLAN, item_id=plan_id, as_of=as_of).first()


def dashboard_focus_area_list(*, plan_id: int, as_of=None, explained: bool = True) -> QuerySet[FocusArea]:
    """Focus areas with ``as_of_*`` status fields. ``explained=False`` leaves the explanation out and annotates
    ``as_of_coverage`` (the scored share of the weight, all a card shows of it), read inside the database: a focus
    area's explanation lists every goal under it (200 at national scale 10), so decoding it cost a cold dashboard
    12 ms at that scale for one number per card."""
    areas = FocusArea.objects.filter(plan_id=plan_id).annotate(
        **_as_of_annotations(ItemType.FOCUS_AREA, as_of, explained=explained)
    )
    if not explained:
        # As text cast to a float: a JSON value read through a subquery reaches SQLite's converters as a float.
        coverage = Cast(KeyTextTransform("coverage", KeyTransform("values", "explanation")), FloatField())
        if as_of is not None:
            rows = StatusSnapshot.objects.filter(item_type=ItemType.FOCUS_AREA, item_id=OuterRef("pk"), as_of=as_of)
            coverage = Subquery(rows.order_by().annotate(coverage=coverage).values("coverage")[:1])
        areas = areas.defer("explanation").annotate(as_of_coverage=coverage)
    return areas.order_by("order", "code")


def _unexplained(queryset: QuerySet, explained: bool, *related: str) -> QuerySet:
    """Without the stored explanations (the large, JSON-decoded part of a row) no page shows: those of the
    ``related`` rows loaded along, and the row's own when ``explained`` is false (tables load their rows'
    "Why?" on demand: plans.views.dashboard.why_fragment)."""
    names = [f"{name}__explanation" for name in related]
    return queryset.defer(*names) if explained else queryset.defer("explanation", *names)


def dashboard_goal_list(*, plan_id: int, as_of=None, explained: bool = True) -> QuerySet[Goal]:
    goals = (
        Goal.objects.filter(plan_id=plan_id)
        .select_related("focus_area", "owner_team")
        .annotate(**_as_of_annotations(ItemType.GOAL, as_of, explained=explained))
        .order_by("focus_area__order", "focus_area__code", "code")
    )
    return _unexplained(goals, explained, "focus_area")


def dashboard_kpi_list(*, plan_id: int, as_of=None, explained: bool = True) -> QuerySet[KPI]:
    """KPIs with ``as_of_*`` status fields and ``as_of_latest_value``/``as_of_latest_date``.

    In the past the latest figure is the newest measurement after the baseline date and on or
    before ``as_of`` (the rule the status method keeps); now it is the stored ``latest_*``.
    """
    if as_of is None:
        latest = {"as_of_latest_value": F("latest_value"), "as_of_latest_date": F("latest_date")}
    else:
        kept = (
            Measurement.objects.national()
            .filter(kpi_id=OuterRef("pk"), date__gt=OuterRef("baseline_date"), date__lte=as_of)
            .order_by("-date", "-recorded_at", "-id")
        )
        latest = {
            "as_of_latest_value": Subquery(kept.values("value")[:1]),
            "as_of_latest_date": Subquery(kept.values("date")[:1]),
        }
    kpis = (
        KPI.objects.filter(plan_id=plan_id)
        .select_related("goal__focus_area", "owner_team")
        .annotate(**_as_of_annotations(ItemType.KPI, as_of, forecast=True, explained=explained), **latest)
        .order_by("goal__focus_area__order", "goal__focus_area__code", "code")
    )
    return _unexplained(kpis, explained, "goal", "goal__focus_area")


def dashboard_milestone_list(*, plan_id: int, as_of=None, explained: bool = True):
    milestones = (
        Milestone.objects.filter(plan_id=plan_id)
        .select_related("goal__focus_area", "owner_team")
        .annotate(**_as_of_annotations(ItemType.MILESTONE, as_of, explained=explained))
        .order_by("due_date", "id")
    )
    return _unexplained(milestones, explained, "goal", "goal__focus_area")


def plan_owner_team_list(*, plan_id: int):
    """Teams that own a goal, KPI or milestone of the plan (choices of the owner-team filter)."""
    # Semi-joins, not joins: joining goals, KPIs and milestones at once multiplies their rows per team.
    owners = [model.objects.filter(plan_id=plan_id).values("owner_team_id") for model in (Goal, KPI, Milestone)]
    return Team.objects.filter(Q(pk__in=owners[0]) | Q(pk__in=owners[1]) | Q(pk__in=owners[2])).order_by("name")


def item_snapshot_history(*, item_type: str, item_id: int, dates) -> list:
    """An item's snapshots on ``dates`` (its page shows month ends), oldest first, through the unique index."""
    rows = StatusSnapshot.objects.filter(item_type=item_type, item_id=item_id, as_of__in=list(dates))
    return list(rows.order_by("as_of"))


def goal_kpi_measurement_map(*, goal_id: int) -> dict[int, list]:
    """``{kpi_id: [measurement, ...]}`` for every KPI of a goal, in one query."""
    grouped: dict[int, list] = {}
    for m in Measurement.objects.national().filter(kpi__goal_id=goal_id).order_by("kpi_id", "date", "recorded_at"):
        grouped.setdefault(m.kpi_id, []).append(m)
    return grouped


# API reads (plans.api). Serializers give related rows as ids, so the lists need no eager loading;
# the API pages them by (updated_at, id), which the Tracked sync index serves.


def api_team_list() -> QuerySet:
    return Team.objects.all()


def api_plan_list() -> QuerySet[Plan]:
    return Plan.objects.all()


def api_focus_area_list() -> QuerySet[FocusArea]:
    return FocusArea.objects.all()


def api_goal_list() -> QuerySet[Goal]:
    return Goal.objects.all()


def api_milestone_list() -> QuerySet[Milestone]:
    return Milestone.objects.all()


def api_kpi_list() -> QuerySet[KPI]:
    return KPI.objects.all()


def api_measurement_list(*, visible=None) -> QuerySet[Measurement]:
    """Measurements with their KPI's plan and owner team, which the API shows and checks writes against, and their
    unit's code. ``visible`` narrows them to what the caller may read (plans.permissions.measurements_visible)."""
    rows = Measurement.objects.annotate(
        plan_id=F("kpi__plan_id"), owner_team_id=F("kpi__owner_team_id"), unit_code=F("unit__code")
    )
    return visible(rows) if visible is not None else rows


def api_unit_list() -> QuerySet[ReportingUnit]:
    """The reporting-unit register with each unit's parent code (one query for a page)."""
    return ReportingUnit.objects.annotate(parent_code=F("parent__code"))


def units_by_code(codes) -> dict[str, ReportingUnit]:
    """The units of ``codes``, by code, in one query (unknown codes are left out)."""
    codes = set(codes)
    return {unit.code: unit for unit in ReportingUnit.objects.filter(code__in=codes)} if codes else {}


@dataclass
class BreakdownRow:
    """One province or zone of a KPI's breakdown in one period (plans.api: ``/kpis/{id}/breakdown/``)."""

    unit: ReportingUnit
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    reported_zones: int = 0
    expected_zones: int = 0
    weight_coverage: float | None = None
    reported_value: float | None = None
    status: str = ""
    score: float | None = None
    progress: float | None = None
    latest_value: float | None = None
    latest_date: datetime.date | None = None


def zone_reporter_work(*, unit_ids) -> tuple[list[ReportingUnit], list[KPI]]:
    """A zone reporter's units (``unit_ids``: plans.permissions.unit_scope) and the KPIs they record figures for
    (those that aggregate over units), in two queries."""
    units = list(ReportingUnit.objects.filter(pk__in=unit_ids).order_by("level", "order", "code"))
    kpis = (
        KPI.objects.exclude(aggregation=Aggregation.NONE)
        .select_related("plan")
        .only("id", "code", "name", "name_zh", "unit", "unit_zh", "plan__slug", "plan__name", "plan__name_zh")
        .order_by("plan__name", "plan_id", "code")
    )
    return units, list(kpis)


def kpi_unit_breakdown(
    *, kpi_id: int, period_end: datetime.date | None = None, zone_ids=None
) -> tuple[datetime.date | None, list[BreakdownRow]]:
    """The KPI's value per reporting unit in one period (the latest with a derived aggregate or a unit's figure
    when ``period_end`` is None), in a fixed number of queries whatever the number of units.

    The nation's and the provinces' values and coverage are plans.aggregation's (``UnitAggregate``); a zone's
    value is its own latest recorded figure of that date, its coverage whether it reported. Every unit carries
    its status on its own series (``UnitStatus``). ``zone_ids`` (a zone reporter's units) keeps only those zones.
    """
    if period_end is None:
        latest = (
            UnitAggregate.objects.filter(kpi_id=kpi_id).aggregate(latest=Max("period_end"))["latest"],
            Measurement.objects.filter(kpi_id=kpi_id).of_units().aggregate(latest=Max("date"))["latest"],
        )
        period_end = max((date for date in latest if date), default=None)
    units = ReportingUnit.objects.select_related("parent").order_by("level", "order", "code")
    if zone_ids is not None:
        units = units.filter(~Q(level=UnitLevel.ZONE) | Q(pk__in=zone_ids))
    rows = {unit.pk: BreakdownRow(unit=unit, expected_zones=unit.zone_count) for unit in units}
    if period_end is not None:
        for aggregate in UnitAggregate.objects.filter(kpi_id=kpi_id, period_end=period_end, unit_id__in=list(rows)):
            row = rows[aggregate.unit_id]
            row.value, row.numerator, row.denominator = aggregate.value, aggregate.numerator, aggregate.denominator
            row.reported_zones, row.expected_zones = aggregate.reported_zones, aggregate.expected_zones
            row.weight_coverage, row.reported_value = aggregate.weight_coverage, aggregate.reported_value
        figures = (
            Measurement.objects.filter(kpi_id=kpi_id, date=period_end, unit_id__in=list(rows))
            .order_by("unit_id", "recorded_at", "id")
            .values_list("unit_id", "value", "numerator", "denominator")
        )
        for unit_id, value, numerator, denominator in figures:  # the latest recorded of the date wins
            row = rows[unit_id]
            if row.unit.level == UnitLevel.ZONE:
                row.value, row.numerator, row.denominator = value, numerator, denominator
                row.reported_zones = row.unit.zone_count
    for status in UnitStatus.objects.filter(kpi_id=kpi_id, unit_id__in=list(rows)):
        row = rows[status.unit_id]
        row.status, row.score, row.progress = status.status, status.score, status.progress
        row.latest_value, row.latest_date = status.latest_value, status.latest_date
    return period_end, list(rows.values())


def api_milestone_update_list() -> QuerySet[MilestoneUpdate]:
    return MilestoneUpdate.objects.annotate(
        plan_id=F("milestone__plan_id"), owner_team_id=F("milestone__owner_team_id")
    )


def api_tombstone_list() -> QuerySet:
    return Tombstone.objects.all()


def api_definition_change_list() -> QuerySet:
    return DefinitionChange.objects.all()


def api_item_by_external_id(model, *, source: str, external_id: str):
    return model.objects.filter(source=source, external_id=external_id).first()


def api_kpis_for_refs(*, ids: set[int], external_ids: set[str]) -> list[tuple[int, str, str, int, int]]:
    """(id, source, external_id, owner_team_id, plan_id) of the KPIs named by id or by external id, in one query."""
    if not ids and not external_ids:
        return []
    condition = Q(pk__any=ids) | Q(external_id__any=external_ids)  # 10,000 ids: one array each (plans.lookups)
    rows = KPI.objects.filter(condition).order_by()  # unordered: the model's order would join and sort the plans
    return list(rows.values_list("id", "source", "external_id", "owner_team_id", "plan_id"))


def plan_ids_left_stale(*, for_longer_than: datetime.timedelta) -> list[int]:
    """Plans to recompute now, in one query: those still marked this long after their last write, and
    those whose last recompute failed; either only once its next try is due (``recompute_retry_at``).

    The database clock decides (as it stamped ``marked_at``), so app hosts with skewed clocks agree.
    Plans marked before ``marked_at`` existed have none and count as long marked.
    """
    marked = ~Q(data_revision=F("computed_revision")) & (
        Q(marked_at__isnull=True) | Q(marked_at__lte=Now() - for_longer_than)
    )
    failed = Q(recompute_retry_at__isnull=False)
    due = Q(recompute_retry_at__isnull=True) | Q(recompute_retry_at__lte=Now())
    stale = Plan.objects.filter((marked | failed) & due)
    return list(stale.order_by("id").values_list("id", flat=True))


def plans_failing_recompute() -> list[dict]:
    """Plans whose last recompute failed, longest failing first (the readiness probe lists them)."""
    failing = Plan.objects.filter(recompute_failures__gt=0).order_by("recompute_failing_since", "id")
    return list(
        failing.values(
            "id", "slug", "recompute_failing_since", "recompute_failed_at", "recompute_failures", "recompute_retry_at"
        )
    )


def goal_child_team_ids(*, goal_id: int) -> set[int]:
    """The teams owning the goal's milestones and KPIs (what deleting the goal would delete), in one query."""
    # order_by(): the models' default ordering is not allowed in a UNION's parts (SQLite refuses it).
    milestones = Milestone.objects.filter(goal_id=goal_id).order_by().values_list("owner_team_id", flat=True)
    kpis = KPI.objects.filter(goal_id=goal_id).order_by().values_list("owner_team_id", flat=True)
    return set(kpis.union(milestones))


# Reporting cycle: submissions, their review queue, periods and reopenings.


def api_submission_list() -> QuerySet[Submission]:
    """Submissions with their transitions (one more query a page) and their KPI's owner team."""
    return Submission.objects.annotate(owner_team_id=F("kpi__owner_team_id")).prefetch_related(
        Prefetch("transitions", queryset=SubmissionTransition.objects.order_by("at", "id"))
    )


def api_period_reopening_list() -> QuerySet[PeriodReopening]:
    return PeriodReopening.objects.all()


def _counted_before(*, national: bool):
    """The value that counts for a submission's KPI and unit (or nation) on or before its date."""
    rows = Measurement.objects.filter(
        kpi=OuterRef("kpi"), date__lte=Coalesce(OuterRef("date"), OuterRef("period_end")), provisional=False
    )
    rows = rows.filter(unit__isnull=True) if national else rows.filter(unit=OuterRef("unit"))
    return Subquery(rows.order_by("-date", "-recorded_at", "-id").values("value")[:1])


def review_queue(
    *, plan: Plan, focus_area_id: int | None = None, unit_id: int | None = None, national: bool = False
) -> QuerySet[Submission]:
    """A plan's submitted figures awaiting review, oldest period first, with what a reviewer compares: the KPI,
    unit and author, and ``previous_value``, the value that counts now on or before the figure's date."""
    rows = (
        Submission.objects.filter(plan=plan, state=SubmissionState.SUBMITTED)
        .select_related("kpi__goal__focus_area", "unit", "submitted_by", "submitted_by_token")
        .annotate(
            previous_value=Case(
                When(unit__isnull=True, then=_counted_before(national=True)), default=_counted_before(national=False)
            )
        )
        .order_by("period_end", "kpi__code", "unit__code", "pk")
    )
    if focus_area_id:
        rows = rows.filter(kpi__goal__focus_area_id=focus_area_id)
    if national:
        rows = rows.filter(unit__isnull=True)
    elif unit_id:
        rows = rows.filter(unit_id=unit_id)
    return rows


def returned_submissions(*, kpi: KPI | None = None, user=None) -> QuerySet[Submission]:
    """Figures returned to their authors with the reason, newest first: of one KPI, or submitted by ``user``."""
    rows = Submission.objects.filter(state=SubmissionState.RETURNED).select_related("unit", "reviewed_by")
    if kpi is not None:
        rows = rows.filter(kpi=kpi)
    if user is not None:
        rows = rows.filter(submitted_by=user)
    return rows.order_by("-reviewed_at", "-pk")


def kpi_period_states(kpi: KPI) -> dict[datetime.date, list[tuple[int | None, str]]]:
    """The KPI's submissions by period end: {period_end: [(unit id or None, state), ...]}."""
    states: dict[datetime.date, list[tuple[int | None, str]]] = {}
    rows = Submission.objects.filter(kpi=kpi).order_by("period_end", "unit_id")
    for period_end, unit_id, state in rows.values_list("period_end", "unit_id", "state"):
        states.setdefault(period_end, []).append((unit_id, state))
    return states
