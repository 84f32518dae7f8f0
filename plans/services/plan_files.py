"""Import of a whole plan from a plan document (plans.plan_document): the preview, then the apply.

``plan_import_preview`` compares the document with the plan as stored, record by record on natural keys,
and lists what would be created, changed (field by field) and deleted; it also runs the whole write and
rolls it back, so every error the services would raise is listed with its sheet, row and column before
anything is written. ``plan_import_apply`` writes it in one transaction through the same services as every
other write (versions, DefinitionChange rows, tombstones, the recompute), channel "import"; any error and
nothing is written (``PlanFileInvalid``).

What the document leaves out is deleted, with two exceptions: teams (shared by every plan) are only created
or renamed in Chinese, and the milestones' progress history only grows: an entry the file does not hold is
kept, one it adds is appended, back-dated to its day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import ChangeChannel, MilestoneState
from ..exceptions import MeasurementRowsInvalid, PeriodLocked, StaleVersionError
from ..models import (
    KPI,
    FocusArea,
    Goal,
    Measurement,
    Milestone,
    MilestoneUpdate,
    PeriodTarget,
    Plan,
    ReportingUnit,
    Team,
)
from ..plan_document import (
    FOCUS_AREAS,
    GOALS,
    KINDS,
    KPI_LINKS,
    KPIS,
    MEASUREMENT_FIELDS,
    MEASUREMENTS,
    MILESTONE_HISTORY,
    MILESTONES,
    PERIOD_TARGETS,
    PLAN,
    TEAMS,
    WEIGHT,
    RecordKind,
    history_date,
    history_moment,
    key_label,
    plan_document,
    record_key,
)
from ..plan_files import PlanFileError, PlanFileInvalid
from .goals import goal_create, goal_delete, goal_update
from .history import author_split
from .kpis import MeasurementRow, kpi_delete, kpi_update, measurement_delete, measurements_bulk_upsert
from .milestones import milestone_delete, milestone_progress_check, milestone_update
from .plans import focus_area_delete, plan_mark_changed, structure_save
from .rows import goal_child_fill, row_assign, row_create
from .teams import team_create, team_update
from .units import UnitValue, unit_values_load

CHANNEL = ChangeChannel.IMPORT


@dataclass
class Changed:
    label: str
    fields: list[tuple[str, Any, Any]]  # (column, stored value, the file's value)


@dataclass
class KindPreview:
    kind: RecordKind
    created: list[str] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: int = 0  # stored progress entries the file leaves out: kept, the log only grows

    @property
    def label(self):
        return self.kind.label


@dataclass
class PlanImportPreview:
    slug: str
    file_slug: str
    new_plan: bool
    kinds: list[KindPreview]

    def _count(self, name: str) -> int:
        return sum(len(getattr(k, name)) for k in self.kinds)

    @property
    def created_count(self) -> int:
        return self._count("created")

    @property
    def changed_count(self) -> int:
        return self._count("changed")

    @property
    def deleted_count(self) -> int:
        return self._count("deleted")

    @property
    def unchanged(self) -> bool:
        return not (self.created_count or self.changed_count or self.deleted_count)

    @property
    def history_kept(self) -> int:
        return self.of(MILESTONE_HISTORY.key).kept

    def of(self, key: str) -> KindPreview:
        return next(k for k in self.kinds if k.kind.key == key)


def _records(document: dict, kind: RecordKind) -> list[dict]:
    value = document.get(kind.key)
    if kind.single:
        return [value] if value else []
    return list(value or [])


def _targeted(document: dict, slug: str) -> dict:
    """The document with its plan's slug set to the plan it is imported into."""
    return {**document, "plan": {**document["plan"], "slug": slug}}


