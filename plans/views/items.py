"""The one page of each KPI and each milestone: status and its "Why?", chart, logs, and the way to update it.

The page lives under its plan's dashboard (``/plans/<slug>/kpis/<code>/``, ``/plans/<slug>/milestones/<pk>/``)
and honours ``?as_of=`` as the dashboards do; the staff addresses of before (``/kpis/<pk>/``,
``/milestones/<pk>/``) answer 301 to it with their query string. Everyone signed in reads it; the link to
the update form shows to those who may update the item (plans.permissions), and the form checks again.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from .. import charts, completeness, period_targets, selectors
from ..choices import ItemType, MeasurementSource
from ..explain import explain_item
from ..models import KPI, Milestone
from ..permissions import can_record_measurement, can_update
from .dashboard import AsOf, as_of_read, page_context
from .pagecache import plan_page
from .zones import breakdown_context, units_fact


def item_url(item: KPI | Milestone) -> str:
    """The address of the item's page (``item.plan`` is read: load it with the item)."""
    if isinstance(item, KPI):
        return reverse("plans:dashboard_kpi", args=[item.plan.slug, item.code])
    return reverse("plans:dashboard_milestone", args=[item.plan.slug, item.pk])


def item_or_404(loader, pk: int) -> KPI | Milestone:
    """``loader(pk)`` (a ``*_for_page`` selector), or 404."""
    try:
        return loader(pk)
    except (Milestone.DoesNotExist, KPI.DoesNotExist):
        raise Http404 from None


def _status_history(item_type: str, item_id: int, as_of: AsOf) -> list:
    """The item's month-end snapshots, and the as-of day's when that is not a month end."""
    dates = [*as_of.month_ends, *([as_of.date] if as_of.date else [])]
    return selectors.item_snapshot_history(item_type=item_type, item_id=item_id, dates=dates)


@login_required
@require_safe
def kpi_detail(request, slug, code):
    return plan_page(
        request,
        slug,
        "kpi",
        lambda plan: _kpi_page(request, plan, code),
        item=code,
        per_viewer=True,
        extra_facts=(units_fact(request.user),),
    )


# The newest measurements a KPI's page lists (two years of monthly figures), before "Show all".
MEASUREMENT_LOG_ROWS = 24


def _kpi_page(request, plan, code) -> tuple[str, dict]:
    as_of = as_of_read(request, plan)
    kpi = get_object_or_404(selectors.dashboard_kpi_list(plan_id=plan.pk, as_of=as_of.date), code=code)
    # The page lists the newest measurements with every change to each; all of them on request (the chart and the
    # planned comparison read every value either way).
    all_rows = request.GET.get("measurements") == "all"
    measurements = selectors.kpi_measurement_log(kpi_id=kpi.pk, newest=None if all_rows else MEASUREMENT_LOG_ROWS)
    newest_first = measurements[::-1]
    log = newest_first if all_rows else newest_first[:MEASUREMENT_LOG_ROWS]
    # The row behind the latest figure (the latest recorded on its date), to say when it was entered.
    latest = next((m for m in reversed(measurements) if m.date == kpi.as_of_latest_date), None)
    targets = period_targets.kpi_period_targets(kpi_id=kpi.pk)
    context = page_context(request, plan, as_of) | {
        "kpi": kpi,
        "why": explain_item(kpi, as_of.date),
        "measurements": measurements,
        "log": log,  # newest first
        "log_hidden": len(measurements) - len(log),
        "latest_recorded_at": latest.recorded_at if latest else None,
        "latest_derived": latest is not None and latest.source == MeasurementSource.DERIVED,
        "history": _status_history(ItemType.KPI, kpi.pk, as_of),
        "chart": charts.kpi_chart(
            kpi=kpi, measurements=measurements, as_of=as_of.date, forecast=kpi.as_of_forecast, period_targets=targets
        ),
        "planned": period_targets.planned_comparison(kpi, measurements, targets),
        "can_update": not plan.is_closed and can_record_measurement(request.user, kpi),  # closed: final
    }
    # The "By zone" section (plans/zones/_breakdown.html), for a KPI derived from the zones.
    context |= breakdown_context(request, plan, kpi, as_of)
    return f"{kpi.code} {kpi.tr.name}", context


@login_required
@require_safe
def milestone_detail(request, slug, pk):
    return plan_page(
        request, slug, "milestone", lambda plan: _milestone_page(request, plan, pk), item=pk, per_viewer=True
    )


def _milestone_page(request, plan, pk) -> tuple[str, dict]:
    as_of = as_of_read(request, plan)
    milestone = get_object_or_404(selectors.dashboard_milestone_list(plan_id=plan.pk, as_of=as_of.date), pk=pk)
    context = page_context(request, plan, as_of) | {
        "milestone": milestone,
        "why": explain_item(milestone, as_of.date),
        "log": list(selectors.milestone_progress_log(milestone_id=milestone.pk)),
        "months": completeness.milestone_months(plan=plan, today=timezone.localdate(), milestones=[milestone]),
        "history": _status_history(ItemType.MILESTONE, milestone.pk, as_of),
        "can_update": not plan.is_closed and can_update(request.user, milestone),
    }
    return milestone.tr.title, context


def _moved(loader):
    """A view answering a former item address with a permanent redirect to the item's page, query string kept."""

    @login_required
    @require_safe
    def view(request, pk: int):
        url = item_url(item_or_404(loader, pk))
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)

    return view


kpi_moved = _moved(selectors.kpi_for_page)
milestone_moved = _moved(selectors.milestone_for_page)
