"""Completeness: who reported what, for which period, and on time ("who hasn't reported").

Periods are not stored: a KPI's periods follow from its frequency from the day after its baseline date
to its target date (``plans.dates``), each due ``Plan.due_date`` after its end. Expected reports are

- the national figure of a KPI that is not aggregated (``Aggregation.NONE``), reported by its owner team;
- each zone's figure of a KPI that aggregates by sum, ratio or mean, for every zone active on the
  period's last day (a closed zone is not expected, so the rate never passes 100%). A growth KPI is
  derived from its base KPI's sums: nobody reports it.

A cell's state comes from its Submission (draft, submitted, approved, returned) and, without one, from
the Measurement rows in the period (``reported``: the value counts; under ``Counting.ALL`` there are no
submissions at all). A submitted, approved or reported cell whose figure arrived after the due date
(its local day) is ``late``. Nothing and the due date passed: ``missing``; not passed: ``not_due``.
The on-time rate is the cells reported by their due date over the cells already due.

Everything is read set-based, in a fixed number of queries whatever the number of KPIs, units and periods.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Min, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .choices import Aggregation, Counting, MeasurementSource, MilestoneState, SubmissionState, UnitLevel
from .dates import ONE_DAY, month_end, month_ends_between, period_end_containing, period_ends_between, period_start
from .models import KPI, Measurement, Milestone, MilestoneUpdate, Plan, ReportingUnit, Submission
from .permissions import is_manager, team_ids

# Cell states, in the order the counts and the legend list them (worst first).
MISSING, RETURNED, LATE, DRAFT, NOT_DUE, SUBMITTED, APPROVED, REPORTED = (
    "missing",
    "returned",
    "late",
    "draft",
    "not_due",
    "submitted",
    "approved",
    "reported",
)
STATES = (MISSING, RETURNED, LATE, DRAFT, NOT_DUE, SUBMITTED, APPROVED, REPORTED)
STATE_LABELS = {
    MISSING: gettext_lazy("Missing"),
    RETURNED: gettext_lazy("Returned"),
    LATE: gettext_lazy("Late"),
    DRAFT: gettext_lazy("Draft"),
    NOT_DUE: gettext_lazy("Not yet due"),
    SUBMITTED: gettext_lazy("Submitted"),
    APPROVED: gettext_lazy("Approved"),
    REPORTED: gettext_lazy("Reported"),
}
# What counts as reported (toward the on-time rate), and what the "who hasn't reported" panel lists.
REPORTED_STATES = (SUBMITTED, APPROVED, REPORTED, LATE)
ATTENTION_STATES = (MISSING, LATE, RETURNED)
# Zones report the KPIs that aggregate from their values; a growth KPI is derived from its base KPI.
ZONE_REPORTED = (Aggregation.SUM, Aggregation.RATIO, Aggregation.MEAN)
NATIONAL, ZONE = "national", "zone"


@dataclass(frozen=True)
class Filters:
    """What the matrix is narrowed to; every field empty reads the whole plan."""

    focus_area_id: int | None = None
    team_id: int | None = None
    unit_id: int | None = None  # a zone, or a province (its zones)
    level: str = ""  # NATIONAL (the teams' national figures) or ZONE
    kpi_id: int | None = None
    period_from: datetime.date | None = None
    period_to: datetime.date | None = None
    state: str = ""


@dataclass(frozen=True)
class Scope:
    """Whose rows a viewer sees: every row (managers), or their teams' KPIs and their own zones."""

    everything: bool
    team_ids: frozenset[int] = frozenset()
    unit_ids: frozenset[int] = frozenset()


def viewer_scope(user) -> Scope:
    """Managers see every row; staff the rows of the KPIs their teams own; a zone reporter their zones' rows."""
    if is_manager(user):
        return Scope(everything=True)
    units = frozenset(user.reporting_units.values_list("id", flat=True)) if user.is_authenticated else frozenset()
    return Scope(everything=False, team_ids=frozenset(team_ids(user)), unit_ids=units)


