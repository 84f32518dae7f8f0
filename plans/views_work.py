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

from . import selectors
from .forms import MeasurementForm, MilestoneUpdateForm
from .models import KPI, Milestone, Plan
from .permissions import can_update, ensure_can_update

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
            "can_update": can_update(request.user, milestone),
        },
    )


def _update_page(request, pk, *, loader, history, form_class, template, name, on_saved):
    """GET shows the form; POST saves through the form's service and redirects with ``on_saved``'s message.

    A stale version is answered 409 with the newer values and the latest history entry, keeping what the
    user typed (``form.rebased()``); any other invalid post re-renders the form. Nothing is written unless
    the form is valid and current.
    """
    item = _get(loader, pk)
    ensure_can_update(request.user, item)
    latest = None
    if request.method == "POST":
        form = form_class(request.POST, item=item)
        if form.is_valid() and (saved := form.save(user=request.user)):
            level, message = on_saved(item, saved)
            messages.add_message(request, level, message)
            return redirect(f"plans:{name}_detail", pk=item.pk)
        if form.conflict:
            form = form.rebased()
            item = _get(loader, pk)
            latest = history(item).first()
    else:
        form = form_class(item=item)
    context = {name: item, "form": form, "conflict": form.conflict, "latest": latest}
    return render(request, template, context, status=409 if form.conflict else 200)


def _progress_saved(milestone, update):
    summary = _("Progress saved: %(percent)s%% · %(state)s.") % {
        "percent": update.percent_complete,
        "state": update.get_state_display(),
    }
    return messages.SUCCESS, f"{summary} {_status_phrase(milestone)}"


def _measurement_saved(kpi, result):
    if result.outcome == "unchanged":
        return messages.INFO, _("Nothing changed: this value was already recorded for that date.")
    summary = _("Measurement saved: %(value)s %(unit)s on %(date)s.") % {
        "value": formats.number_format(result.measurement.value, use_l10n=True),
        "unit": kpi.unit,
        "date": formats.date_format(result.measurement.date, "DATE_FORMAT"),
    }
    return messages.SUCCESS, f"{summary} {_status_phrase(kpi)}"


@login_required
@require_http_methods(["GET", "POST"])
def milestone_update(request, pk: int):
    return _update_page(
        request,
        pk,
        loader=selectors.milestone_for_page,
        history=selectors.milestone_history,
        form_class=MilestoneUpdateForm,
        template="plans/work/milestone_update.html",
        name="milestone",
        on_saved=_progress_saved,
    )


@login_required
@require_safe
def kpi_detail(request, pk: int):
    kpi = _get(selectors.kpi_for_page, pk)
    return render(
        request,
        "plans/work/kpi_detail.html",
        {"kpi": kpi, "history": selectors.kpi_history(kpi), "can_update": can_update(request.user, kpi)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def measurement_create(request, pk: int):
    return _update_page(
        request,
        pk,
        loader=selectors.kpi_for_page,
        history=selectors.kpi_history,
        form_class=MeasurementForm,
        template="plans/work/measurement_form.html",
        name="kpi",
        on_saved=_measurement_saved,
    )
