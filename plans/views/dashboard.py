"""Manager dashboards: the plan overview, focus area and goal pages, the as-of date, table exports.

Pages read stored statuses only (``plan_recompute`` writes them); a past as-of date reads that
day's StatusSnapshot rows instead. Every read is a selector issuing a fixed number of queries.
Both roles see every dashboard; anonymous visitors are sent to sign in. The KPI and milestone
pages under a plan (plans.views.items) share the as-of date and page context defined here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_safe

from .. import charts, completeness, exports, selectors, tallies
from ..choices import ItemType, Status
from ..dates import PERIOD_GRACE, month_ends_among, month_ends_between
from ..explain import explain_as_of, explain_item, fmt_percent
from ..filtersets import GoalFilterSet, KPIFilterSet, MilestoneFilterSet
from ..pagination import CountedPaginator, KeysFirstPaginator
from ..permissions import is_manager_lazy
from ..recompute import STATUSES_STALE_AFTER
from ..templatetags.dashboard import ITEM_PAGES
from .pagecache import plan_page

KPI_PAGE_SIZE = 25
# The children a "Why?" panel lists on a page unless the reader asks for all of them (``?why=all``).
WHY_CHILDREN_SHOWN = 25
GOAL_PAGE_SIZE = 25  # as the KPI and milestone tables: the cold page renders what one screen reads
MILESTONE_PAGE_SIZE = 25
# Shown in the dashboard's milestone table unless the status filter asks for another status.
ATTENTION_STATUSES = (Status.OVERDUE, Status.OFF_TRACK, Status.AT_RISK)
DEMO_MARKER = "demo data"


@dataclass
class AsOf:
    """The date the pages show: None for the stored (current) statuses, or a snapshot date.

    ``asked`` is the day the reader picked when it has no snapshot of its own: the pages then show the latest
    snapshot before it (``date``) and say so. ``error`` says why the reader's date was refused.
    """

    date: datetime.date | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    rejected: str = ""
    month_ends: list[datetime.date] = field(default_factory=list)
    asked: datetime.date | None = None
    error: str = ""
    earliest: datetime.date | None = None
    latest: datetime.date | None = None

    @property
    def param(self) -> str:
        day = self.asked or self.date
        return day.isoformat() if day else ""

    @property
    def query(self) -> str:
        """The query string that carries the date into drill-down links."""
        return f"?as_of={self.param}" if self.date else ""

    @property
    def label(self) -> str:
        return date_format(self.date, "DATE_FORMAT") if self.date else _("now")

    @property
    def quick_picks(self) -> list[tuple[str, str]]:
        """The month ends with snapshots, newest first, as ``(value, label)``."""
        return [(value, label) for value, label in self.choices if value]


def as_of_read(request, plan) -> AsOf:
    """Read ``?as_of=YYYY-MM-DD``: any day from the plan's start to today (or its end and grace, when earlier).

    A day without a snapshot of its own shows the latest snapshot before it; a date that is not one, or outside
    that range, or before the first snapshot, is refused with a message that says why, and the page shows now.
    """
    raw = request.GET.get("as_of", "").strip()
    today = timezone.localdate()
    earliest, latest = plan.start_date, min(today, plan.end_date + PERIOD_GRACE)
    try:
        day = datetime.date.fromisoformat(raw) if raw else None
    except ValueError:
        day = None
    in_range = day is not None and earliest <= day <= latest and day != today
    # Asked about the plan's month ends and the requested day only: a scan of every snapshot date
    # would read the whole daily history.
    candidates = month_ends_between(plan.start_date, plan.end_date + PERIOD_GRACE)
    dates = selectors.plan_snapshot_days(plan_id=plan.pk, among=candidates, latest_by=day if in_range else None)
    ends = month_ends_among(dates, start=plan.start_date, end=plan.end_date)
    choices = [("", _("Now"))] + [
        (d.isoformat(), _("End of %(month)s") % {"month": date_format(d, "YEAR_MONTH_FORMAT")}) for d in reversed(ends)
    ]
    found = AsOf(choices=choices, month_ends=ends, earliest=earliest, latest=latest)
    if not raw or day == today:
        return found
    bounds = {"start": date_format(earliest, "DATE_FORMAT"), "end": date_format(latest, "DATE_FORMAT")}
    if day is None:
        found.rejected = raw
        found.error = _("“%(value)s” is not a date. Enter one as YYYY-MM-DD, from %(start)s to %(end)s.") % {
            "value": raw,
            **bounds,
        }
        return found
    if not in_range:
        found.rejected = raw
        found.error = _("%(day)s is outside the dates this plan can show. Pick one from %(start)s to %(end)s.") % {
            "day": date_format(day, "DATE_FORMAT"),
            **bounds,
        }
        return found
    shown = max((d for d in dates if d <= day), default=None)
    if shown is None:
        found.rejected = raw
        found.error = _("No status had been computed by %(day)s.") % {"day": date_format(day, "DATE_FORMAT")}
        return found
    found.date = shown
    found.asked = day if shown != day else None
    return found


def _is_demo(plan) -> bool:
    return DEMO_MARKER in plan.description.lower()


def page_context(request, plan, as_of: AsOf) -> dict:
    """What every page under a plan's dashboard shows: the plan, the as-of date and the banners.

    ``today`` is the reference date of the current view: past a KPI's target date the pages show its
    final figure (or that it is overdue) instead of a forecast (plans.explain.kpi_outcome).
    """
    stale_before = timezone.now() - STATUSES_STALE_AFTER
    today = timezone.localdate()
    return {
        "plan": plan,
        "as_of": as_of,
        "is_demo": _is_demo(plan),
        "stale_before": stale_before,
        "today": today,
        "closure": selectors.plan_closure(plan=plan, today=today),
        "final_report": selectors.plan_final_report(plan=plan, today=today) if plan.is_closed else None,
        # Managers see why statuses are out of date (a failing recompute), staff only that they may be.
        "viewer_is_manager": is_manager_lazy(request.user),
    }


def why_shown(request, why):
    """A page's "Why?" with its first ``WHY_CHILDREN_SHOWN`` children, or every one when the reader asked."""
    return why if request.GET.get("why") == "all" else why.shown(WHY_CHILDREN_SHOWN)


