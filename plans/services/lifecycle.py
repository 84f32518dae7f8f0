"""A plan's lifecycle: created (or copied from last year's) as a draft, activated, closed.

A draft is seen by managers only and written like any plan; an active plan is tracked; a closed plan's
figures are final: ``plan_mark_changed`` refuses every later write into it (PlanClosed), whatever the
channel. Each move is versioned and kept in the plan's history (DefinitionChange of ``state``).
"""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from ..choices import ChangeChannel, PlanState
from ..models import KPI, FocusArea, Goal, Measurement, Milestone, Plan
from .goals import goal_create
from .history import definition_updated
from .kpis import kpi_create
from .milestones import milestone_create
from .plans import plan_mark_changed, structure_save
from .rows import row_lock


@transaction.atomic
def plan_create(*, data: dict[str, Any], author=None, channel: str = ChangeChannel.WEB) -> Plan:
    """A new plan, as a draft: managers fill it in, then activate it."""
    plan = Plan(**data, state=PlanState.DRAFT)
    structure_save(item=plan, is_new=True, author=author, channel=channel)
    return plan


def _state_set(plan: Plan, state: str, *, expected_version, author, channel) -> Plan:
    row = row_lock(plan, expected_version)
    plan_mark_changed(plan_id=row.pk)  # while it is still open: its pages are rebuilt, its statuses brought up
    before = row.state
    row.state = state
    row.version += 1
    row.save(update_fields=["state", "version", "updated_at"])
    definition_updated(row, {"state": before}, after={"state": state}, author=author, channel=channel)
    return row


@transaction.atomic
def plan_activate(
    *, plan: Plan, expected_version: int | None = None, author=None, channel: str = ChangeChannel.WEB
) -> Plan:
    """Make a draft plan active: everyone sees it and its teams report on it."""
    row = Plan.objects.get(pk=plan.pk)
    if row.state != PlanState.DRAFT:
        raise ValidationError(_("Only a draft plan can be activated."), code="not_draft")
    return _state_set(row, PlanState.ACTIVE, expected_version=expected_version, author=author, channel=channel)


@transaction.atomic
def plan_close(
    *,
    plan: Plan,
    early: bool = False,
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.WEB,
    today: datetime.date | None = None,
) -> Plan:
    """Close an active plan: its figures become final and every later write is refused.

    Before its end date only with ``early`` (the manager confirmed it): figures of the last period would
    otherwise be shut out by mistake.
    """
    today = today or timezone.localdate()
    row = Plan.objects.get(pk=plan.pk)
    if row.state != PlanState.ACTIVE:
        raise ValidationError(_("Only an active plan can be closed."), code="not_active")
    if today <= row.end_date and not early:
        raise ValidationError(
            _("The plan runs until %(end)s: confirm that you close it before its end date."),
            code="close_early",
            params={"end": row.end_date.isoformat()},
        )
    return _state_set(row, PlanState.CLOSED, expected_version=expected_version, author=author, channel=channel)


def year_later(date: datetime.date | None) -> datetime.date | None:
    """The same day a year later; 29 February becomes 28 February."""
    if date is None:
        return None
    return date.replace(year=date.year + 1, day=28 if (date.month, date.day) == (2, 29) else date.day)


def _free_slug(base: str) -> str:
    slug, n = base[:100], 2
    while Plan.objects.filter(slug=slug).exists():
        suffix = f"-{n}"
        slug, n = f"{base[: 100 - len(suffix)]}{suffix}", n + 1
    return slug


def _final_figures(kpis) -> dict[int, tuple[float, datetime.date]]:
    """{KPI id: (value, date)} of each KPI's latest national figure on or before its target date's year end."""
    figures = {}
    rows = (
        Measurement.objects.national()
        .filter(kpi__in=kpis)
        .order_by("kpi_id", "-date", "-recorded_at", "-pk")
        .values_list("kpi_id", "value", "date")
    )
    for kpi_id, value, date in rows:
        figures.setdefault(kpi_id, (value, date))
    return figures