@dataclass
class Cell:
    period_end: datetime.date
    due_date: datetime.date
    state: str
    review: str = ""  # the submission's state behind a late cell
    at: datetime.datetime | None = None  # when the figure arrived (submitted, or first recorded)

    @property
    def label(self) -> str:
        text = str(STATE_LABELS[self.state])
        if self.state == LATE and self.review:
            return f"{text} ({SubmissionState(self.review).label})"
        return text


@dataclass
class Row:
    """One reporter of one KPI: its owner team (the national figure) or a zone."""

    kind: str  # NATIONAL or ZONE
    name: str
    unit: ReportingUnit | None
    team_name: str
    cells: dict[datetime.date, Cell] = field(default_factory=dict)


@dataclass
class KpiTable:
    kpi: KPI
    periods: list[datetime.date]
    rows: list[Row]
    due_dates: list[datetime.date] = field(default_factory=list)

    @property
    def columns(self) -> list[tuple[datetime.date, str, datetime.date]]:
        """(period end, its name, its due date) per column."""
        return [
            (end, period_label(self.kpi.frequency, end), due)
            for end, due in zip(self.periods, self.due_dates, strict=True)
        ]

    @property
    def grid(self) -> list[tuple[Row, list[Cell | None]]]:
        """Each row with its cells in column order (None: not expected, or filtered out)."""
        return [(row, [row.cells.get(end) for end in self.periods]) for row in self.rows]


@dataclass
class Matrix:
    tables: list[KpiTable]
    counts: dict[str, int]
    due: int
    on_time: int
    today: datetime.date

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    def count_rows(self) -> list[tuple[str, str, int]]:
        return [(state, str(STATE_LABELS[state]), self.counts.get(state, 0)) for state in STATES]


