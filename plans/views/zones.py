"""The zone pages: a KPI's breakdown by province and zone (a section of the KPI page and its CSV/XLSX), the zones
index, a province's or zone's page, and the plan's zone x KPI heat map.

Zone reporters (plans.permissions.visible_units) see only their units: other zones' rows are left out and
other units' pages answer 404. Reads are in plans.breakdowns, a fixed number of queries whatever the number
of zones.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .. import breakdowns, exports, selectors
from ..choices import Aggregation, UnitLevel
from ..models import ReportingUnit
from ..permissions import visible_units
from .dashboard import AsOf, _in_language, as_of_read, page_context
from .pagecache import plan_page


def units_fact(user) -> tuple:
    """What of the viewer the zone sections depend on, for the page cache's key: the units it may see."""
    visible = visible_units(user)
    return ("all",) if visible is None else ("units", *sorted(visible))


def _sort_links(request, sort: str) -> dict[str, dict]:
    """Per column: the address that sorts by it (descending first, then ascending) and its aria-sort."""
    links = {}
    for key in breakdowns.SORT_KEYS:
        query = request.GET.copy()
        if sort == f"-{key}":
            query["sort"], aria = key, "descending"
        elif sort == key:
            query["sort"], aria = f"-{key}", "ascending"
        else:
            query["sort"], aria = (key if key == "name" else f"-{key}"), ""
        links[key] = {"href": f"?{query.urlencode()}#breakdown", "aria": aria}
    return links


def breakdown_context(request, plan, kpi, as_of) -> dict:
    """The KPI page's "By zone" section (``plans/zones/_breakdown.html``); nothing for a KPI reported nationally."""
    if kpi.aggregation == Aggregation.NONE:
        return {"breakdown": None}
    breakdown = breakdowns.kpi_breakdown(
        kpi, as_of=as_of.date, visible=visible_units(request.user), sort=request.GET.get("sort", "")
    )
    query = request.GET.urlencode()
    export = reverse("plans:kpi_breakdown_export", args=[plan.slug, kpi.code, "csv"])
    return {
        "breakdown": breakdown,
        "breakdown_sort": _sort_links(request, breakdown.sort),
        "breakdown_csv": f"{export}?{query}" if query else export,
        "breakdown_xlsx": (f"{export[:-3]}xlsx?{query}" if query else f"{export[:-3]}xlsx"),
    }


@login_required
@require_safe
def kpi_breakdown_export(request, slug, code, fmt):
    """The breakdown of the KPI page as CSV (streamed) or XLSX, with its as-of date and sort."""
    plan = selectors.dashboard_plan_get(slug=slug)
    as_of = as_of_read(request, plan)
    kpi = get_object_or_404(selectors.dashboard_kpi_list(plan_id=plan.pk, as_of=as_of.date, explained=False), code=code)
    if kpi.aggregation == Aggregation.NONE:
        raise Http404
    breakdown = breakdowns.kpi_breakdown(
        kpi, as_of=as_of.date, visible=visible_units(request.user), sort=request.GET.get("sort", "")
    )
    header, rows = exports.breakdown_table(breakdown)
    meta = exports.breakdown_meta(plan=plan, as_of=as_of.date, breakdown=breakdown)
    stem = f"{plan.slug}-{kpi.code}-zones-{as_of.param or 'now'}"
    if fmt == "csv":
        language = translation.get_language()
        response = StreamingHttpResponse(
            _in_language(language, exports.csv_chunks(meta=meta, header=header, rows=rows)),
            content_type="text/csv; charset=utf-8",
        )
    else:
        response = FileResponse(
            exports.to_xlsx(title=_("Zones"), meta=meta, header=header, rows=rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response


@login_required
@require_safe
def plan_zones(request, slug):
    """The dashboard's "Zones" view: zone x KPI statuses with each KPI's coverage, rows by province."""

    def build(plan):
        # Unit statuses are kept for now only (no snapshots): the view is always the current one.
        heatmap = breakdowns.zone_heatmap(plan=plan, visible=visible_units(request.user))
        return _("Zones"), page_context(request, plan, AsOf()) | {"heatmap": heatmap}

    return plan_page(request, slug, "zones", build, extra_facts=(units_fact(request.user),))


@login_required
@require_safe
def zones_index(request):
    """Every province with its zones (a zone reporter: its own)."""
    groups = breakdowns.province_groups(breakdowns.unit_register(visible=visible_units(request.user)))
    return render(request, "plans/zones/index.html", {"groups": groups, "title": _("Zones")})


@login_required
@require_safe
def unit_detail(request, code):
    """A zone's or a province's page: its KPIs with latest value, status and why, and what it has not reported."""
    visible = visible_units(request.user)
    try:
        unit = breakdowns.unit_for_page(code=code, visible=visible)
    except ReportingUnit.DoesNotExist:
        raise Http404 from None
    rows = breakdowns.unit_kpi_rows(unit)
    plans: dict[int, dict] = {}
    for row in rows:
        plans.setdefault(row.kpi.plan_id, {"plan": row.kpi.plan, "rows": []})["rows"].append(row)
    context = {
        "unit": unit,
        "is_zone": unit.level == UnitLevel.ZONE,
        "plans": list(plans.values()),
        "missing": [row for row in rows if not row.reported],
        "children": breakdowns.unit_children(unit, visible=visible),
        "title": unit.name,
    }
    return render(request, "plans/zones/unit.html", context)