def _diff(current: dict, new: dict) -> list[KindPreview]:
    previews = []
    for kind in KINDS:
        preview = KindPreview(kind)
        old = {record_key(kind, r): r for r in _records(current, kind)}
        for record in _records(new, kind):
            key = record_key(kind, record)
            stored = old.pop(key, None)
            if stored is None:
                preview.created.append(key_label(kind, key) or str(record.get("name", "")))
                continue
            fields = [
                (c.name, stored.get(c.name), record.get(c.name))
                for c in kind.columns
                if stored.get(c.name) != record.get(c.name)
            ]
            if fields:
                preview.changed.append(Changed(key_label(kind, key), fields))
        if kind is MILESTONE_HISTORY:
            milestones = {record_key(MILESTONES, m) for m in new["milestones"]}
            preview.kept = sum(1 for key in old if key[:2] in milestones)
        elif kind is not TEAMS:  # teams serve every plan: never deleted by one plan's file
            preview.deleted = [key_label(kind, key) for key in old]
        previews.append(preview)
    return previews


def _duplicates_and_references(document: dict, first_row: int) -> list[PlanFileError]:
    """Records named twice, and references to records the file (or the register, for zones and teams) lacks."""
    errors = []
    for kind in KINDS:
        if kind.single or kind is MILESTONE_HISTORY:
            continue
        seen = set()
        for index, record in enumerate(_records(document, kind)):
            key = record_key(kind, record)
            if key in seen:
                message = _("%(key)s appears twice.") % {"key": key_label(kind, key)}
                errors.append(PlanFileError(kind.sheet, first_row + index, ", ".join(kind.natural_key), str(message)))
            seen.add(key)
    names = {
        "focus_area": {r["code"] for r in document["focus_areas"]},
        "goal": {r["code"] for r in document["goals"]},
        "kpi": {r["code"] for r in document["kpis"]},
        "owner_team": {r["name"] for r in document["teams"]},
    }
    referenced_teams = {r["owner_team"] for key in ("goals", "kpis", "milestones") for r in document[key]}
    names["owner_team"] |= set(Team.objects.filter(name__in=referenced_teams).values_list("name", flat=True))
    zones = {r["zone"] for r in document["measurements"] if r["zone"]}
    names["zone"] = set(ReportingUnit.objects.filter(code__in=zones).values_list("code", flat=True))
    milestones = {record_key(MILESTONES, r) for r in document["milestones"]}
    sheets = {
        GOALS: ("focus_area", "owner_team"),
        KPIS: ("goal", "owner_team", *KPI_LINKS),
        PERIOD_TARGETS: ("kpi",),
        MEASUREMENTS: ("kpi", "zone"),
        MILESTONES: ("goal", "owner_team"),
    }
    for kind, columns in sheets.items():
        for index, record in enumerate(document[kind.key]):
            for column in columns:
                value = record[column]
                known = names["kpi" if column in KPI_LINKS else column]
                if value and value not in known:
                    message = _("%(value)s is not found in the file or the tracker.") % {"value": value}
                    errors.append(PlanFileError(kind.sheet, first_row + index, column, str(message)))
    for index, record in enumerate(document["milestone_history"]):
        if (record["goal"], record["milestone"]) not in milestones:
            message = _("No milestone %(title)s under goal %(goal)s in the file.") % {
                "title": record["milestone"],
                "goal": record["goal"],
            }
            errors.append(PlanFileError(MILESTONE_HISTORY.sheet, first_row + index, "milestone", str(message)))
    return errors


def plan_import_preview(*, document: dict, slug: str, author=None, first_row: int = 2) -> PlanImportPreview:
    """What importing ``document`` into the plan ``slug`` (created when missing) would create, change and
    delete. Runs the whole write and rolls it back: PlanFileInvalid lists every error, nothing is written."""
    preview = _preview(document, slug, first_row)
    with transaction.atomic():
        _apply(document, slug, author=author, first_row=first_row)
        transaction.set_rollback(True)
    return preview


@transaction.atomic
def plan_import_apply(*, document: dict, slug: str, author=None, first_row: int = 2) -> PlanImportPreview:
    """Import ``document`` into the plan ``slug`` in one transaction; returns what it did (as the preview)."""
    preview = _preview(document, slug, first_row)
    _apply(document, slug, author=author, first_row=first_row)
    return preview


