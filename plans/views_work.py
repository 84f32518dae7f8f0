"""Staff pages: "My work", the milestone and KPI pages with their history, and the two update forms.

Every view needs a signed-in user; the update views also check on the server, for GET and POST alike,
that the user may update the item (plans.permissions), so a forged post for another team's item is
refused with 403 before anything is parsed.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from . import roles, selectors
from .forms import MeasurementForm, MilestoneUpdateForm
from .models import KPI, Milestone, Plan
from .permissions import ensure_can_update

BUCKET_LABELS = {
    selectors.OVERDUE: gettext_lazy("Overdue"),
    selectors.DUE_SOON: gettext_lazy("Due in the next 30 days"),
    selectors.STALE: gettext_lazy("Stale KPIs: no measurement within their reporting frequency"),
    selectors.OTHER: gettext_lazy("Everything else"),
}


def _get(loader, pk):
    try:
        return loader(pk)
    except (Milestone.DoesNotExist, KPI.DoesNotExist):
        raise Http404 from None


def _status_phrase(item) -> str:
    """The item's status once the recompute after this save has run, or a note that it is still queued."""
    plan = Plan.objects.only("data_revision", "computed_revision").get(pk=item.plan_id)
    if plan.needs_recompute:  # queued for a worker (REDIS_URL set), or the enqueue failed
        return _("The status is being recomputed and will show here shortly.")
    item.refresh_from_db(fields=["status"])
    return _("Status: %(status)s.") % {"status": item.get_status_display() or _("Not computed")}


@login_required
@require_safe
def my_work(request):
    today = timezone.localdate()
    items = selectors.my_work_items(request.user, today)
    sections = [
        {"key": key, "label": label, "items": [item for item in items if item.bucket == key]}
        for key, label in BUCKET_LABELS.items()
    ]
    return render(
        request,
        "plans/work/my_work.html",
        {
            "sections": [section for section in sections if section["items"]],
            "count": len(items),
            "today": today,
            "has_teams": request.user.teams.exists(),
        },
    )


@login_required
@require_safe
def milestone_detail(request, pk: int):
    milestone = _get(selectors.milestone_for_page, pk)
    return render(
        request,
        "plans/work/milestone_detail.html",
        {
            "milestone": milestone,
            "history": selectors.milestone_history(milestone),
            "can_update": roles.can_update(request.user, milestone),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def milestone_update(request, pk: int):
    milestone = _get(selectors.milestone_for_page, pk)
    ensure_can_update(request.user, milestone)
    latest = None
    if request.method == "POST":
        form = MilestoneUpdateForm(request.POST, item=milestone)
        if form.is_valid() and (update := form.save(user=request.user)):
            summary = _("Progress saved: %(percent)s%% · %(state)s.") % {
                "percent": update.percent_complete,
                "state": update.get_state_display(),
            }
            messages.success(request, f"{summary} {_status_phrase(milestone)}")
            return redirect("plans:milestone_detail", pk=milestone.pk)
        if form.conflict:
            form = form.rebased()
            milestone = _get(selectors.milestone_for_page, pk)
            latest = selectors.milestone_history(milestone).first()
    else:
        form = MilestoneUpdateForm(item=milestone)
    return render(
        request,
        "plans/work/milestone_update.html",
        {"milestone": milestone, "form": form, "conflict": form.conflict, "latest": latest},
        status=409 if form.conflict else 200,
    )


@login_required
@require_safe
def kpi_detail(request, pk: int):
    kpi = _get(selectors.kpi_for_page, pk)
    return render(
        request,
        "plans/work/kpi_detail.html",
        {"kpi": kpi, "history": selectors.kpi_history(kpi), "can_update": roles.can_update(request.user, kpi)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def measurement_create(request, pk: int):
    kpi = _get(selectors.kpi_for_page, pk)
    ensure_can_update(request.user, kpi)
    latest = None
    if request.method == "POST":
        form = MeasurementForm(request.POST, item=kpi)
        if form.is_valid() and (result := form.save(user=request.user)):
            measurement = result.measurement
            if result.outcome == "unchanged":
                messages.info(request, _("Nothing changed: this value was already recorded for that date."))
            else:
                summary = _("Measurement saved: %(value)s %(unit)s on %(date)s.") % {
                    "value": formats.number_format(measurement.value, use_l10n=True),
                    "unit": kpi.unit,
                    "date": formats.date_format(measurement.date, "DATE_FORMAT"),
                }
                messages.success(request, f"{summary} {_status_phrase(kpi)}")
            return redirect("plans:kpi_detail", pk=kpi.pk)
        if form.conflict:
            form = form.rebased()
            kpi = _get(selectors.kpi_for_page, pk)
            latest = selectors.kpi_history(kpi).first()
    else:
        form = MeasurementForm(item=kpi)
    return render(
        request,
        "plans/work/measurement_form.html",
        {"kpi": kpi, "form": form, "conflict": form.conflict, "latest": latest},
        status=409 if form.conflict else 200,
    )
