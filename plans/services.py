"""Every write of the domain. Views, forms, serializers, commands and tasks parse input and call these.

Each service is atomic, validates with ``full_clean()`` before saving, and marks the plan as needing a
recompute (``plan_mark_changed``), which enqueues one after commit.
"""

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import MeasurementSource, MilestoneState
from .models import KPI, FocusArea, Goal, Measurement, MeasurementRevision, Milestone, MilestoneUpdate, Plan, Team

logger = logging.getLogger(__name__)


class StaleVersionError(Exception):
    """The item changed since the caller read it (optimistic concurrency); ``current`` is the newer row."""

    def __init__(self, current, changed_by=None, changed_at=None):
        self.current = current
        self.changed_by = changed_by
        self.changed_at = changed_at
        super().__init__(_("This item was changed by someone else since you opened it."))


def plan_mark_changed(*, plan_id: int) -> None:
    """Count a status-changing write against the plan and enqueue its recompute once the write commits.

    The counter is bumped inside the caller's transaction, so the plan stays marked as needing a
    recompute even when the broker is unreachable; whatever recompute runs next catches up.
    """
    Plan.objects.filter(pk=plan_id).update(data_revision=F("data_revision") + 1)
    connection = transaction.get_connection()
    if any(getattr(callback, "plan_id", None) == plan_id for _, callback, _ in connection.run_on_commit):
        return  # one recompute per plan per transaction, however many rows it wrote
    from .tasks import plan_recompute_enqueue

    # A plain function, not functools.partial: Django 5.2's robust on_commit logs the callback's
    # __qualname__, which partial lacks (ticket #36487).
    def enqueue():
        plan_recompute_enqueue(plan_id=plan_id)

    enqueue.plan_id = plan_id
    transaction.on_commit(enqueue, robust=True)


@dataclass(frozen=True)
class MeasurementResult:
    measurement: Measurement
    outcome: str  # "created" | "updated" | "unchanged"


@transaction.atomic
def measurement_record(
    *,
    kpi: KPI,
    date: datetime.date,
    value: float,
    note: str = "",
    source: str = MeasurementSource.MANUAL,
    recorded_by=None,
    external_id: str = "",
    expected_version: int | None = None,
) -> MeasurementResult:
    """Create or revise the KPI's value on ``date`` from ``source``; every change is kept as a revision.

    ``expected_version`` is the KPI's version when the caller read it: a newer one raises
    StaleVersionError and writes nothing.
    """
    kpi = KPI.objects.select_for_update().get(pk=kpi.pk)
    if expected_version is not None and expected_version != kpi.version:
        last = MeasurementRevision.objects.filter(measurement__kpi=kpi).select_related("author").first()
        raise StaleVersionError(
            kpi, changed_by=last.author if last else None, changed_at=last.created_at if last else kpi.updated_at
        )
    measurement = Measurement.objects.select_for_update().filter(kpi=kpi, date=date, source=source).first()
    value = float(value)
    if measurement and measurement.value == value and measurement.note == note:
        return MeasurementResult(measurement, "unchanged")
    previous_value = measurement.value if measurement else None
    outcome = "updated" if measurement else "created"
    if measurement is None:
        measurement = Measurement(kpi=kpi, date=date, source=source)
    else:
        measurement.version += 1
    measurement.value = value
    measurement.note = note
    measurement.recorded_by = recorded_by
    measurement.recorded_at = timezone.now()
    measurement.external_id = external_id or measurement.external_id
    measurement.full_clean()
    measurement.save()
    MeasurementRevision.objects.create(
        measurement=measurement, previous_value=previous_value, value=value, note=note, author=recorded_by
    )
    KPI.objects.filter(pk=kpi.pk).update(version=F("version") + 1, updated_at=timezone.now())
    plan_mark_changed(plan_id=kpi.plan_id)
    return MeasurementResult(measurement, outcome)