def dashboard_tables(plan, as_of: AsOf, data, *, explained: bool = True):
    """The filtered KPI and milestone querysets of the dashboard (the exports write the same rows).

    The milestone table lists overdue, off-track and at-risk milestones unless the status filter
    picks a status, in which case it lists the milestones in that status. ``explained=False`` leaves
    out the ``as_of_explanation`` the pages' "Why?" panels need and the exports do not.
    """
    listed = {"plan_id": plan.pk, "as_of": as_of.date, "explained": explained}
    kpi_filter = KPIFilterSet(data, selectors.dashboard_kpi_list(**listed), plan=plan)
    milestone_filter = MilestoneFilterSet(data, selectors.dashboard_milestone_list(**listed), plan=plan)
    milestones = milestone_filter.qs
    attention_only = not (milestone_filter.form.is_valid() and milestone_filter.form.cleaned_data.get("status"))
    if attention_only:
        milestones = selectors.in_status_as_of(
            milestones, item_type=ItemType.MILESTONE, plan_id=plan.pk, as_of=as_of.date, statuses=ATTENTION_STATUSES
        )
    return kpi_filter, milestones, attention_only


def filter_scope(item_filter) -> selectors.ItemScope:
    """The filters of the form, as the page's other blocks (tiles, cards, trend) apply them: those that are valid,
    as django-filter filters the tables by the valid fields of a form with an invalid one."""
    item_filter.form.is_valid()
    data = getattr(item_filter.form, "cleaned_data", {})
    return selectors.ItemScope(
        focus_area_id=getattr(data.get("focus_area"), "pk", None),
        team_id=getattr(data.get("owner_team"), "pk", None),
        status=data.get("status") or "",
    )