def _preview(document: dict, slug: str, first_row: int) -> PlanImportPreview:
    errors = _duplicates_and_references(document, first_row)
    if errors:
        raise PlanFileInvalid(errors)
    plan = Plan.objects.filter(slug=slug).first()
    current = plan_document(plan) if plan else {}
    return PlanImportPreview(
        slug=slug,
        file_slug=document["plan"]["slug"],
        new_plan=plan is None,
        kinds=_diff(current, _targeted(document, slug)),
    )


def _fields(kind: RecordKind, record: dict, *, skip=()) -> dict:
    data = {}
    for column in kind.columns:
        if column.name in skip:
            continue
        value = record[column.name]
        data[column.name] = Decimal(str(value)) if column.type == WEIGHT and value is not None else value
    return data


class _Writer:
    """The import's writes, each in a savepoint, so that one failing record is listed and the rest go on."""

    def __init__(self, author, first_row: int):
        self.author, self.first_row = author, first_row
        self.errors: list[PlanFileError] = []

    @contextmanager
    def record(self, kind: RecordKind, index: int | None):
        row = None if index is None else self.first_row + index
        try:
            with transaction.atomic():
                yield
        except ValidationError as exc:
            self.validation_errors(kind.sheet, row, exc)
        except (PeriodLocked, StaleVersionError, IntegrityError) as exc:
            self.errors.append(PlanFileError(kind.sheet, row, "", str(exc)))

    def validation_errors(self, sheet: str, row, exc: ValidationError) -> None:
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        for name, messages in by_field.items():
            for message in messages:
                self.errors.append(PlanFileError(sheet, row, "" if name == NON_FIELD_ERRORS else name, message))


def _apply(document: dict, slug: str, *, author, first_row: int) -> None:
    document = _targeted(document, slug)
    writer = _Writer(author, first_row)
    teams = _teams_apply(document, writer)
    plan = _plan_apply(document, writer)
    if plan is None:
        raise PlanFileInvalid(writer.errors)
    areas = _focus_areas_apply(plan, document, writer)
    goals = _goals_apply(plan, document, teams, areas, writer)
    kpis = _kpis_apply(plan, document, teams, goals, writer)
    _period_targets_apply(plan, document, kpis, writer)
    milestones = _milestones_apply(plan, document, teams, goals, writer)
    _history_apply(document, milestones, writer)
    _measurements_apply(document, kpis, writer)
    _deletes_apply(plan, document, writer)
    if writer.errors:
        raise PlanFileInvalid(writer.errors)


def _teams_apply(document, writer) -> dict[str, Team]:
    referenced = {r["owner_team"] for key in ("goals", "kpis", "milestones") for r in document[key]}
    names = referenced | {r["name"] for r in document["teams"]}
    teams = {t.name: t for t in Team.objects.filter(name__in=names)}
    for index, record in enumerate(document["teams"]):
        with writer.record(TEAMS, index):
            team = teams.get(record["name"])
            if team is None:
                team = team_create(name=record["name"], author=writer.author, channel=CHANNEL)
            if team.name_zh != record["name_zh"]:
                data = {"name_zh": record["name_zh"]}
                team = team_update(team=team, data=data, author=writer.author, channel=CHANNEL)
            teams[team.name] = team
    return teams


def _plan_apply(document, writer) -> Plan | None:
    data = _fields(PLAN, document["plan"])
    plan = Plan.objects.filter(slug=data["slug"]).first()
    with writer.record(PLAN, 0):
        if plan is None:
            plan = Plan(**data)
            structure_save(item=plan, is_new=True, author=writer.author, channel=CHANNEL)
        elif row_assign(plan, data):
            structure_save(item=plan, is_new=False, author=writer.author, channel=CHANNEL)
        return plan
    return None