@transaction.atomic
def milestone_progress_record(
    *,
    milestone: Milestone,
    percent_complete: int,
    state: str,
    note: str = "",
    evidence_url: str = "",
    author=None,
    completed_on: datetime.date | None = None,
    expected_version: int | None = None,
) -> MilestoneUpdate:
    """Log milestone progress: update the milestone and append a MilestoneUpdate with the old values."""
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    if expected_version is not None and expected_version != milestone.version:
        last = milestone.updates.select_related("author").first()
        raise StaleVersionError(
            milestone,
            changed_by=last.author if last else None,
            changed_at=last.created_at if last else milestone.updated_at,
        )
    previous_percent, previous_state = milestone.percent_complete, milestone.state
    milestone.percent_complete = percent_complete
    milestone.state = state
    if state == MilestoneState.DONE or percent_complete == 100:
        milestone.completed_on = completed_on or milestone.completed_on or timezone.localdate()
    elif previous_state == MilestoneState.DONE or previous_percent == 100:
        milestone.completed_on = None
    milestone.version += 1
    milestone.full_clean()
    milestone.save()
    update = MilestoneUpdate(
        milestone=milestone,
        percent_complete=percent_complete,
        state=state,
        previous_percent_complete=previous_percent,
        previous_state=previous_state,
        note=note,
        evidence_url=evidence_url,
        author=author,
    )
    update.full_clean()
    update.save()
    plan_mark_changed(plan_id=milestone.plan_id)
    return update