def area_matches(breakdown: list[dict]) -> dict[int, list[dict]]:
    """``{focus area id: [{"item_type", "n", "text"}]}``: the matching goals, KPIs and milestones of each area."""
    totals: dict[int, dict[str, int]] = {}
    for row in breakdown:
        if row["item_type"] != ItemType.FOCUS_AREA:
            kinds = totals.setdefault(row["area"], {})
            kinds[row["item_type"]] = kinds.get(row["item_type"], 0) + row["n"]
    order = [ItemType.GOAL, ItemType.KPI, ItemType.MILESTONE]
    return {
        area: [{"item_type": str(k), "n": kinds[k], "text": _count_text(k, kinds[k])} for k in order if kinds.get(k)]
        for area, kinds in totals.items()
    }


def _count_text(item_type: str, n: int) -> str:
    texts = {
        ItemType.FOCUS_AREA: ngettext("%(count)d focus area", "%(count)d focus areas", n),
        ItemType.GOAL: ngettext("%(count)d goal", "%(count)d goals", n),
        ItemType.KPI: ngettext("%(count)d KPI", "%(count)d KPIs", n),
        ItemType.MILESTONE: ngettext("%(count)d milestone", "%(count)d milestones", n),
    }
    return texts.get(item_type, "%(count)d") % {"count": n}


def _headline(rows: list[dict]) -> list[dict]:
    """Status tiles, worst first: items per status and the breakdown by item type."""
    kinds = [ItemType.FOCUS_AREA, ItemType.GOAL, ItemType.KPI, ItemType.MILESTONE]
    tiles: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: kinds.index(r["item_type"]) if r["item_type"] in kinds else len(kinds)):
        tile = tiles.setdefault(row["status"] or "", {"status": row["status"] or "", "total": 0, "kinds": {}})
        tile["total"] += row["n"]
        tile["kinds"][row["item_type"]] = tile["kinds"].get(row["item_type"], 0) + row["n"]
    for tile in tiles.values():  # rows come per focus area under a filter: one part per kind
        tile["parts"] = [{"item_type": str(k), "n": n, "text": _count_text(k, n)} for k, n in tile["kinds"].items()]
    order = [str(s) for s in charts.TREND_ORDER]
    return sorted(tiles.values(), key=lambda t: order.index(t["status"]) if t["status"] in order else len(order))


@login_required
def plan_dashboard(request, slug):
    return plan_page(request, slug, "plan", lambda plan: (_("Dashboard"), _dashboard_context(request, plan)))


def _panel_scope(request, plan, as_of: AsOf) -> selectors.ItemScope:
    """The dashboard's filters as its fetched panels apply them, like its tiles and cards (filter_scope)."""
    kpi_filter, _milestones, _attention_only = dashboard_tables(plan, as_of, request.GET, explained=False)
    return filter_scope(kpi_filter)


