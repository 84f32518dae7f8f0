"""A whole plan as plain data (the plan document): what the plan files (plans.plan_files) hold and the import
(plans.services.plan_files) compares with the database.

The document is a dict with one list of records per kind (``KINDS``), each record a dict of the kind's
columns: the plan's own fields, its teams (by name), focus areas, goals, KPIs (with their period targets and
measurements), milestones (with their progress history). Records point at one another by natural keys, never
by database ids: codes for focus areas, goals and KPIs, the team's name, a milestone's goal and title, a
reporting unit's (zone's) code. Every bilingual field has its ``_zh`` twin as a column of its own. What the
tracker computes (statuses, forecasts, the values derived from the zones) is not part of it.

Values are typed: text is a str ("" when empty), dates ``datetime.date``, numbers float, whole numbers int,
weights float; None where a date or number is empty. ``plan_document(plan)`` reads a plan into one;
``record_key`` names a record by its natural key.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Aggregation, Counting, Direction, Frequency, MeasurementSource, MilestoneState, NationalSource
from .models import KPI, FocusArea, Goal, Measurement, Milestone, MilestoneUpdate, PeriodTarget, Plan, Team

FORMAT = "action-plan-tracker/plan"
FORMAT_VERSION = 1

# Column types: how a value is read from a file and written to one.
TEXT, LINE, DATE, NUMBER, INTEGER, WEIGHT, CHOICE = "text", "line", "date", "number", "integer", "weight", "choice"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = LINE
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None  # used when the column is left out or empty (None: "" for text, None otherwise)


@dataclass(frozen=True)
class RecordKind:
    key: str  # the document's key, also the YAML key
    sheet: str  # the XLSX sheet's name
    label: Any  # translatable plural, for the preview
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]  # columns naming a record; () for the single plan record
    single: bool = False  # one record (the plan), not a list
    names: dict = field(default_factory=dict, compare=False)

    def column(self, name: str) -> Column:
        if not self.names:
            self.names.update({c.name: c for c in self.columns})
        return self.names[name]


def _choices(choices) -> tuple[str, ...]:
    return tuple(str(value) for value in choices.values)


SOURCES = tuple(s for s in _choices(MeasurementSource) if s != MeasurementSource.DERIVED)

PLAN = RecordKind(
    "plan",
    "Plan",
    _("Plan"),
    (
        Column("slug", required=True),
        Column("name", required=True),
        Column("name_zh"),
        Column("description", TEXT),
        Column("description_zh", TEXT),
        Column("baseline_year", INTEGER, required=True),
        Column("start_date", DATE, required=True),
        Column("end_date", DATE, required=True),
        Column("counting", CHOICE, choices=_choices(Counting), default=str(Counting.APPROVED)),
        Column("due_lag_monthly", INTEGER, default=15),
        Column("due_lag_quarterly", INTEGER, default=30),
        Column("due_lag_annual", INTEGER, default=60),
        Column("remind_days_before", INTEGER, default=3),
        Column("escalate_after_days", INTEGER, default=7),
    ),
    (),
    single=True,
)
TEAMS = RecordKind("teams", "Teams", _("Teams"), (Column("name", required=True), Column("name_zh")), ("name",))
FOCUS_AREAS = RecordKind(
    "focus_areas",
    "Focus areas",
    _("Focus areas"),
    (
        Column("code", required=True),
        Column("name", required=True),
        Column("name_zh"),
        Column("description", TEXT),
        Column("description_zh", TEXT),
        Column("order", INTEGER, default=0),
        Column("weight", WEIGHT, default=1.0),
    ),
    ("code",),
)
_EXTERNAL = (Column("source"), Column("external_id"))
GOALS = RecordKind(
    "goals",
    "Goals",
    _("Goals"),
    (
        Column("code", required=True),
        Column("focus_area", required=True),
        Column("title", required=True),
        Column("title_zh"),
        Column("description", TEXT),
        Column("description_zh", TEXT),
        Column("owner_team", required=True),
        Column("weight", WEIGHT, default=1.0),
        Column("start_date", DATE),
        Column("due_date", DATE),
        *_EXTERNAL,
    ),
    ("code",),
)
# KPIs that weigh, divide or base another KPI (plans.aggregation), by code.
KPI_LINKS = ("weight_kpi", "denominator_kpi", "base_kpi", "comparison_kpi")
KPIS = RecordKind(
    "kpis",
    "KPIs",
    _("KPIs"),
    (
        Column("code", required=True),
        Column("goal", required=True),
        Column("name", required=True),
        Column("name_zh"),
        Column("unit", required=True),
        Column("unit_zh"),
        Column("direction", CHOICE, choices=_choices(Direction), default=str(Direction.INCREASE)),
        Column("baseline_value", NUMBER, required=True),
        Column("baseline_date", DATE, required=True),
        Column("target_value", NUMBER, required=True),
        Column("target_date", DATE, required=True),
        Column("min_value", NUMBER),
        Column("max_value", NUMBER),
        Column("frequency", CHOICE, required=True, choices=_choices(Frequency)),
        Column("weight", WEIGHT, default=1.0),
        Column("owner_team", required=True),
        Column("source_note", TEXT),
        Column("aggregation", CHOICE, choices=_choices(Aggregation), default=str(Aggregation.NONE)),
        Column("national_source", CHOICE, choices=_choices(NationalSource), default=str(NationalSource.REPORTED)),
        *(Column(name) for name in KPI_LINKS[:2]),
        Column("ratio_scale", NUMBER, default=100.0),
        *(Column(name) for name in KPI_LINKS[2:]),
        Column("comparison_scale", NUMBER, default=1.0),
        *_EXTERNAL,
    ),
    ("code",),
)
PERIOD_TARGETS = RecordKind(
    "period_targets",
    "Period targets",
    _("Period targets"),
    (
        Column("kpi", required=True),
        Column("period_end", DATE, required=True),
        Column("target_value", NUMBER, required=True),
    ),
    ("kpi", "period_end"),
)
MEASUREMENTS = RecordKind(
    "measurements",
    "Measurements",
    _("Measurements"),
    (
        Column("kpi", required=True),
        Column("zone"),  # a reporting unit's code; empty: the national figure
        Column("date", DATE, required=True),
        Column("source", CHOICE, choices=SOURCES, default=str(MeasurementSource.IMPORT)),
        Column("value", NUMBER),
        Column("numerator", NUMBER),
        Column("denominator", NUMBER),
        Column("note", TEXT),
        Column("external_id"),
    ),
    ("kpi", "zone", "date", "source"),
)
MILESTONES = RecordKind(
    "milestones",
    "Milestones",
    _("Milestones"),
    (
        Column("goal", required=True),
        Column("title", required=True),
        Column("title_zh"),
        Column("description", TEXT),
        Column("description_zh", TEXT),
        Column("owner_team", required=True),
        Column("start_date", DATE),
        Column("due_date", DATE, required=True),
        Column("weight", WEIGHT, default=1.0),
        Column("percent_complete", INTEGER, default=0),
        Column("state", CHOICE, choices=_choices(MilestoneState), default=str(MilestoneState.PLANNED)),
        Column("completed_on", DATE),
        *_EXTERNAL,
    ),
    ("goal", "title"),
)
MILESTONE_HISTORY = RecordKind(
    "milestone_history",
    "Milestone history",
    _("Milestone progress history"),
    (
        Column("goal", required=True),
        Column("milestone", required=True),
        Column("date", DATE, required=True),
        Column("percent_complete", INTEGER, required=True),
        Column("state", CHOICE, required=True, choices=_choices(MilestoneState)),
        Column("note", TEXT),
        Column("evidence_url"),
    ),
    # Entries are told apart by all they say: the log only grows, so an entry is either stored or new.
    ("goal", "milestone", "date", "percent_complete", "state", "note", "evidence_url"),
)
KINDS = (PLAN, TEAMS, FOCUS_AREAS, GOALS, KPIS, PERIOD_TARGETS, MEASUREMENTS, MILESTONES, MILESTONE_HISTORY)
KINDS_BY_KEY = {kind.key: kind for kind in KINDS}


def record_key(kind: RecordKind, record: dict) -> tuple:
    return tuple(record.get(name) for name in kind.natural_key)


def key_label(kind: RecordKind, key: tuple) -> str:
    """A record's natural key in words: "RD-1", "RD-SPEND · AH-HF · 2025-03-31 · import"."""
    if kind.single:
        return ""
    return " · ".join(str(part) for part in key if part not in ("", None))