def period_label(frequency: str, period_end: datetime.date) -> str:
    """ "2025 Q3", "2025-07" or "2025": how a period is named on the pages and in the exports."""
    if frequency == "quarterly":
        return _("%(year)d Q%(quarter)d") % {"year": period_end.year, "quarter": (period_end.month - 1) // 3 + 1}
    if frequency == "annual":
        return str(period_end.year)
    return period_end.strftime("%Y-%m")


def kpi_periods(kpi: KPI) -> list[datetime.date]:
    """The ends of the KPI's reporting periods: after its baseline date, through its target date."""
    return period_ends_between(kpi.frequency, kpi.baseline_date + ONE_DAY, kpi.target_date)


def _kpis(plan: Plan, filters: Filters, scope: Scope) -> QuerySet[KPI]:
    kpis = KPI.objects.filter(plan=plan).select_related("owner_team").order_by("code")
    if filters.focus_area_id:
        kpis = kpis.filter(goal__focus_area_id=filters.focus_area_id)
    if filters.team_id:
        kpis = kpis.filter(owner_team_id=filters.team_id)
    if filters.kpi_id:
        kpis = kpis.filter(pk=filters.kpi_id)
    if filters.level == NATIONAL:
        kpis = kpis.filter(aggregation=Aggregation.NONE)
    elif filters.level == ZONE or filters.unit_id:
        kpis = kpis.filter(aggregation__in=ZONE_REPORTED)
    if not scope.everything and not scope.unit_ids:
        kpis = kpis.filter(owner_team_id__in=scope.team_ids)
    return kpis


def _zones(filters: Filters, scope: Scope) -> list[ReportingUnit]:
    zones = ReportingUnit.objects.filter(level=UnitLevel.ZONE).select_related("parent").order_by("order", "code")
    if filters.unit_id:
        zones = zones.filter(Q(pk=filters.unit_id) | Q(parent_id=filters.unit_id))
    return list(zones)


def _visible(scope: Scope, kpi: KPI, unit: ReportingUnit | None) -> bool:
    if scope.everything or kpi.owner_team_id in scope.team_ids:
        return True
    return unit is not None and unit.pk in scope.unit_ids


def _in_range(day: datetime.date, filters: Filters) -> bool:
    return (filters.period_from is None or day >= filters.period_from) and (
        filters.period_to is None or day <= filters.period_to
    )


def completeness_matrix(
    *,
    plan: Plan,
    today: datetime.date,
    filters: Filters = Filters(),
    scope: Scope = Scope(everything=True),
    periods: dict[int, datetime.date] | None = None,
    kpis: list[KPI] | None = None,
) -> Matrix:
    """The matrix of reporters x KPI x period with a state per cell, its counts and on-time rate.

    ``periods`` ({KPI id: period end}) restricts each KPI to one period (the dashboard's panel); a KPI
    absent from it is left out. ``kpis``: the plan's KPIs already read (with their owner teams), unfiltered.
    At most four queries (KPIs unless given, zones when a KPI is reported by zones, submissions unless
    the plan counts every value without review, measurements), whatever the number of KPIs, zones and periods.
    """
    kpis = list(_kpis(plan, filters, scope)) if kpis is None else kpis
    if periods is not None:
        kpis = [kpi for kpi in kpis if kpi.pk in periods]
    by_zones = filters.level != NATIONAL and any(kpi.aggregation in ZONE_REPORTED for kpi in kpis)
    zones = _zones(filters, scope) if by_zones else []
    kpi_periods_of = {
        kpi.pk: [periods[kpi.pk]] if periods is not None else [p for p in kpi_periods(kpi) if _in_range(p, filters)]
        for kpi in kpis
    }
    all_ends = {p for ends in kpi_periods_of.values() for p in ends}
    if not all_ends:
        return Matrix(tables=[], counts={}, due=0, on_time=0, today=today)
    # The day before the earliest period read begins (a year's starts a year before its end).
    first_start = min(
        period_start(kpi.frequency, min(kpi_periods_of[kpi.pk])) for kpi in kpis if kpi_periods_of[kpi.pk]
    )
    first_start -= datetime.timedelta(days=1)

    submissions = {}
    if plan.counting != Counting.ALL:  # without review there are no submissions
        submissions = {
            (kpi_id, unit_id, period_end): (state, submitted_at)
            for kpi_id, unit_id, period_end, state, submitted_at in Submission.objects.filter(
                plan=plan, kpi__in=[k.pk for k in kpis], period_end__in=all_ends
            ).values_list("kpi_id", "unit_id", "period_end", "state", "submitted_at")
        }
    # The first time a counting figure of each (KPI, unit, period) arrived: one row per month (periods are whole
    # months, quarters or years), bucketed into periods here.
    frequency = {kpi.pk: kpi.frequency for kpi in kpis}
    arrived: dict[tuple, datetime.datetime] = {}
    recorded = (
        Measurement.objects.filter(
            kpi__in=[k.pk for k in kpis], date__gt=first_start, date__lte=max(all_ends), provisional=False
        )
        .exclude(source=MeasurementSource.DERIVED)
        .annotate(month=TruncMonth("date"))
        .values_list("kpi_id", "unit_id", "month")
        .annotate(first=Min("recorded_at"))
        .order_by()
    )
    for kpi_id, unit_id, day, first in recorded:
        key = (kpi_id, unit_id, period_end_containing(frequency[kpi_id], day))
        if key not in arrived or first < arrived[key]:
            arrived[key] = first

    counts: Counter = Counter()
    due = on_time = 0
    tables = []
    for kpi in kpis:
        ends = kpi_periods_of[kpi.pk]
        reporters: list[tuple[str, ReportingUnit | None]] = []
        if kpi.aggregation == Aggregation.NONE and filters.level != ZONE and not filters.unit_id:
            reporters.append((NATIONAL, None))
        if kpi.aggregation in ZONE_REPORTED:
            reporters += [(ZONE, zone) for zone in zones]
        rows = []
        for kind, unit in reporters:
            if not _visible(scope, kpi, unit):
                continue
            row = Row(
                kind=kind,
                name=kpi.owner_team.name if unit is None else unit.name,
                unit=unit,
                team_name=kpi.owner_team.name,
            )
            for end in ends:
                if unit is not None and not unit.active_on(end):
                    continue  # not expected: the zone was not active at the period's end
                cell = _cell(plan, kpi, unit, end, today, submissions, arrived)
                if filters.state and cell.state != filters.state:
                    continue
                row.cells[end] = cell
                counts[cell.state] += 1
                if cell.due_date < today:
                    due += 1
                    on_time += cell.state in (SUBMITTED, APPROVED, REPORTED)
            if row.cells:
                rows.append(row)
        if rows:
            dues = [plan.due_date(kpi.frequency, end) for end in ends]
            tables.append(KpiTable(kpi=kpi, periods=ends, rows=rows, due_dates=dues))
    return Matrix(tables=tables, counts=dict(counts), due=due, on_time=on_time, today=today)


def _local_day(moment: datetime.datetime | None) -> datetime.date | None:
    return timezone.localdate(moment) if moment else None


def _cell(plan, kpi, unit, end, today, submissions, arrived) -> Cell:
    due_date = plan.due_date(kpi.frequency, end)
    unit_id = unit.pk if unit else None
    submission = submissions.get((kpi.pk, unit_id, end))
    if submission is not None:
        state, submitted_at = submission
        if state in (SubmissionState.SUBMITTED, SubmissionState.APPROVED):
            day = _local_day(submitted_at)
            if day is not None and day > due_date:
                return Cell(end, due_date, LATE, review=state, at=submitted_at)
            return Cell(end, due_date, str(state), at=submitted_at)
        if state == SubmissionState.RETURNED:
            return Cell(end, due_date, RETURNED, at=submitted_at)
        return Cell(end, due_date, DRAFT)
    first = arrived.get((kpi.pk, unit_id, end))
    if first is not None:
        day = _local_day(first)
        return Cell(end, due_date, LATE if day > due_date else REPORTED, at=first)
    # Due "by the due date": the day after it, nothing in is missing.
    return Cell(end, due_date, MISSING if today > due_date else NOT_DUE)


# --- The dashboard's "who hasn't reported" panel ----------------------------------------------


def current_periods(plan: Plan, kpis, today: datetime.date) -> dict[int, datetime.date]:
    """Each KPI's current period: for a closed plan (today after its end) the KPI's final period; else the
    latest period whose due date has passed or falls within the plan's reminder window (``remind_days_before``),
    so the panel turns to a period as the reminders for it start."""
    closed = today > plan.end_date
    near = today + datetime.timedelta(days=plan.remind_days_before)
    chosen = {}
    for kpi in kpis:
        ends = kpi_periods(kpi)
        if not ends:
            continue
        if closed:
            chosen[kpi.pk] = ends[-1]
            continue
        due = [end for end in ends if plan.due_date(kpi.frequency, end) <= near]
        if due:
            chosen[kpi.pk] = due[-1]
    return chosen


# KPIs the dashboard's panel lists at most, per kind (zonal, national); the completeness matrix has them all.
PANEL_KPIS = 10


@dataclass
class PanelKpi:
    kpi: KPI
    period_end: datetime.date
    period_label: str
    expected: int  # reporters expected (zones counted by the zones they stand for)
    reported: int
    attention: list[tuple[Row, Cell]]
    limit: int = 8

    @property
    def shown(self) -> list[tuple[Row, Cell]]:
        return self.attention[: self.limit]

    @property
    def more(self) -> int:
        return max(len(self.attention) - self.limit, 0)


def not_reported_panel(
    *, plan: Plan, today: datetime.date, focus_area_id: int | None = None, team_id: int | None = None, limit: int = 8
) -> dict:
    """The panel's content: per KPI of the current (or, closed, final) period, who is missing, late or
    returned, with the count reported; KPIs everyone reported on time are summed up, not listed.
    ``focus_area_id`` and ``team_id``: the dashboard's filters, which narrow the panel too."""
    kpis = _kpis(plan, Filters(focus_area_id=focus_area_id, team_id=team_id), Scope(everything=True))
    kpis = list(kpis.exclude(aggregation=Aggregation.GROWTH))
    periods = current_periods(plan, kpis, today)
    matrix = completeness_matrix(plan=plan, today=today, periods=periods, kpis=kpis)
    listed = []
    for table in matrix.tables:
        end = table.periods[0]
        expected = reported = 0
        attention = []
        for row in table.rows:
            cell = row.cells[end]
            weight = row.unit.zone_count if row.unit else 1
            expected += weight
            reported += weight if cell.state in REPORTED_STATES else 0
            if cell.state in ATTENTION_STATES:
                attention.append((row, cell))
        listed.append(
            PanelKpi(
                kpi=table.kpi,
                period_end=end,
                period_label=period_label(table.kpi.frequency, end),
                expected=expected,
                reported=reported,
                attention=attention,
                limit=limit,
            )
        )
    listed.sort(key=lambda p: (-len(p.attention), p.kpi.code))
    # At national scale hundreds of KPIs may lack figures: the panel lists the most incomplete, the matrix the rest.
    zonal = [p for p in listed if p.attention and p.kpi.aggregation != Aggregation.NONE]
    national = [p for p in listed if p.attention and p.kpi.aggregation == Aggregation.NONE]
    return {
        "closed": today > plan.end_date,
        "kpis": [p for p in listed if p.attention],
        "zonal": zonal[:PANEL_KPIS],
        "national": national[:PANEL_KPIS],
        "more_kpis": max(len(zonal) - PANEL_KPIS, 0) + max(len(national) - PANEL_KPIS, 0),
        "complete_count": sum(1 for p in listed if not p.attention),
        "matrix": matrix,
    }


# --- Milestones: a monthly progress update on the same calendar ------------------------------


@dataclass
class MilestoneMonths:
    milestone: Milestone
    months: list[tuple[datetime.date, bool]]  # (month end, updated that month)

    @property
    def missing(self) -> int:
        return sum(1 for _month, updated in self.months if not updated)


def _months_of(milestone: Milestone, plan: Plan, today: datetime.date) -> list[datetime.date]:
    """The month ends a milestone owes a progress update for: from its start (or the plan's) to the
    earlier of its due date and the last month that has ended by today (the current month is not owed yet)."""
    start = max(milestone.start_date or plan.start_date, plan.start_date)
    last_ended = month_end(today.replace(day=1) - ONE_DAY)
    end = min(month_end(milestone.due_date), month_end(plan.end_date), last_ended)
    return month_ends_between(start, end) if start <= end else []


def milestone_months(*, plan: Plan, today: datetime.date, milestones=None, team_ids=None) -> list[MilestoneMonths]:
    """Per milestone in progress (or blocked), each month it owes: whether a progress update was logged.

    Two queries whatever the number of milestones and months; one when ``milestones`` (a list, already read) is given.
    """
    if milestones is None:
        milestones = Milestone.objects.filter(
            plan=plan, state__in=(MilestoneState.IN_PROGRESS, MilestoneState.BLOCKED)
        ).select_related("owner_team")
        if team_ids is not None:
            milestones = milestones.filter(owner_team_id__in=team_ids)
        milestones = milestones.order_by("due_date", "id")
    milestones = list(milestones)
    updated = defaultdict(set)
    rows = (
        MilestoneUpdate.objects.filter(milestone__in=[m.pk for m in milestones])
        .annotate(month=TruncMonth("created_at"))
        .values_list("milestone_id", "month")
        .distinct()
        .order_by()
    )
    for milestone_id, month in rows:
        day = month.date() if isinstance(month, datetime.datetime) else month
        updated[milestone_id].add(month_end(day))
    return [MilestoneMonths(m, [(end, end in updated[m.pk]) for end in _months_of(m, plan, today)]) for m in milestones]
