"""The plan briefing: what a manager reads of a plan as of a date, gathered once and rendered as a PDF.

``briefing_gather`` reads what the dashboard shows, through the same selectors and explanations (plans.selectors,
plans.explain, plans.charts): the plan's status and why, the items by status, the focus areas with their
status and why, the KPI table with a chart per KPI, the overdue milestones, and what changed this period --
the statuses that moved since the previous month end and the figures that came in since then.

As of a past date it reads the latest status snapshot on or before that date (month ends, and the day of the
latest recompute: plans.models.StatusSnapshot); as of today or later, the stored current statuses.

``briefing_pdf`` renders ``plans/briefing/briefing.html`` with WeasyPrint, in the active language. WeasyPrint is
imported only then: the site runs without its system libraries (Pango), and only the briefing says it cannot be
rendered (``BriefingUnavailable``).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.contrib.staticfiles import finders
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from . import charts, selectors
from .chart_svg import kpi_chart_svg
from .choices import ItemType, PlanState, Status
from .explain import Explained, explain_as_of, explain_item, kpi_outcome, status_label
from .models import Measurement, Plan, StatusSnapshot

logger = logging.getLogger(__name__)

TEMPLATE = "plans/briefing/briefing.html"
STYLESHEET = "css/briefing.css"  # a static file: templates hold no <style> (tests/test_security_headers.py)
# The figures listed under "what changed": the newest first, the rest counted.
FIGURES_SHOWN = 40
ITEM_TYPES = (ItemType.FOCUS_AREA, ItemType.GOAL, ItemType.KPI, ItemType.MILESTONE)


class BriefingDateError(ValueError):
    """The date asked for cannot be briefed (no status of the plan on or before it)."""


class BriefingUnavailable(RuntimeError):
    """WeasyPrint or its system libraries (Pango) are missing: no PDF can be rendered here."""


@dataclass
class StatusCount:
    status: str
    label: str
    counts: list[int]
    total: int


@dataclass
class StatusChange:
    item_type: str
    label: str
    before: str
    after: str

    @property
    def item_type_label(self) -> str:
        return str(ItemType(self.item_type).label)


@dataclass
class Briefing:
    """Everything ``plans/briefing/briefing.html`` shows; dates are plain dates, texts already translated."""

    plan: Plan
    asked: datetime.date | None  # the date asked for (None: now)
    as_of: datetime.date | None  # the snapshot day read (None: the current statuses)
    reference: datetime.date  # the day the statuses describe
    since: datetime.date  # the previous month end: "what changed" starts the day after
    compared_with: datetime.date | None  # the snapshot day the changes are measured from, if any
    status: str
    why: Explained
    counts: list[StatusCount] = field(default_factory=list)
    focus_areas: list[tuple] = field(default_factory=list)
    kpi_rows: list[dict] = field(default_factory=list)
    overdue: list = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    figures: list = field(default_factory=list)
    figures_more: int = 0
    is_demo: bool = False

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def filename(self) -> str:
        return f"{self.plan.slug}-briefing-{self.reference.isoformat()}.pdf"


def previous_month_end(day: datetime.date) -> datetime.date:
    """The last month end strictly before ``day``."""
    return day.replace(day=1) - datetime.timedelta(days=1)


def snapshot_day_on_or_before(*, plan_id: int, day: datetime.date) -> datetime.date | None:
    """The latest day on or before ``day`` with a snapshot of the plan's own status (index plans_snapshot_plan_day)."""
    return (
        StatusSnapshot.objects.filter(plan_id=plan_id, as_of__lte=day, item_type=ItemType.PLAN, item_id=plan_id)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )


def _status_counts(rows: list[dict]) -> list[StatusCount]:
    """Items per status and item type, worst status first (the dashboard's tiles as a table)."""
    by_status: dict[str, dict[str, int]] = {}
    for row in rows:
        by_status.setdefault(row["status"] or "", {})[str(row["item_type"])] = row["n"]
    order = [str(s) for s in charts.TREND_ORDER]
    statuses = sorted(by_status, key=lambda s: order.index(s) if s in order else len(order))
    result = []
    for status in statuses:
        counts = [by_status[status].get(str(kind), 0) for kind in ITEM_TYPES]
        result.append(StatusCount(status=status, label=status_label(status), counts=counts, total=sum(counts)))
    return result


