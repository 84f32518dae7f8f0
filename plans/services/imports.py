"""``plan_import``: a whole plan created or updated from a nested dict (the demo plan, plan files), idempotently."""

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..choices import ChangeChannel, MeasurementSource, MilestoneState
from ..dates import date_read
from ..models import KPI, FocusArea, Goal, Milestone, MilestoneUpdate, Plan, Team
from ..models.kpis import kpi_default_range
from .history import definition_created, definition_updated, item_values
from .kpis import measurement_record
from .milestones import milestone_progress_check
from .plans import plan_mark_changed
from .rows import row_assign


def _twins(model, spec: dict[str, Any]) -> dict[str, str]:
    """The Chinese twins (``name_zh``, ``title_zh`` ...) of ``model``'s bilingual fields that ``spec`` gives."""
    return {f"{name}_zh": spec[f"{name}_zh"] for name in model.BILINGUAL_FIELDS if f"{name}_zh" in spec}


def _missing_twins(obj, fields: dict[str, Any]) -> dict[str, Any]:
    """The Chinese twins in ``fields`` that ``obj`` has blank: added even without overwrite."""
    return {
        f"{name}_zh": fields[f"{name}_zh"]
        for name in getattr(obj, "BILINGUAL_FIELDS", ())
        if fields.get(f"{name}_zh") and not getattr(obj, f"{name}_zh")
    }


def _upsert(model, lookup: dict[str, Any], fields: dict[str, Any], options: dict[str, Any]):
    """Create or update one row by ``lookup``; saves (and bumps the version) only when a field changed.

    With ``options["overwrite"]`` false an existing row is left as it is, except that a Chinese twin it has
    blank is filled in (a plan loaded before it had Chinese names gains them; one a person wrote is kept).
    Creates and changes are recorded as DefinitionChange rows (channel import).
    """
    obj = model.objects.filter(**lookup).first()
    before = None
    if obj is None:
        obj = model(**lookup, **fields)
    elif not options["overwrite"]:
        missing = _missing_twins(obj, fields)
        if not missing:
            return obj, False
        before = item_values(obj)
        row_assign(obj, missing)
        obj.version += 1
    else:
        before = item_values(obj)
        if not row_assign(obj, fields):  # compares foreign keys by id, without loading the related rows
            return obj, False
        obj.version += 1
    obj.full_clean()
    obj.save()
    if before is None:
        definition_created(obj, author=options["author"], channel=ChangeChannel.IMPORT)
    else:
        definition_updated(obj, before, author=options["author"], channel=ChangeChannel.IMPORT)
    return obj, True


def _located(exc: ValidationError, where: str) -> ValidationError:
    """The service's error with each field named by where it sits in the file ("RD-SPEND 2025-03-31: value")."""
    if not hasattr(exc, "error_dict"):
        return ValidationError({where: exc.error_list})
    return ValidationError({f"{where}: {field}": errors for field, errors in exc.error_dict.items()})


@transaction.atomic
def plan_import(*, data: dict[str, Any], recorded_by=None, overwrite: bool = True) -> tuple[Plan, bool]:
    """Create or update a whole plan from a nested dict (see plans/demo/*.json for the shape).

    Rows are matched by natural keys (plan slug, codes, milestone titles within a goal, measurement
    date and source), so importing the same data twice changes nothing. Returns (plan, changed).

    ``overwrite=False`` only creates what is missing and never changes an existing row (the demo
    plan, loaded at every ``make run``: progress, measurements and definitions people changed since
    are kept). ``recorded_by`` (a user or an API token) is the author of what the import writes.
    Measurements and milestone progress meet the same rules as every other write (``measurement_check``,
    ``milestone_progress_check``); a row that breaks one raises ValidationError, naming the row, and
    nothing of the file is written.
    """
    options = {"overwrite": overwrite, "author": recorded_by}
    changed = False
    teams = {}
    for spec in data.get("teams", []):
        # A team is its English name, or {"name": ..., "name_zh": ...}; goals and milestones name it in English.
        spec = spec if isinstance(spec, dict) else {"name": spec}
        name = spec["name"]
        try:
            team, did = _upsert(Team, {"name": name}, _twins(Team, spec), options)
        except ValidationError as exc:
            raise _located(exc, f"team {name!r}") from exc
        changed |= did
        teams[name] = team
    p = data["plan"]
    plan, did = _upsert(
        Plan,
        {"slug": p["slug"]},
        {
            "name": p["name"],
            "description": p.get("description", ""),
            **_twins(Plan, p),
            "baseline_year": p["baseline_year"],
            "start_date": date_read(p["start_date"]),
            "end_date": date_read(p["end_date"]),
        },
        options,
    )
    changed |= did
    for order, fa in enumerate(data.get("focus_areas", []), start=1):
        focus_area, did = _upsert(
            FocusArea,
            {"plan": plan, "code": fa["code"]},
            {
                "name": fa["name"],
                "description": fa.get("description", ""),
                **_twins(FocusArea, fa),
                "order": fa.get("order", order),
                "weight": Decimal(str(fa.get("weight", 1))),
            },
            options,
        )
        changed |= did
        for g in fa.get("goals", []):
            changed |= _goal_import(plan, focus_area, g, teams, options)
    if changed:
        plan_mark_changed(plan_id=plan.pk)
    return plan, changed


