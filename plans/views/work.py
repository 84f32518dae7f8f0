"""Staff pages: "My work" and the two update forms (milestone progress, KPI measurement).

Every view needs a signed-in user; the update views also check on the server, for GET and POST alike,
that the user may update the item (plans.permissions), so a forged post for another team's item is
refused with 403 before anything is parsed. A save returns to the item's page (plans.views.items).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from .. import selectors
from ..choices import SubmissionState
from ..explain import status_label
from ..forms import MeasurementForm, MilestoneUpdateForm
from ..models import Plan, Submission
from ..permissions import ensure_can_record_measurement, ensure_can_update, teams_and_role, unit_scope
from .items import item_or_404, item_url
from .pagecache import all_plans_page

# Heading and one-line description of each "My work" bucket (plans.selectors.my_work_page decides the bucket).
BUCKETS = {
    selectors.NEEDS_FIGURE: (
        gettext_lazy("Needs a figure"),
        gettext_lazy(
            "KPIs whose latest figure is older than their reporting frequency allows, "
            "or whose target date has passed without a final figure."
        ),
    ),
    selectors.OFF_TRACK: (gettext_lazy("Off track, overdue or missed"), ""),
    selectors.AT_RISK: (gettext_lazy("At risk"), ""),
    selectors.ON_TRACK: (gettext_lazy("On track, done or not yet due"), ""),
}
NOT_COMPUTED_NOTE = gettext_lazy("Items whose status has not been computed yet are listed here too.")
# Rows of each bucket on "My work"; "show all" pages one bucket by SHOWN_PAGE_SIZE.
SECTION_ROWS = 25
SHOWN_PAGE_SIZE = 100
# Rows of the manager's lists of overdue milestones and missing figures (every plan; the dashboards list them all).
MANAGER_ROWS = 25


def _status_phrase(item) -> str:
    """The item's status once the recompute after this save has run, or a note that it is still queued."""
    plan = Plan.objects.only("data_revision", "computed_revision").get(pk=item.plan_id)
    if plan.needs_recompute:  # queued for a worker (REDIS_URL set), or the enqueue failed
        return _("The status is being recomputed and will show here shortly.")
    item.refresh_from_db(fields=["status"])
    return _("Status: %(status)s.") % {"status": status_label(item.status)}


@login_required
@require_safe
def my_work(request):
    """Cached per user: its teams' items come from every plan, so every plan's revisions are in the key.

    A manager also sees, across every plan, the figures awaiting review, overdue milestones and missing figures.
    """
    team_set, manager = teams_and_role(request.user)
    teams = sorted(team_set)
    return all_plans_page(
        request,
        view="my_work",
        # The user itself, never only its teams: nobody is served another user's page.
        viewer=(request.user.pk, teams, manager),
        build=lambda: (_("My work"), _my_work_context(request, has_teams=bool(teams), manager=manager)),
        template="plans/work/my_work.html",
    )


def _page_number(raw) -> int:
    """A page number as Paginator.get_page reads it: anything but a positive whole number is the first page."""
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def _my_work_context(request, *, has_teams: bool, manager: bool = False) -> dict:
    """Each bucket lists its most urgent ``SECTION_ROWS`` rows, and links to all of them (``?show=<bucket>``).

    ``?show=`` lists that bucket alone, ``SHOWN_PAGE_SIZE`` rows a page: a team owning thousands of
    items gets a page of bounded size either way. Counts and rows come from SQL: only the rows shown are loaded.
    """
    today = timezone.localdate()
    shown = request.GET.get("show", "")
    if shown not in BUCKETS:
        shown = ""
    size = SHOWN_PAGE_SIZE if shown else SECTION_ROWS
    number = _page_number(request.GET.get("page")) if shown else 1
    listed = [shown] if shown else list(BUCKETS)
    windows = {key: ((number - 1) * size, number * size) for key in listed}
    work = selectors.my_work_page(request.user, today, windows=windows)
    sections = []
    for key in listed:
        counted = work.counts[key]
        if not counted.total:
            continue
        page = Paginator(range(counted.total), size).get_page(number)
        if page.number == number:
            page.object_list = work.rows[key]
        else:  # past the last page: Paginator shows the last one, so read its rows
            last = {key: (page.start_index() - 1, page.end_index())}
            page.object_list = selectors.my_work_page(request.user, today, windows=last).rows[key]
        label, description = BUCKETS[key]
        if counted.uncomputed:
            description = f"{description} {NOT_COMPUTED_NOTE}".strip()
        sections.append({"key": key, "label": label, "description": description, "items": page, "total": counted.total})
    # Zone reporters are rarely in a team: only then is it asked which units they report for.
    unit_ids = None if has_teams else unit_scope(request.user)
    zone_units, zone_kpis = selectors.zone_reporter_work(unit_ids=unit_ids) if unit_ids else ([], [])
    return {
        "sections": sections,
        "shown": shown,
        "count": sum(counted.total for counted in work.counts.values()),
        "today": today,
        "has_teams": has_teams,
        "zone_units": zone_units,
        "zone_kpis": zone_kpis,
        # Only the list asked for by ?show= is paged; the manager's overview is on the first page.
        "manager_work": selectors.manager_work(rows=MANAGER_ROWS) if manager and not shown else None,
    }