@transaction.atomic
def plan_copy_next_year(*, plan: Plan, author=None, channel: str = ChangeChannel.WEB) -> Plan:
    """A draft copy of ``plan`` for the year after: its focus areas, goals, KPIs and milestones with every date
    a year later, no measurements and no progress. A KPI's baseline becomes last year's final figure (its
    latest national figure) where there is one, dated on that figure's date; otherwise its old baseline."""
    source = Plan.objects.get(pk=plan.pk)
    year = source.end_date.year + 1
    base = slugify(source.slug.removesuffix(f"-{source.end_date.year}")) or "plan"
    copy = plan_create(
        data={
            "name": f"{source.name} ({year})",
            "name_zh": f"{source.name_zh}（{year}）" if source.name_zh else "",
            "slug": _free_slug(f"{base}-{year}"),
            "description": source.description,
            "description_zh": source.description_zh,
            "baseline_year": source.baseline_year + 1,
            "start_date": year_later(source.start_date),
            "end_date": year_later(source.end_date),
            "counting": source.counting,
            "due_lag_monthly": source.due_lag_monthly,
            "due_lag_quarterly": source.due_lag_quarterly,
            "due_lag_annual": source.due_lag_annual,
            "remind_days_before": source.remind_days_before,
            "escalate_after_days": source.escalate_after_days,
        },
        author=author,
        channel=channel,
    )
    text = ("description", "description_zh")
    focus_areas = {}
    for area in FocusArea.objects.filter(plan=source).order_by("order", "code"):
        new = FocusArea(
            plan=copy,
            code=area.code,
            name=area.name,
            name_zh=area.name_zh,
            order=area.order,
            weight=area.weight,
            **{name: getattr(area, name) for name in text},
        )
        structure_save(item=new, is_new=True, author=author, channel=channel)
        focus_areas[area.pk] = new
    goals = {}
    for goal in Goal.objects.filter(plan=source).order_by("code"):
        goals[goal.pk] = goal_create(
            data={
                "focus_area": focus_areas[goal.focus_area_id],
                "code": goal.code,
                "title": goal.title,
                "title_zh": goal.title_zh,
                "owner_team_id": goal.owner_team_id,
                "weight": goal.weight,
                "start_date": year_later(goal.start_date),
                "due_date": year_later(goal.due_date),
                **{name: getattr(goal, name) for name in text},
            },
            author=author,
            channel=channel,
        )
    kpis = list(KPI.objects.filter(plan=source).order_by("code"))
    finals = _final_figures(kpis)
    copied = (
        *("code", "name", "name_zh", "unit", "unit_zh", "direction", "target_value", "frequency", "weight"),
        *("owner_team_id", "min_value", "max_value", "source_note", "aggregation", "national_source"),
        *("ratio_scale", "comparison_scale"),
    )
    for kpi in kpis:
        baseline_value, baseline_date = finals.get(kpi.pk, (kpi.baseline_value, year_later(kpi.baseline_date)))
        kpi_create(
            data={
                "goal": goals[kpi.goal_id],
                **{name: getattr(kpi, name) for name in copied},
                "baseline_value": baseline_value,
                "baseline_date": baseline_date,
                "target_date": year_later(kpi.target_date),
            },
            author=author,
            channel=channel,
        )
    for milestone in Milestone.objects.filter(plan=source).order_by("due_date", "id"):
        milestone_create(
            data={
                "goal": goals[milestone.goal_id],
                "title": milestone.title,
                "title_zh": milestone.title_zh,
                "owner_team_id": milestone.owner_team_id,
                "start_date": year_later(milestone.start_date),
                "due_date": year_later(milestone.due_date),
                "weight": milestone.weight,
                **{name: getattr(milestone, name) for name in text},
            },
            author=author,
            channel=channel,
        )
    return copy