def _label(item, item_type: str) -> str:
    if item_type == ItemType.MILESTONE:
        return f"{item.goal.code} · {item.tr.title}"
    if item_type == ItemType.GOAL:
        return f"{item.code} {item.tr.title}"
    return f"{item.code} {item.tr.name}"


def _changes(plan: Plan, day: datetime.date | None, items: dict[str, list], status: str) -> list[StatusChange]:
    """The items (and the plan) whose status on ``day``'s snapshot differs from the one now shown, worst first."""
    if day is None:
        return []
    before = {
        (item_type, item_id): old
        for item_type, item_id, old in StatusSnapshot.objects.filter(plan_id=plan.pk, as_of=day).values_list(
            "item_type", "item_id", "status"
        )
    }
    changes = []
    old_plan = before.get((ItemType.PLAN, plan.pk))
    if old_plan is not None and old_plan != status:
        changes.append(StatusChange(ItemType.PLAN, plan.tr.name, old_plan, status))
    for item_type, rows in items.items():
        for item in rows:
            old = before.get((item_type, item.pk))
            if old is not None and item.as_of_status and old != item.as_of_status:
                changes.append(StatusChange(item_type, _label(item, item_type), old, item.as_of_status))
    order = [str(s) for s in charts.TREND_ORDER]
    # The plan's own move first, then the items, worst new status first.
    return sorted(
        changes,
        key=lambda c: (c.item_type != ItemType.PLAN, order.index(c.after) if c.after in order else len(order), c.label),
    )


def _figures(plan: Plan, since: datetime.date, reference: datetime.date):
    """National figures that came in this period: dated after ``since``, or recorded after it (a late report of an
    earlier period), and dated on or before ``reference``; the newest first, at most ``FIGURES_SHOWN``."""
    rows = (
        Measurement.objects.national()
        .filter(kpi__plan_id=plan.pk, date__lte=reference)
        .filter(Q(date__gt=since) | Q(recorded_at__date__gt=since, recorded_at__date__lte=reference))
        .select_related("kpi")
        .order_by("-date", "kpi__code", "-recorded_at")
    )
    shown = list(rows[: FIGURES_SHOWN + 1])
    more = rows.count() - FIGURES_SHOWN if len(shown) > FIGURES_SHOWN else 0
    return shown[:FIGURES_SHOWN], more


def _measurement_map(plan_id: int) -> dict[int, list]:
    """``{kpi_id: [national measurement, ...]}`` of every KPI of the plan, oldest first, in one query."""
    grouped: dict[int, list] = {}
    rows = Measurement.objects.national().filter(kpi__plan_id=plan_id).order_by("kpi_id", "date", "recorded_at")
    for m in rows.only("id", "kpi_id", "date", "value", "recorded_at"):
        grouped.setdefault(m.kpi_id, []).append(m)
    return grouped