def _goal_import(plan, focus_area, g, teams, options) -> bool:
    owner = teams.get(g["owner_team"]) or Team.objects.get(name=g["owner_team"])
    goal, changed = _upsert(
        Goal,
        {"plan": plan, "code": g["code"]},
        {
            "focus_area": focus_area,
            "title": g["title"],
            "description": g.get("description", ""),
            **_twins(Goal, g),
            "owner_team": owner,
            "weight": Decimal(str(g.get("weight", 1))),
            "start_date": date_read(g.get("start_date")),
            "due_date": date_read(g.get("due_date")),
        },
        options,
    )
    for m in g.get("milestones", []):
        history = m.get("history", [])
        percent = m.get("percent_complete", 0)
        existing = (
            Milestone.objects.filter(goal=goal, title=m["title"]).values_list("percent_complete", flat=True).first()
        )
        state = m.get("state", MilestoneState.PLANNED)
        if existing is None or options["overwrite"]:  # without overwrite an existing milestone is left as it is
            try:
                state = milestone_progress_check(
                    previous_percent=existing or 0,
                    percent_complete=percent,
                    state=state,
                    # The note of the milestone's state is its last logged one, when the file gives a log.
                    note=m.get("note") or (history[-1].get("note", "") if history else ""),
                )
            except ValidationError as exc:
                raise _located(exc, f"{g['code']} {m['title']}") from exc
        milestone, did = _upsert(
            Milestone,
            {"goal": goal, "title": m["title"]},
            {
                "plan": plan,
                "owner_team": teams.get(m["owner_team"]) if m.get("owner_team") else owner,
                "description": m.get("description", ""),
                **_twins(Milestone, m),
                "start_date": date_read(m.get("start_date")),
                "due_date": date_read(m["due_date"]),
                "weight": Decimal(str(m.get("weight", 1))),
                "percent_complete": percent,
                "state": state,
                "completed_on": date_read(m.get("completed_on")),
            },
            options,
        )
        changed |= did
        changed |= _milestone_history_import(milestone, history, options["author"])
    for k in g.get("kpis", []):
        changed |= _kpi_import(plan, goal, owner, k, options)
    return changed


def _milestone_history_import(milestone, history, author) -> bool:
    """Back-dated progress log (each entry dated at noon, local time), written once per milestone."""
    if not history or milestone.updates.exists():
        return False
    previous_percent, previous_state = 0, MilestoneState.PLANNED
    for entry in history:
        try:
            state = milestone_progress_check(
                previous_percent=previous_percent,
                percent_complete=entry["percent_complete"],
                state=entry["state"],
                note=entry.get("note", ""),
            )
        except ValidationError as exc:
            raise _located(exc, f"{milestone.title} {entry['date']}") from exc
        update = MilestoneUpdate(
            milestone=milestone,
            percent_complete=entry["percent_complete"],
            state=state,
            previous_percent_complete=previous_percent,
            previous_state=previous_state,
            note=entry.get("note", ""),
            author=author,
        )
        try:
            update.full_clean()
        except ValidationError as exc:
            raise _located(exc, f"{milestone.title} {entry['date']}") from exc
        update.save()
        day = datetime.datetime.combine(date_read(entry["date"]), datetime.time(12), timezone.get_current_timezone())
        MilestoneUpdate.objects.filter(pk=update.pk).update(created_at=day, updated_at=day)
        previous_percent, previous_state = entry["percent_complete"], state
    return True


def _kpi_import(plan, goal, owner, k, options) -> bool:
    if "min_value" in k or "max_value" in k:
        low, high = k.get("min_value"), k.get("max_value")
    else:
        low, high = kpi_default_range(unit=k["unit"], name=k["name"])
    kpi, changed = _upsert(
        KPI,
        {"plan": plan, "code": k["code"]},
        {
            "goal": goal,
            "owner_team": owner,
            "name": k["name"],
            "unit": k["unit"],
            **_twins(KPI, k),
            "direction": k.get("direction", "increase"),
            "baseline_value": float(k["baseline_value"]),
            "baseline_date": date_read(k["baseline_date"]),
            "target_value": float(k["target_value"]),
            "target_date": date_read(k["target_date"]),
            "min_value": None if low is None else float(low),
            "max_value": None if high is None else float(high),
            "frequency": k["frequency"],
            "weight": Decimal(str(k.get("weight", 1))),
            "source_note": k.get("source_note", ""),
            # A file without it leaves the KPI's decimals as they are (the model's default for a new KPI).
            **({"decimals": k["decimals"]} if "decimals" in k else {}),
        },
        options,
    )
    # Without overwrite, a value already stored for a date (perhaps revised since) is kept.
    stored = (
        set()
        if options["overwrite"]
        else set(kpi.measurements.national().filter(source=MeasurementSource.IMPORT).values_list("date", flat=True))
    )
    for date, value in k.get("measurements", []):
        if date_read(date) in stored:
            continue
        try:
            result = measurement_record(
                kpi=kpi,
                date=date_read(date),
                value=value,
                source=MeasurementSource.IMPORT,
                recorded_by=options["author"],
                note=k.get("measurement_note", ""),
            )
        except ValidationError as exc:
            raise _located(exc, f"{k['code']} {date}") from exc
        changed |= result.outcome != "unchanged"
    return changed