def empty_value(column: Column):
    if column.default is not None:
        return column.default
    return "" if column.type in (TEXT, LINE, CHOICE) else None


def _weight(value) -> float:
    return float(value)


def _values(item, kind: RecordKind, **given) -> dict:
    """The kind's columns of a model instance: the model's field of the same name unless ``given``."""
    record = {}
    for column in kind.columns:
        value = given[column.name] if column.name in given else getattr(item, column.name)
        if column.type == WEIGHT and value is not None:
            value = _weight(value)
        elif column.type == NUMBER and value is not None:
            value = float(value)
        elif column.type == CHOICE:
            value = str(value)
        record[column.name] = value
    return record


# A measurement's columns as stored: the zone is its reporting unit's code (None: the national figure).
MEASUREMENT_FIELDS = (
    *("kpi_id", "unit__code", "date", "source"),
    *("value", "numerator", "denominator", "note", "external_id"),
)


def plan_document(plan: Plan, *, units: frozenset[int] | None = None) -> dict:
    """The whole plan as a document; a few queries, whatever its size.

    ``units``: the reporting units whose figures it holds besides the national ones (None: every unit), for a
    reader confined to their zones (``plans.permissions.unit_scope``)."""
    areas = list(FocusArea.objects.filter(plan=plan).order_by("order", "code"))
    area_codes = {a.pk: a.code for a in areas}
    goals = list(Goal.objects.filter(plan=plan).order_by("code"))
    goal_codes = {g.pk: g.code for g in goals}
    kpis = list(KPI.objects.filter(plan=plan).order_by("code"))
    kpi_codes = {k.pk: k.code for k in kpis}
    milestones = sorted(
        Milestone.objects.filter(plan=plan), key=lambda m: (goal_codes[m.goal_id], m.due_date, m.title, m.pk)
    )
    team_ids = {g.owner_team_id for g in goals} | {k.owner_team_id for k in kpis}
    team_ids |= {m.owner_team_id for m in milestones}
    teams = {t.pk: t for t in Team.objects.filter(pk__in=team_ids).order_by("name")}

    def team(pk):
        return teams[pk].name

    document = {"format": FORMAT, "version": FORMAT_VERSION, "plan": _values(plan, PLAN)}
    document["teams"] = [_values(t, TEAMS) for t in teams.values()]
    document["focus_areas"] = [_values(a, FOCUS_AREAS) for a in areas]
    document["goals"] = [
        _values(g, GOALS, focus_area=area_codes[g.focus_area_id], owner_team=team(g.owner_team_id)) for g in goals
    ]
    document["kpis"] = [
        _values(
            k,
            KPIS,
            goal=goal_codes[k.goal_id],
            owner_team=team(k.owner_team_id),
            **{link: kpi_codes.get(getattr(k, f"{link}_id"), "") for link in KPI_LINKS},
        )
        for k in kpis
    ]
    targets = PeriodTarget.objects.filter(kpi__plan=plan).values_list("kpi_id", "period_end", "target_value")
    document["period_targets"] = sorted(
        ({"kpi": kpi_codes[k], "period_end": end, "target_value": float(v)} for k, end, v in targets),
        key=lambda r: (r["kpi"], r["period_end"]),
    )
    measurements = Measurement.objects.filter(kpi__plan=plan).exclude(source=MeasurementSource.DERIVED)
    if units is not None:
        measurements = measurements.filter(Q(unit__isnull=True) | Q(unit__in=units))
    measurements = measurements.values_list(*MEASUREMENT_FIELDS)
    document["measurements"] = sorted(
        (
            dict(
                zip(
                    [c.name for c in MEASUREMENTS.columns],
                    (kpi_codes[k], zone or "", date, source, value, numerator, denominator, note, external_id),
                    strict=True,
                )
            )
            for k, zone, date, source, value, numerator, denominator, note, external_id in measurements
        ),
        key=lambda r: (r["kpi"], r["zone"], r["date"], r["source"]),
    )
    document["milestones"] = [
        _values(m, MILESTONES, goal=goal_codes[m.goal_id], owner_team=team(m.owner_team_id)) for m in milestones
    ]
    by_id = {m.pk: m for m in milestones}
    order = {m.pk: i for i, m in enumerate(milestones)}
    updates = sorted(
        MilestoneUpdate.objects.filter(milestone__plan=plan), key=lambda u: (order[u.milestone_id], u.created_at, u.pk)
    )
    document["milestone_history"] = [
        {
            "goal": goal_codes[by_id[u.milestone_id].goal_id],
            "milestone": by_id[u.milestone_id].title,
            "date": history_date(u.created_at),
            "percent_complete": u.percent_complete,
            "state": str(u.state),
            "note": u.note,
            "evidence_url": u.evidence_url,
        }
        for u in updates
    ]
    return document


def history_date(moment: datetime.datetime) -> datetime.date:
    """The day a progress entry was logged, in the plan's time zone."""
    return timezone.localtime(moment).date()


def history_moment(day: datetime.date) -> datetime.datetime:
    """When an imported progress entry of ``day`` is logged: noon of that day, local time."""
    return datetime.datetime.combine(day, datetime.time(12), timezone.get_current_timezone())