def _dashboard_context(request, plan) -> dict:
    as_of = as_of_read(request, plan)
    data = request.GET
    # The rows' "Why?" panels load on demand (why_fragment): the tables leave the explanations out.
    kpi_filter, milestones, attention_only = dashboard_tables(plan, as_of, data, explained=False)
    goals = selectors.dashboard_goal_list(plan_id=plan.pk, as_of=as_of.date, explained=False)
    goal_filter = GoalFilterSet(data, goals, plan=plan)

    scope = filter_scope(kpi_filter)
    focus_areas = selectors.dashboard_focus_area_list(plan_id=plan.pk, as_of=as_of.date, explained=False)
    if scope.focus_area_id:
        focus_areas = focus_areas.filter(pk=scope.focus_area_id)
    if scope.active:
        breakdown = selectors.plan_status_breakdown(plan_id=plan.pk, as_of=as_of.date, scope=scope)
        matches = area_matches(breakdown)
        # Under a filter, the cards of the focus areas that hold matching items (and the one picked).
        areas = [fa for fa in focus_areas if fa.pk in matches or fa.pk == scope.focus_area_id]
    else:
        breakdown = selectors.plan_status_counts(plan=plan, as_of=as_of.date)
        matches, areas = {}, list(focus_areas)

    # Now the plan's own fields; at a past date its snapshot's, which has the same four (or None).
    stored = selectors.plan_snapshot_get(plan_id=plan.pk, as_of=as_of.date) if as_of.date else plan
    plan_status = stored.status if stored else ""
    plan_why = explain_as_of(
        as_of.date,
        explanation=stored and stored.explanation,
        status=plan_status,
        score=stored and stored.score,
        progress=stored and stored.progress,
    )

    # Unfiltered and now, the tables' counts are the plan's stored tallies (plans.tallies) when they are current.
    totals = None if scope.active or as_of.date else tallies.stored_totals(plan)

    def total(item_type, statuses=None) -> int | None:
        if totals is None:
            return None
        counts = totals.get(str(item_type), {})
        return sum(n for status, n in counts.items() if statuses is None or status in statuses)

    milestone_total = total(ItemType.MILESTONE, ATTENTION_STATUSES) if attention_only else None
    context = page_context(request, plan, as_of) | {
        "plan_status": plan_status,
        "plan_why": why_shown(request, plan_why),
        "filter_form": kpi_filter.form,
        "active_filters": kpi_filter.active,
        "scope": scope,
        "headline": _headline(breakdown),
        # A card shows the coverage of its "Why?" alone; the panel itself loads on demand (why_fragment).
        "focus_areas": [(fa, fmt_percent(fa.as_of_coverage), matches.get(fa.pk, [])) for fa in areas],
        "goals": KeysFirstPaginator(goal_filter.qs, GOAL_PAGE_SIZE, count=total(ItemType.GOAL)).get_page(
            request.GET.get("goal_page")
        ),
        "kpis": KeysFirstPaginator(kpi_filter.qs, KPI_PAGE_SIZE, count=total(ItemType.KPI)).get_page(
            request.GET.get("kpi_page")
        ),
        "milestones": CountedPaginator(milestones, MILESTONE_PAGE_SIZE, count=milestone_total).get_page(
            request.GET.get("milestone_page")
        ),
        "milestones_attention_only": attention_only,
        # The heavy panels (who hasn't reported, the status trend) are fetched apart: dashboard_panel.
        "panels": DASHBOARD_PANELS,
    }
    return context


def _trend_panel(request, plan, as_of: AsOf) -> dict:
    """The status trend at each month end (templates/plans/dashboard/_trend.html)."""
    dates = as_of.month_ends
    scope = _panel_scope(request, plan, as_of)
    rows = selectors.plan_status_trend(plan_id=plan.pk, dates=dates, scope=scope) if dates else []
    return {"trend": charts.status_trend(rows, dates=dates) if dates else None, "scope": scope}


def _not_reported_panel(request, plan, as_of: AsOf) -> dict:
    """Who hasn't reported (templates/plans/dashboard/_not_reported.html), narrowed by the dashboard's filters."""
    scope = _panel_scope(request, plan, as_of)
    panel = completeness.not_reported_panel(
        plan=plan, today=timezone.localdate(), focus_area_id=scope.focus_area_id, team_id=scope.team_id
    )
    return {"not_reported": panel}


# The dashboard's panels that cost most of its render (reading the snapshot history, or every KPI's arrivals of
# the current period): each is a page of its own, cached like the others and fetched once the dashboard is shown
# (static/js/dashboard.js), so the dashboard's cold render waits for neither. Name: (template, context, title).
DASHBOARD_PANELS = {
    "not-reported": ("plans/dashboard/_not_reported.html", _not_reported_panel, gettext_lazy("Who hasn't reported")),
    "trend": ("plans/dashboard/_trend.html", _trend_panel, gettext_lazy("Status trend at each month end")),
}
# Sent by the dashboard's script when it fetches a panel: the answer is the panel alone, not a page around it.
PANEL_HEADER = "X-Dashboard-Panel"