def _update_page(
    request,
    pk,
    *,
    loader,
    latest_entry,
    form_class,
    template,
    name,
    on_saved,
    ensure=ensure_can_update,
    form_kwargs=None,
    extra=lambda item: {},
):
    """GET shows the form; POST saves through the form's service and returns to the item's page with
    ``on_saved``'s message.

    A stale version is answered 409 with the newer values and the newest log entry (``latest_entry``),
    keeping what the user typed (``form.rebased()``); any other invalid post re-renders the form. Nothing
    is written unless the form is valid and current.
    """
    item = item_or_404(loader, pk)
    ensure(request.user, item)
    form_kwargs = form_kwargs or {}
    latest = None
    if request.method == "POST":
        form = form_class(request.POST, item=item, **form_kwargs)
        if form.is_valid() and (saved := form.save(user=request.user)):
            level, message = on_saved(item, saved)
            messages.add_message(request, level, message)
            return redirect(item_url(item))
        if form.conflict:
            form = form.rebased()
            item = item_or_404(loader, pk)
            latest = latest_entry(item)
    else:
        form = form_class(item=item, **form_kwargs)
    context = {name: item, "form": form, "conflict": form.conflict, "latest": latest, **extra(item)}
    return render(request, template, context, status=409 if form.conflict else 200)


def _latest_revision(kpi):
    revisions = [r for m in selectors.kpi_measurement_log(kpi_id=kpi.pk) for r in m.revisions.all()]
    return max(revisions, key=lambda r: (r.created_at, r.id), default=None)


def _progress_saved(milestone, update):
    summary = _("Progress saved: %(percent)s%% · %(state)s.") % {
        "percent": update.percent_complete,
        "state": update.get_state_display(),
    }
    return messages.SUCCESS, f"{summary} {_status_phrase(milestone)}"


def _measurement_saved(kpi, result):
    if isinstance(result, Submission):  # a plan under review: a draft, or submitted for review
        if result.state == SubmissionState.SUBMITTED:
            return messages.SUCCESS, _("Submitted for review: the figure counts once a manager approves it.")
        return messages.SUCCESS, _("Draft saved. Submit it when it is ready for review.")
    if result.outcome == "unchanged":
        return messages.INFO, _("Nothing changed: this value was already recorded for that date.")
    summary = _("Measurement saved: %(value)s %(unit)s on %(date)s.") % {
        "value": formats.number_format(result.measurement.value, use_l10n=True),
        "unit": kpi.unit,
        "date": formats.date_format(result.measurement.date, "DATE_FORMAT"),
    }
    if result.measurement.unit_id is not None:
        summary = _("%(unit)s: %(summary)s") % {"unit": result.measurement.unit.name, "summary": summary}
    return messages.SUCCESS, f"{summary} {_status_phrase(kpi)}"


@login_required
@require_http_methods(["GET", "POST"])
def milestone_update(request, pk: int):
    return _update_page(
        request,
        pk,
        loader=selectors.milestone_for_page,
        latest_entry=lambda milestone: selectors.milestone_progress_log(milestone_id=milestone.pk).first(),
        form_class=MilestoneUpdateForm,
        template="plans/work/milestone_update.html",
        name="milestone",
        on_saved=_progress_saved,
    )


@login_required
@require_http_methods(["GET", "POST"])
def measurement_create(request, pk: int):
    return _update_page(
        request,
        pk,
        loader=selectors.kpi_for_page,
        latest_entry=_latest_revision,
        form_class=MeasurementForm,
        template="plans/work/measurement_form.html",
        name="kpi",
        on_saved=_measurement_saved,
        # Zone reporters record their units' figures on any KPI that aggregates over units.
        ensure=ensure_can_record_measurement,
        form_kwargs={"user": request.user},
        # Under review, the figures returned for this KPI, with the reviewer's reason.
        extra=lambda kpi: {"returned": selectors.returned_submissions(kpi=kpi)},
    )