def _upsert(model, lookup: dict[str, Any], fields: dict[str, Any]):
    """Create or update one row by ``lookup``; saves (and bumps the version) only when a field changed."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **fields)
    elif _assign(obj, fields):  # compares foreign keys by id, without loading the related rows
        obj.version += 1
    else:
        return obj, False
    obj.full_clean()
    obj.save()
    return obj, True


def _date(value) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


@transaction.atomic
def plan_import(*, data: dict[str, Any], recorded_by=None) -> tuple[Plan, bool]:
    """Create or update a whole plan from a nested dict (see plans/demo/*.json for the shape).

    Rows are matched by natural keys (plan slug, codes, milestone titles within a goal, measurement
    date and source), so importing the same data twice changes nothing. Returns (plan, changed).
    """
    changed = False
    teams = {}
    for name in data.get("teams", []):
        teams[name], created = Team.objects.get_or_create(name=name)
        changed |= created
    p = data["plan"]
    plan, did = _upsert(
        Plan,
        {"slug": p["slug"]},
        {
            "name": p["name"],
            "description": p.get("description", ""),
            "baseline_year": p["baseline_year"],
            "start_date": _date(p["start_date"]),
            "end_date": _date(p["end_date"]),
        },
    )
    changed |= did
    for order, fa in enumerate(data.get("focus_areas", []), start=1):
        focus_area, did = _upsert(
            FocusArea,
            {"plan": plan, "code": fa["code"]},
            {
                "name": fa["name"],
                "description": fa.get("description", ""),
                "order": fa.get("order", order),
                "weight": Decimal(str(fa.get("weight", 1))),
            },
        )
        changed |= did
        for g in fa.get("goals", []):
            changed |= _goal_import(plan, focus_area, g, teams, recorded_by)
    if changed:
        plan_mark_changed(plan_id=plan.pk)
    return plan, changed


def _goal_import(plan, focus_area, g, teams, recorded_by) -> bool:
    owner = teams.get(g["owner_team"]) or Team.objects.get(name=g["owner_team"])
    goal, changed = _upsert(
        Goal,
        {"plan": plan, "code": g["code"]},
        {
            "focus_area": focus_area,
            "title": g["title"],
            "description": g.get("description", ""),
            "owner_team": owner,
            "weight": Decimal(str(g.get("weight", 1))),
            "start_date": _date(g.get("start_date")),
            "due_date": _date(g.get("due_date")),
        },
    )
    for m in g.get("milestones", []):
        milestone, did = _upsert(
            Milestone,
            {"goal": goal, "title": m["title"]},
            {
                "plan": plan,
                "owner_team": teams.get(m["owner_team"]) if m.get("owner_team") else owner,
                "description": m.get("description", ""),
                "start_date": _date(m.get("start_date")),
                "due_date": _date(m["due_date"]),
                "weight": Decimal(str(m.get("weight", 1))),
                "percent_complete": m.get("percent_complete", 0),
                "state": m.get("state", MilestoneState.PLANNED),
                "completed_on": _date(m.get("completed_on")),
            },
        )
        changed |= did
        changed |= _milestone_history_import(milestone, m.get("history", []), recorded_by)
    for k in g.get("kpis", []):
        changed |= _kpi_import(plan, goal, owner, k, recorded_by)
    return changed


def _milestone_history_import(milestone, history, author) -> bool:
    """Back-dated progress log (each entry dated at noon, local time), written once per milestone."""
    if not history or milestone.updates.exists():
        return False
    previous_percent, previous_state = 0, MilestoneState.PLANNED
    for entry in history:
        update = MilestoneUpdate.objects.create(
            milestone=milestone,
            percent_complete=entry["percent_complete"],
            state=entry["state"],
            previous_percent_complete=previous_percent,
            previous_state=previous_state,
            note=entry.get("note", ""),
            author=author,
        )
        day = datetime.datetime.combine(_date(entry["date"]), datetime.time(12), timezone.get_current_timezone())
        MilestoneUpdate.objects.filter(pk=update.pk).update(created_at=day, updated_at=day)
        previous_percent, previous_state = entry["percent_complete"], entry["state"]
    return True


def _kpi_import(plan, goal, owner, k, recorded_by) -> bool:
    kpi, changed = _upsert(
        KPI,
        {"plan": plan, "code": k["code"]},
        {
            "goal": goal,
            "owner_team": owner,
            "name": k["name"],
            "unit": k["unit"],
            "direction": k.get("direction", "increase"),
            "baseline_value": float(k["baseline_value"]),
            "baseline_date": _date(k["baseline_date"]),
            "target_value": float(k["target_value"]),
            "target_date": _date(k["target_date"]),
            "frequency": k["frequency"],
            "weight": Decimal(str(k.get("weight", 1))),
            "source_note": k.get("source_note", ""),
        },
    )
    for date, value in k.get("measurements", []):
        result = measurement_record(
            kpi=kpi,
            date=_date(date),
            value=value,
            source=MeasurementSource.IMPORT,
            recorded_by=recorded_by,
            note=k.get("measurement_note", ""),
        )
        changed |= result.outcome != "unchanged"
    return changed


@transaction.atomic
def user_ensure(*, username: str, password: str, role: str, teams=(), admin: bool = False, **fields):
    """Create a user with a role and teams if missing; an existing user keeps its password.

    ``admin`` opens the admin site to the user with every permission on the plans app (its writes
    go through these services too, see plans/admin.py).
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user, created = get_user_model().objects.get_or_create(username=username, defaults=fields)
    if created:
        user.set_password(password)
        user.is_staff = admin
        user.save(update_fields=["password", "is_staff"])
        if admin:
            user.user_permissions.add(*Permission.objects.filter(content_type__app_label="plans"))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    for team in teams:
        team.members.add(user)
    return user, created


# API writes (plans.api): create, update and delete of goals, milestones, KPIs and measurements.
# Updates take the version the caller read (``expected_version``) and change nothing when it is stale;
# deletes leave a Tombstone per deleted row so syncing clients learn about them.


def _version_check(item, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != item.version:
        raise StaleVersionError(item, changed_at=item.updated_at)


def _assign(item, data: dict[str, Any]) -> bool:
    """Set ``data`` on ``item``; True when a value differs. Foreign keys are compared by id, without a query."""
    changed = False
    for name, value in data.items():
        field = item._meta.get_field(name)
        if field.is_relation:
            current, new = getattr(item, field.attname), getattr(value, "pk", value)
        else:
            current, new = getattr(item, name), value
        if current != new:
            setattr(item, name, value)
            changed = True
    return changed


def _tombstones_create(resource: str, rows, *, deleted_by=None) -> None:
    """``rows`` are (id, plan_id, source, external_id) tuples of rows about to be deleted."""
    from .models import Tombstone

    now = timezone.now()
    Tombstone.objects.bulk_create(
        [
            Tombstone(
                resource=resource,
                item_id=item_id,
                plan_id=plan_id,
                source=source or "",
                external_id=external_id or "",
                deleted_by=deleted_by,
                deleted_at=now,
            )
            for item_id, plan_id, source, external_id in rows
        ],
        batch_size=1000,
    )


def _tombstones_for_kpis(kpis, *, deleted_by=None) -> None:
    _tombstones_create(
        "measurements",
        Measurement.objects.filter(kpi__in=kpis).values_list("id", "kpi__plan_id", "source", "external_id"),
        deleted_by=deleted_by,
    )
    _tombstones_create("kpis", kpis.values_list("id", "plan_id", "source", "external_id"), deleted_by=deleted_by)


def _tombstones_for_milestones(milestones, *, deleted_by=None) -> None:
    _tombstones_create(
        "milestone-updates",
        [
            (item_id, plan_id, "", "")
            for item_id, plan_id in MilestoneUpdate.objects.filter(milestone__in=milestones).values_list(
                "id", "milestone__plan_id"
            )
        ],
        deleted_by=deleted_by,
    )
    _tombstones_create(
        "milestones", milestones.values_list("id", "plan_id", "source", "external_id"), deleted_by=deleted_by
    )


def _tombstones_for_goals(goals, *, deleted_by=None) -> None:
    _tombstones_for_kpis(KPI.objects.filter(goal__in=goals), deleted_by=deleted_by)
    _tombstones_for_milestones(Milestone.objects.filter(goal__in=goals), deleted_by=deleted_by)
    _tombstones_create("goals", goals.values_list("id", "plan_id", "source", "external_id"), deleted_by=deleted_by)


@transaction.atomic
def structure_save(*, item: Plan | FocusArea, is_new: bool) -> None:
    """Save a plan or focus area edited by a manager (admin): validated, versioned, recomputed."""
    if not is_new:
        item.version = type(item).objects.select_for_update().get(pk=item.pk).version + 1
    item.full_clean()
    item.save()
    plan_mark_changed(plan_id=item.pk if isinstance(item, Plan) else item.plan_id)


@transaction.atomic
def focus_area_delete(*, focus_area: FocusArea, deleted_by=None) -> None:
    """Delete a focus area with its goals and their children, leaving tombstones for syncing clients."""
    _tombstones_for_goals(Goal.objects.filter(focus_area=focus_area), deleted_by=deleted_by)
    plan_id = focus_area.plan_id
    focus_area.delete()
    plan_mark_changed(plan_id=plan_id)


@transaction.atomic
def plan_delete(*, plan: Plan, deleted_by=None) -> None:
    """Delete a whole plan, leaving tombstones for its goals, KPIs, milestones and their rows."""
    _tombstones_for_goals(Goal.objects.filter(plan=plan), deleted_by=deleted_by)
    plan.delete()


@transaction.atomic
def goal_create(*, data: dict[str, Any]) -> Goal:
    goal = Goal(**data)
    goal.plan_id = goal.focus_area.plan_id
    goal.full_clean()
    goal.save()
    plan_mark_changed(plan_id=goal.plan_id)
    return goal


@transaction.atomic
def goal_update(*, goal: Goal, data: dict[str, Any], expected_version: int | None = None) -> Goal:
    """Change a goal's own fields; moving it to a focus area of another plan is refused by ``Goal.clean``."""
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    _version_check(goal, expected_version)
    if not _assign(goal, data):
        return goal
    goal.version += 1
    goal.full_clean()
    goal.save()
    plan_mark_changed(plan_id=goal.plan_id)
    return goal


@transaction.atomic
def goal_delete(*, goal: Goal, expected_version: int | None = None, deleted_by=None) -> None:
    """Delete a goal with its milestones, KPIs and measurements, leaving a tombstone for each."""
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    _version_check(goal, expected_version)
    _tombstones_for_goals(Goal.objects.filter(pk=goal.pk), deleted_by=deleted_by)
    plan_id = goal.plan_id
    goal.delete()
    plan_mark_changed(plan_id=plan_id)


def _goal_child_save(item, *, previous_plan_id: int | None = None) -> None:
    from .models.milestones import fill_from_goal

    if item.goal_id and item.plan_id != item.goal.plan_id:
        item.plan_id = item.goal.plan_id
    fill_from_goal(item)
    item.full_clean()
    item.save()
    plan_mark_changed(plan_id=item.plan_id)
    if previous_plan_id and previous_plan_id != item.plan_id:
        plan_mark_changed(plan_id=previous_plan_id)


@transaction.atomic
def milestone_create(*, data: dict[str, Any]) -> Milestone:
    milestone = Milestone(**data)
    _goal_child_save(milestone)
    return milestone


PROGRESS_FIELDS = ("percent_complete", "state", "completed_on")


@transaction.atomic
def milestone_update(
    *, milestone: Milestone, data: dict[str, Any], expected_version: int | None = None, author=None
) -> Milestone:
    """Change a milestone; a change of progress or state goes through ``milestone_progress_record`` so it is logged."""
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    _version_check(milestone, expected_version)
    progress = {name: data[name] for name in PROGRESS_FIELDS if name in data}
    previous_plan_id = milestone.plan_id
    if _assign(milestone, {name: value for name, value in data.items() if name not in PROGRESS_FIELDS}):
        milestone.version += 1
        _goal_child_save(milestone, previous_plan_id=previous_plan_id)
    percent = progress.get("percent_complete", milestone.percent_complete)
    state = progress.get("state", milestone.state)
    completed_on = progress.get("completed_on", milestone.completed_on)
    if (percent, state, completed_on) != (milestone.percent_complete, milestone.state, milestone.completed_on):
        milestone_progress_record(
            milestone=milestone, percent_complete=percent, state=state, completed_on=completed_on, author=author
        )
        milestone.refresh_from_db()
    return milestone


@transaction.atomic
def milestone_delete(*, milestone: Milestone, expected_version: int | None = None, deleted_by=None) -> None:
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    _version_check(milestone, expected_version)
    _tombstones_for_milestones(Milestone.objects.filter(pk=milestone.pk), deleted_by=deleted_by)
    plan_id = milestone.plan_id
    milestone.delete()
    plan_mark_changed(plan_id=plan_id)


@transaction.atomic
def kpi_create(*, data: dict[str, Any]) -> KPI:
    kpi = KPI(**data)
    _goal_child_save(kpi)
    return kpi


@transaction.atomic
def kpi_update(*, kpi: KPI, data: dict[str, Any], expected_version: int | None = None) -> KPI:
    kpi = KPI.objects.select_for_update().get(pk=kpi.pk)
    _version_check(kpi, expected_version)
    previous_plan_id = kpi.plan_id
    if _assign(kpi, data):
        kpi.version += 1
        _goal_child_save(kpi, previous_plan_id=previous_plan_id)
    return kpi


@transaction.atomic
def kpi_delete(*, kpi: KPI, expected_version: int | None = None, deleted_by=None) -> None:
    """Delete a KPI with its measurements, leaving a tombstone for each."""
    kpi = KPI.objects.select_for_update().get(pk=kpi.pk)
    _version_check(kpi, expected_version)
    _tombstones_for_kpis(KPI.objects.filter(pk=kpi.pk), deleted_by=deleted_by)
    plan_id = kpi.plan_id
    kpi.delete()
    plan_mark_changed(plan_id=plan_id)


@transaction.atomic
def measurement_update(
    *,
    measurement: Measurement,
    value: float,
    note: str | None = None,
    external_id: str = "",
    recorded_by=None,
    expected_version: int | None = None,
) -> MeasurementResult:
    """Revise one measurement's value (and note) in place, keeping its KPI, date and source."""
    current = Measurement.objects.select_for_update().select_related("kpi").get(pk=measurement.pk)
    _version_check(current, expected_version)
    return measurement_record(
        kpi=current.kpi,
        date=current.date,
        value=value,
        note=current.note if note is None else note,
        source=current.source,
        recorded_by=recorded_by,
        external_id=external_id,
    )


@transaction.atomic
def measurement_delete(*, measurement: Measurement, expected_version: int | None = None, deleted_by=None) -> None:
    measurement = Measurement.objects.select_for_update().select_related("kpi").get(pk=measurement.pk)
    _version_check(measurement, expected_version)
    kpi = measurement.kpi
    _tombstones_create(
        "measurements",
        [(measurement.pk, kpi.plan_id, measurement.source, measurement.external_id)],
        deleted_by=deleted_by,
    )
    measurement.delete()
    KPI.objects.filter(pk=kpi.pk).update(version=F("version") + 1, updated_at=timezone.now())
    plan_mark_changed(plan_id=kpi.plan_id)


@dataclass(frozen=True)
class MeasurementRow:
    kpi_id: int
    date: datetime.date
    value: float
    note: str = ""
    external_id: str = ""


class MeasurementRowsInvalid(Exception):
    """Rows of a bulk upsert that cannot be written: ``errors`` maps a row index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        super().__init__(_("Some rows are invalid; nothing was written."))


def _bulk_rows_check(rows: list[MeasurementRow], kpis: dict, source: str) -> dict[int, dict[str, list[str]]]:
    errors: dict[int, dict[str, list[str]]] = {}
    first_by_key: dict[tuple, int] = {}
    first_by_external_id: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.kpi_id not in kpis:
            errors.setdefault(index, {})["kpi"] = [str(_("Unknown KPI."))]
        first = first_by_key.setdefault((row.kpi_id, row.date), index)
        if first != index:
            message = _("Row %(row)d already gives this KPI's value on this date.") % {"row": first}
            errors.setdefault(index, {})["date"] = [str(message)]
        if row.external_id:
            first = first_by_external_id.setdefault(row.external_id, index)
            if first != index:
                message = _("Row %(row)d already uses this external id.") % {"row": first}
                errors.setdefault(index, {})["external_id"] = [str(message)]
    used = Measurement.objects.filter(source=source, external_id__in=list(first_by_external_id)).values_list(
        "external_id", "kpi_id", "date"
    )
    for external_id, kpi_id, date in used:
        index = first_by_external_id[external_id]
        if (rows[index].kpi_id, rows[index].date) != (kpi_id, date):
            errors.setdefault(index, {})["external_id"] = [str(_("This external id is used by another measurement."))]
    return errors


@transaction.atomic
def measurements_bulk_upsert(
    *, rows: list[MeasurementRow], source: str = MeasurementSource.API, recorded_by=None
) -> dict[str, int]:
    """Create or revise many measurements on (kpi, date, source) in a few queries, all or nothing.

    Raises MeasurementRowsInvalid, writing nothing, when any row is invalid. Rows whose value and note
    are already stored count as unchanged, so replaying a payload creates nothing. Each affected
    KPI's version is bumped once and each affected plan marked changed once.
    """
    kpi_ids = sorted({row.kpi_id for row in rows})
    # Locked in id order, like measurement_record locks its KPI, so concurrent writers queue instead of deadlocking.
    kpis = {
        kpi.pk: kpi
        for kpi in KPI.objects.select_for_update().filter(pk__in=kpi_ids).order_by("pk").only("id", "plan_id")
    }
    errors = _bulk_rows_check(rows, kpis, source)
    if errors:
        raise MeasurementRowsInvalid(errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if not rows:
        return counts
    dates = [row.date for row in rows]
    existing = {
        (m.kpi_id, m.date): m
        for m in Measurement.objects.filter(
            kpi_id__in=kpi_ids, source=source, date__gte=min(dates), date__lte=max(dates)
        )
    }
    now = timezone.now()
    created, updated, previous_values = [], [], []  # previous_values: of the updated rows
    for row in rows:
        value = float(row.value)
        measurement = existing.get((row.kpi_id, row.date))
        if measurement is None:
            measurement = Measurement(kpi_id=row.kpi_id, date=row.date, source=source, external_id=row.external_id)
            created.append(measurement)
        elif measurement.value == value and measurement.note == row.note:
            counts["unchanged"] += 1
            continue
        else:
            updated.append(measurement)
            previous_values.append(measurement.value)
            measurement.version += 1
            measurement.updated_at = now
            measurement.external_id = row.external_id or measurement.external_id
        measurement.value = value
        measurement.note = row.note
        measurement.recorded_by = recorded_by
        measurement.recorded_at = now
        # Uniqueness and the finite check were settled above for all rows at once (and the database
        # constraints stay behind them); validating them here would cost one query per row.
        measurement.full_clean(exclude={"kpi", "recorded_by"}, validate_unique=False, validate_constraints=False)
    Measurement.objects.bulk_create(created, batch_size=1000)
    Measurement.objects.bulk_update(
        updated,
        ["value", "note", "version", "recorded_by", "recorded_at", "external_id", "updated_at"],
        batch_size=1000,
    )
    written = created + updated
    MeasurementRevision.objects.bulk_create(
        [
            MeasurementRevision(measurement=m, previous_value=previous, value=m.value, note=m.note, author=recorded_by)
            for m, previous in zip(written, [None] * len(created) + previous_values, strict=True)
        ],
        batch_size=1000,
    )
    counts["created"], counts["updated"] = len(created), len(updated)
    affected = sorted({m.kpi_id for m in written})
    if affected:
        KPI.objects.filter(pk__in=affected).update(version=F("version") + 1, updated_at=now)
    for plan_id in sorted({kpis[kpi_id].plan_id for kpi_id in affected}):
        plan_mark_changed(plan_id=plan_id)
    return counts


@transaction.atomic
def api_token_create(*, name: str, scope: str, team: Team | None = None):
    """Create an API token; returns (token, key). Only the key's SHA-256 is stored, so the key is shown once."""
    from .models import ApiToken
    from .models.api import TOKEN_PREFIX_LENGTH

    key = ApiToken.new_key()
    prefix, key_hash = key[:TOKEN_PREFIX_LENGTH], ApiToken.hash_key(key)
    token = ApiToken(name=name, scope=scope, team=team, prefix=prefix, key_hash=key_hash)
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def housekeeping_run(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete what has outlived its use: expired idempotency keys, tombstones past their retention,
    and snapshots of days other than month ends past theirs. Returns the rows deleted per kind."""
    from django.conf import settings

    from .dates import month_ends_between
    from .models import IdempotencyKey, StatusSnapshot, Tombstone

    now = now or timezone.now()
    keys = IdempotencyKey.objects.filter(created_at__lt=now - IdempotencyKey.LIFETIME)
    tombstones = Tombstone.objects.filter(
        deleted_at__lt=now - datetime.timedelta(days=settings.TRACKER_TOMBSTONE_RETENTION_DAYS)
    )
    cutoff = timezone.localdate(now) - datetime.timedelta(days=settings.TRACKER_DAILY_SNAPSHOT_RETENTION_DAYS)
    snapshots = StatusSnapshot.objects.filter(as_of__lt=cutoff)
    oldest = snapshots.order_by("as_of").values_list("as_of", flat=True).first()
    if oldest is not None:
        snapshots = snapshots.exclude(as_of__in=month_ends_between(oldest, cutoff))
    return {
        "idempotency_keys": keys.delete()[0],
        "tombstones": tombstones.delete()[0],
        "daily_snapshots": snapshots.delete()[0],
    }