@login_required
@require_safe
def dashboard_panel(request, slug, name):
    """One of the dashboard's panels (``DASHBOARD_PANELS``), with the dashboard's as-of date and filters.

    Fetched by the dashboard's script it is the panel alone; opened as a link (without JavaScript) it is a page.
    """
    if name not in DASHBOARD_PANELS:
        raise Http404
    fragment = request.headers.get(PANEL_HEADER) == "1"
    template, build, title = DASHBOARD_PANELS[name]

    def panel(plan):
        as_of = as_of_read(request, plan)
        # The panel alone needs the plan and the date; its page has the banners of every page under the plan.
        context = {"plan": plan, "as_of": as_of} if fragment else page_context(request, plan, as_of)
        return title, context | {"panel_template": template, "title": title, **build(request, plan, as_of)}

    page = "panel_fragment" if fragment else "panel"
    return plan_page(request, slug, page, panel, item=name, fragment=fragment)


@login_required
def focus_area_detail(request, slug, code):
    return plan_page(request, slug, "focus_area", lambda plan: _focus_area_page(request, plan, code), item=code)


def _focus_area_page(request, plan, code) -> tuple[str, dict]:
    as_of = as_of_read(request, plan)
    focus_area = get_object_or_404(selectors.dashboard_focus_area_list(plan_id=plan.pk, as_of=as_of.date), code=code)
    listed = {"plan_id": plan.pk, "as_of": as_of.date, "explained": False}  # the rows' "Why?" loads on demand
    goals = selectors.dashboard_goal_list(**listed).filter(focus_area=focus_area)
    kpis = selectors.dashboard_kpi_list(**listed).filter(goal__focus_area=focus_area)
    context = page_context(request, plan, as_of) | {
        "focus_area": focus_area,
        "why": why_shown(request, explain_item(focus_area, as_of.date)),
        "goals": KeysFirstPaginator(goals, GOAL_PAGE_SIZE).get_page(request.GET.get("goal_page")),
        "kpis": KeysFirstPaginator(kpis, KPI_PAGE_SIZE).get_page(request.GET.get("kpi_page")),
    }
    return f"{focus_area.code} {focus_area.tr.name}", context


# The rows whose "Why?" panel a table loads on demand: the selector of each kind, and how its key is matched.
WHY_ROWS = {
    "focus-area": (selectors.dashboard_focus_area_list, "code"),
    "goal": (selectors.dashboard_goal_list, "code"),
    "kpi": (selectors.dashboard_kpi_list, "code"),
    "milestone": (selectors.dashboard_milestone_list, "pk"),
}


@login_required
@require_safe
def why_fragment(request, slug, kind, key):
    """The inside of one table row's "Why?" panel (``{% lazy_why %}``), fetched when the panel is opened.

    Cached like the pages, by the plan's revisions, language and as-of date. The focus area's and goal's
    panels link to their page for the breakdown of their children, as the rows did.
    """
    if kind not in WHY_ROWS or (WHY_ROWS[kind][1] == "pk" and not key.isdigit()):
        raise Http404
    return plan_page(
        request,
        slug,
        "why_fragment",
        lambda plan: _why_fragment(request, plan, kind, key),
        item=f"{kind}:{key}",
        fragment=True,
    )


def _why_fragment(request, plan, kind, key) -> tuple[str, dict]:
    as_of = as_of_read(request, plan)
    selector, field_name = WHY_ROWS[kind]
    item = get_object_or_404(selector(plan_id=plan.pk, as_of=as_of.date), **{field_name: key})
    more = ""
    if kind in ("focus-area", "goal"):
        more = reverse(ITEM_PAGES[kind], args=[plan.slug, key]) + as_of.query
    return "", {"why": explain_item(item, as_of.date), "more": more}