def _focus_areas_apply(plan, document, writer) -> dict[str, FocusArea]:
    areas = {a.code: a for a in FocusArea.objects.filter(plan=plan)}
    for index, record in enumerate(document["focus_areas"]):
        with writer.record(FOCUS_AREAS, index):
            data = _fields(FOCUS_AREAS, record)
            area = areas.get(record["code"])
            if area is None:
                area = FocusArea(plan=plan, **data)
                structure_save(item=area, is_new=True, author=writer.author, channel=CHANNEL)
            elif row_assign(area, data):
                structure_save(item=area, is_new=False, author=writer.author, channel=CHANNEL)
            areas[area.code] = area
    return areas


def _goals_apply(plan, document, teams, areas, writer) -> dict[str, Goal]:
    goals = {g.code: g for g in Goal.objects.filter(plan=plan)}
    for index, record in enumerate(document["goals"]):
        if record["focus_area"] not in areas or record["owner_team"] not in teams:
            continue  # its focus area or team failed: that error is listed
        with writer.record(GOALS, index):
            data = {
                **_fields(GOALS, record),
                "focus_area": areas[record["focus_area"]],
                "owner_team": teams[record["owner_team"]],
            }
            goal = goals.get(record["code"])
            if goal is None:
                goal = goal_create(data=data, author=writer.author, channel=CHANNEL)
            else:
                goal = goal_update(goal=goal, data=data, author=writer.author, channel=CHANNEL)
            goals[goal.code] = goal
    return goals


def _kpis_apply(plan, document, teams, goals, writer) -> dict[str, KPI]:
    kpis = {k.code: k for k in KPI.objects.filter(plan=plan)}
    for index, record in enumerate(document["kpis"]):
        if record["goal"] not in goals or record["owner_team"] not in teams:
            continue
        with writer.record(KPIS, index):
            data = {
                **_fields(KPIS, record, skip=KPI_LINKS),
                "goal": goals[record["goal"]],
                "owner_team": teams[record["owner_team"]],
            }
            kpi = kpis.get(record["code"])
            if kpi is None:
                # The file states the KPI's range (empty: unbounded), so the unit's default range is not applied.
                kpi = KPI(**data)
                goal_child_fill(kpi)
                row_create(kpi, author=writer.author, channel=CHANNEL)
            else:
                kpi = kpi_update(kpi=kpi, data=data, author=writer.author, channel=CHANNEL)
            kpis[kpi.code] = kpi
    # The KPIs that weigh, divide or base another, once every KPI exists.
    for index, record in enumerate(document["kpis"]):
        if record["code"] not in kpis:
            continue
        links = {link: kpis.get(record[link]) if record[link] else None for link in KPI_LINKS}
        with writer.record(KPIS, index):
            kpis[record["code"]] = kpi_update(
                kpi=kpis[record["code"]], data=links, author=writer.author, channel=CHANNEL
            )
    return kpis


def _period_targets_apply(plan, document, kpis, writer) -> None:
    stored = {(t.kpi_id, t.period_end): t for t in PeriodTarget.objects.filter(kpi__plan=plan)}
    wanted = set()
    changed = False
    for index, record in enumerate(document["period_targets"]):
        kpi = kpis.get(record["kpi"])
        if kpi is None:
            continue
        key = (kpi.pk, record["period_end"])
        wanted.add(key)
        target = stored.get(key)
        if target is not None and target.target_value == record["target_value"]:
            continue
        with writer.record(PERIOD_TARGETS, index):
            target = target or PeriodTarget(kpi=kpi, period_end=record["period_end"])
            target.target_value = record["target_value"]
            target.full_clean()
            target.save()
            changed = True
    gone = [t.pk for key, t in stored.items() if key not in wanted and t.kpi_id in {k.pk for k in kpis.values()}]
    if gone:
        PeriodTarget.objects.filter(pk__in=gone).delete()
        changed = True
    if changed:
        plan_mark_changed(plan_id=plan.pk)


