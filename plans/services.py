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
    from .tasks import plan_recompute_enqueue

    # A plain function, not functools.partial: Django 5.2's robust on_commit logs the callback's
    # __qualname__, which partial lacks (ticket #36487).
    def enqueue():
        plan_recompute_enqueue(plan_id=plan_id)

    transaction.on_commit(enqueue, robust=True)


def _check_version(item, expected_version: int | None, *, changed_by=None, changed_at=None) -> None:
    if expected_version is not None and expected_version != item.version:
        raise StaleVersionError(item, changed_by=changed_by, changed_at=changed_at)


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
    elif all(getattr(obj, name) == value for name, value in fields.items()):
        return obj, False
    else:
        for name, value in fields.items():
            setattr(obj, name, value)
        obj.version += 1
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
        _, did = _upsert(
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
    for k in g.get("kpis", []):
        changed |= _kpi_import(plan, goal, owner, k, recorded_by)
    return changed


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
def user_ensure(*, username: str, password: str, role: str, teams=(), **fields):
    """Create a user with a role and teams if missing; an existing user keeps its password."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(username=username, defaults=fields)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=role))
    for team in teams:
        team.members.add(user)
    return user, created