@login_required
def goal_detail(request, slug, code):
    return plan_page(request, slug, "goal", lambda plan: _goal_page(request, plan, code), item=code)


def _goal_page(request, plan, code) -> tuple[str, dict]:
    as_of = as_of_read(request, plan)
    goal = get_object_or_404(selectors.dashboard_goal_list(plan_id=plan.pk, as_of=as_of.date), code=code)
    kpis = list(selectors.dashboard_kpi_list(plan_id=plan.pk, as_of=as_of.date).filter(goal=goal))
    milestones = list(selectors.dashboard_milestone_list(plan_id=plan.pk, as_of=as_of.date).filter(goal=goal))
    measurements = selectors.goal_kpi_measurement_map(goal_id=goal.pk)
    kpi_rows = [
        {
            "kpi": kpi,
            "chart_id": f"kpi-chart-{kpi.pk}",
            "chart": charts.kpi_chart(
                kpi=kpi,
                measurements=measurements.get(kpi.pk, []),
                as_of=as_of.date,
                forecast=kpi.as_of_forecast,
                compact=True,
            ),
        }
        for kpi in kpis
    ]
    context = page_context(request, plan, as_of) | {
        "goal": goal,
        "why": why_shown(request, explain_item(goal, as_of.date)),
        "kpi_rows": kpi_rows,
        "timeline": _timeline(plan, goal, milestones, as_of),
    }
    return f"{goal.code} {goal.tr.title}", context


def _timeline(plan, goal, milestones, as_of: AsOf) -> dict:
    """Bars placed as percentages of the plan's period, and the as-of marker."""
    start, end = plan.start_date, plan.end_date
    span = max((end - start).days, 1)

    def at(day):
        return round(min(max((day - start).days / span, 0.0), 1.0) * 100, 2)

    rows = []
    for m in milestones:
        begin = m.start_date or goal.start_date or start
        left = at(begin)
        # At a past date the snapshot's progress, not today's percentage.
        done = round((m.as_of_progress or 0) * 100)
        rows.append(
            {"milestone": m, "start": begin, "left": left, "width": max(at(m.due_date) - left, 1.0), "done": done}
        )
    today = as_of.date or timezone.localdate()
    ticks, month = [], datetime.date(start.year, start.month, 1)
    while month <= end:
        if month >= start:
            ticks.append({"left": at(month), "label": date_format(month, "M" if span <= 400 else "M Y")})
        month = datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {"rows": rows, "marker": at(today) if start <= today <= end else None, "marker_date": today, "ticks": ticks}


@login_required
def dashboard_export(request, slug, table, fmt):
    """The dashboard's KPI or milestone table (all pages) as CSV or XLSX, with as-of and filters."""
    plan = selectors.dashboard_plan_get(slug=slug)
    as_of = as_of_read(request, plan)
    kpi_filter, milestones, attention_only = dashboard_tables(plan, as_of, request.GET, explained=False)
    if table == "kpis":
        header, rows = exports.kpi_table(kpi_filter.qs, as_of=as_of.date)
        title = _("KPIs")
    elif table == "milestones":
        header, rows = exports.milestone_table(milestones)
        title = _("Milestones")
    else:
        raise Http404
    meta = exports.meta_rows(
        plan=plan,
        as_of=as_of.date,
        filters=kpi_filter.active,
        notice=_("Illustrative demo data.") if _is_demo(plan) else "",
        table_note=_("Milestones that are overdue, off track or at risk.")
        if table == "milestones" and attention_only
        else "",
    )
    stem = f"{plan.slug}-{table}-{as_of.param or 'now'}"
    if fmt == "csv":
        # Written while it is sent, after this view returns: in the request's language, whatever runs next.
        chunks = _in_language(translation.get_language(), exports.csv_chunks(meta=meta, header=header, rows=rows))
        response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = FileResponse(
            exports.to_xlsx(title=title, meta=meta, header=header, rows=rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response


def _in_language(language: str, chunks):
    with translation.override(language):
        yield from chunks