def _milestones_apply(plan, document, teams, goals, writer) -> dict[tuple, Milestone]:
    milestones = {(m.goal.code, m.title): m for m in Milestone.objects.filter(plan=plan).select_related("goal")}
    last_note = {}
    for record in document["milestone_history"]:
        last_note[(record["goal"], record["milestone"])] = record["note"]
    for index, record in enumerate(document["milestones"]):
        if record["goal"] not in goals or record["owner_team"] not in teams:
            continue
        key = record_key(MILESTONES, record)
        with writer.record(MILESTONES, index):
            data = {
                **_fields(MILESTONES, record),
                "goal": goals[record["goal"]],
                "owner_team": teams[record["owner_team"]],
            }
            note = last_note.get(key, "")
            milestone = milestones.get(key)
            if milestone is None:
                # As milestone_create, without opening the log: the file's history is the log.
                data["state"] = milestone_progress_check(
                    previous_percent=0, percent_complete=data["percent_complete"], state=data["state"], note=note
                )
                if data["state"] == MilestoneState.DONE and not data["completed_on"]:
                    data["completed_on"] = timezone.localdate()
                milestone = Milestone(**data)
                goal_child_fill(milestone)
                row_create(milestone, author=writer.author, channel=CHANNEL)
            else:
                milestone = milestone_update(
                    milestone=milestone, data=data, author=writer.author, channel=CHANNEL, note=note
                )
            milestones[key] = milestone
    return milestones


def _history_apply(document, milestones, writer) -> None:
    """Append the progress entries the log lacks, each back-dated to its day and checked against the one before."""
    entries = defaultdict(list)
    for index, record in enumerate(document["milestone_history"]):
        entries[(record["goal"], record["milestone"])].append((index, record))
    user, token = author_split(writer.author)
    for key, records in entries.items():
        milestone = milestones.get(key)
        if milestone is None:
            continue
        stored = list(milestone.updates.order_by("created_at", "pk"))
        have = Counter(
            (history_date(u.created_at), u.percent_complete, str(u.state), u.note, u.evidence_url) for u in stored
        )
        timeline = [(history_date(u.created_at), u.percent_complete, str(u.state)) for u in stored]
        for index, record in records:
            entry = tuple(record[name] for name in ("date", "percent_complete", "state", "note", "evidence_url"))
            if have[entry]:
                have[entry] -= 1
                continue
            earlier = [t for t in timeline if t[0] <= record["date"]]
            previous_percent, previous_state = (earlier[-1][1], earlier[-1][2]) if earlier else (0, "")
            with writer.record(MILESTONE_HISTORY, index):
                state = milestone_progress_check(
                    previous_percent=previous_percent,
                    percent_complete=record["percent_complete"],
                    state=record["state"],
                    note=record["note"],
                )
                update = MilestoneUpdate(
                    milestone=milestone,
                    percent_complete=record["percent_complete"],
                    state=state,
                    previous_percent_complete=previous_percent if earlier else 0,
                    previous_state=previous_state or MilestoneState.PLANNED,
                    note=record["note"],
                    evidence_url=record["evidence_url"],
                    author=user,
                    author_token=token,
                )
                update.full_clean()
                update.save()
                moment = history_moment(record["date"])
                MilestoneUpdate.objects.filter(pk=update.pk).update(created_at=moment, updated_at=moment)
                timeline.append((record["date"], record["percent_complete"], state))
                timeline.sort(key=lambda t: t[0])