def briefing_gather(*, plan: Plan, asked: datetime.date | None, today: datetime.date) -> Briefing:
    """The briefing of ``plan`` as of ``asked`` (None or a date from ``today`` on: the current statuses).

    Raises ``BriefingDateError`` when the plan has no status on or before a past ``asked``.
    """
    as_of = None
    if asked is not None and asked < today:
        as_of = snapshot_day_on_or_before(plan_id=plan.pk, day=asked)
        if as_of is None:
            raise BriefingDateError(
                _("No status of this plan was computed on or before %(date)s.") % {"date": asked.isoformat()}
            )
    reference = as_of or today
    since = previous_month_end(reference)
    compared_with = snapshot_day_on_or_before(plan_id=plan.pk, day=since)

    stored = selectors.plan_snapshot_get(plan_id=plan.pk, as_of=as_of) if as_of else plan
    status = stored.status if stored else ""
    why = explain_as_of(
        as_of,
        explanation=stored and stored.explanation,
        status=status,
        score=stored and stored.score,
        progress=stored and stored.progress,
    )
    focus_areas = list(selectors.dashboard_focus_area_list(plan_id=plan.pk, as_of=as_of))
    goals = list(selectors.dashboard_goal_list(plan_id=plan.pk, as_of=as_of, explained=False))
    kpis = list(selectors.dashboard_kpi_list(plan_id=plan.pk, as_of=as_of))
    milestones = list(selectors.dashboard_milestone_list(plan_id=plan.pk, as_of=as_of, explained=False))
    measurements = _measurement_map(plan.pk)
    kpi_rows = []
    for kpi in kpis:
        chart = charts.kpi_chart(
            kpi=kpi, measurements=measurements.get(kpi.pk, []), as_of=as_of, forecast=kpi.as_of_forecast, compact=True
        )
        kpi_rows.append(
            {
                "kpi": kpi,
                "outcome": kpi_outcome(kpi, as_of, today),
                "chart": kpi_chart_svg(chart, title=f"{kpi.code} {kpi.tr.name}"),
            }
        )
    figures, figures_more = _figures(plan, since, reference)
    items = {
        ItemType.FOCUS_AREA: focus_areas,
        ItemType.GOAL: goals,
        ItemType.KPI: kpis,
        ItemType.MILESTONE: milestones,
    }
    return Briefing(
        plan=plan,
        asked=asked,
        as_of=as_of,
        reference=reference,
        since=since,
        compared_with=compared_with,
        status=status,
        why=why,
        counts=_status_counts(selectors.plan_status_counts(plan=plan, as_of=as_of)),
        focus_areas=[(fa, explain_item(fa, as_of)) for fa in focus_areas],
        kpi_rows=kpi_rows,
        overdue=[m for m in milestones if m.as_of_status == Status.OVERDUE],
        changes=_changes(plan, compared_with, items, status),
        figures=figures,
        figures_more=figures_more,
        is_demo="demo data" in plan.description.lower(),
    )


def _css_text(text: str) -> str:
    """``text`` as a CSS string, its ``%(page)s`` and ``%(pages)s`` turned into the page counters."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ") + '"'
    return quoted.replace("%(page)s", '" counter(page) "').replace("%(pages)s", '" counter(pages) "')


def briefing_html(briefing: Briefing) -> str:
    """The briefing's HTML in the active language (what ``briefing_pdf`` prints)."""
    context = {
        "b": briefing,
        "plan": briefing.plan,
        "item_type_labels": [ItemType(kind).label for kind in ITEM_TYPES],
    }
    return render_to_string(TEMPLATE, context)


def briefing_pdf(briefing: Briefing) -> bytes:
    """The briefing as a PDF, in the active language. Raises ``BriefingUnavailable`` without WeasyPrint."""
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as error:  # OSError: the package is there, Pango is not
        logger.warning("The PDF briefing cannot be rendered: %s", error)
        raise BriefingUnavailable(str(error)) from error
    # The page footer: a CSS ``content`` value, so the translated words travel around the page counters.
    footer_text = _css_text(_("Page %(page)s of %(pages)s"))
    footer = CSS(string="@page { @bottom-center { content: " + footer_text + "; } }")
    stylesheet = CSS(filename=finders.find(STYLESHEET))
    return HTML(string=briefing_html(briefing)).write_pdf(stylesheets=[stylesheet, footer])


def plans_to_brief(*, month_end: datetime.date):
    """The plans the monthly briefing covers for the month ending ``month_end``: those whose period overlaps it,
    drafts left out (a closed plan's last month is still briefed)."""
    month_start = month_end.replace(day=1)
    plans = Plan.objects.filter(start_date__lte=month_end, end_date__gte=month_start).exclude(state=PlanState.DRAFT)
    return plans.order_by("pk")