def _measurements_apply(document, kpis, writer) -> None:
    """The new and changed figures, by source, through the bulk upsert (the rules of every figure)."""
    records = list(enumerate(document["measurements"]))
    kpi_ids = [k.pk for k in kpis.values()]
    stored = {
        (kpi_id, zone or "", date, source): tuple(rest)
        for kpi_id, zone, date, source, *rest in Measurement.objects.filter(kpi_id__in=kpi_ids).values_list(
            *MEASUREMENT_FIELDS
        )
    }
    zones = {r["zone"] for _, r in records if r["zone"]}
    units = dict(ReportingUnit.objects.filter(code__in=zones).values_list("code", "pk"))
    by_source = defaultdict(list)
    for index, record in records:
        kpi = kpis.get(record["kpi"])
        if kpi is None:
            continue
        given = (record["value"], record["numerator"], record["denominator"], record["note"], record["external_id"])
        found = stored.get((kpi.pk, record["zone"], record["date"], record["source"]))
        if found == given:
            continue
        if record["zone"] and record["date"] <= kpi.baseline_date:
            with writer.record(MEASUREMENTS, index):
                _unit_baseline_write(kpi, record, units, replace=found is not None, author=writer.author)
            continue
        row = MeasurementRow(
            kpi_id=kpi.pk,
            date=record["date"],
            value=record["value"],
            note=record["note"],
            external_id=record["external_id"],
            unit_id=units.get(record["zone"]) if record["zone"] else None,
            numerator=record["numerator"],
            denominator=record["denominator"],
        )
        by_source[record["source"]].append((index, row))
    for source, rows in sorted(by_source.items()):
        try:
            with transaction.atomic():
                measurements_bulk_upsert(rows=[row for _, row in rows], source=source, recorded_by=writer.author)
        except MeasurementRowsInvalid as exc:
            for position, fields in exc.errors.items():
                row = writer.first_row + rows[position][0]
                for name, messages in fields.items():
                    for message in messages:
                        writer.errors.append(PlanFileError(MEASUREMENTS.sheet, row, name, str(message)))
        except ValidationError as exc:
            writer.validation_errors(MEASUREMENTS.sheet, None, exc)


def _unit_baseline_write(kpi, record, units, *, replace: bool, author) -> None:
    """A zone's own baseline figure (on or before the KPI's baseline date), which the aggregation reads: written
    as the zone register's loader writes it (``unit_values_load``); a changed one replaces the stored row."""
    unit = ReportingUnit.objects.get(pk=units[record["zone"]])
    if replace:
        stored = Measurement.objects.get(kpi=kpi, unit=unit, date=record["date"], source=record["source"])
        measurement_delete(measurement=stored, deleted_by=author)
    value = UnitValue(
        unit=unit,
        date=record["date"],
        value=record["value"],
        numerator=record["numerator"],
        denominator=record["denominator"],
    )
    unit_values_load(kpi=kpi, values=[value], note=record["note"], recorded_by=author, source=record["source"])


def _deletes_apply(plan, document, writer) -> None:
    """Delete what the file leaves out, leaves first; a record whose parent goes is taken with it."""
    area_codes = {r["code"] for r in document["focus_areas"]}
    goal_codes = {r["code"] for r in document["goals"]}
    kpi_codes = {r["code"] for r in document["kpis"]}
    milestone_keys = {record_key(MILESTONES, r) for r in document["milestones"]}
    measurement_keys = {record_key(MEASUREMENTS, r) for r in document["measurements"]}
    author = writer.author
    kept_kpis = KPI.objects.filter(plan=plan, code__in=kpi_codes)
    for m in Measurement.objects.filter(kpi__in=kept_kpis).exclude(source="derived").select_related("kpi", "unit"):
        if (m.kpi.code, m.unit.code if m.unit else "", m.date, m.source) not in measurement_keys:
            with writer.record(MEASUREMENTS, None):
                measurement_delete(measurement=m, deleted_by=author)
    kept_goals = Goal.objects.filter(plan=plan, code__in=goal_codes)
    for m in Milestone.objects.filter(goal__in=kept_goals).select_related("goal"):
        if (m.goal.code, m.title) not in milestone_keys:
            with writer.record(MILESTONES, None):
                milestone_delete(milestone=m, deleted_by=author, channel=CHANNEL)
    for kpi in KPI.objects.filter(goal__in=kept_goals).exclude(code__in=kpi_codes):
        with writer.record(KPIS, None):
            kpi_delete(kpi=kpi, deleted_by=author, channel=CHANNEL)
    for goal in Goal.objects.filter(plan=plan, focus_area__code__in=area_codes).exclude(code__in=goal_codes):
        with writer.record(GOALS, None):
            goal_delete(goal=goal, deleted_by=author, channel=CHANNEL)
    for area in FocusArea.objects.filter(plan=plan).exclude(code__in=area_codes):
        with writer.record(FOCUS_AREAS, None):
            focus_area_delete(focus_area=area, deleted_by=author, channel=CHANNEL)
