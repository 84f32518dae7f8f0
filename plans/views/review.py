"""The managers' review queue of a plan under review: submitted figures to approve (in bulk) or return with a reason.

Also the plan's review settings (which values count, due lags, reminder days), for managers.

GET lists the plan's submitted figures (``plans.selectors.review_queue``), filterable by focus area and unit;
POST approves the checked ones (``submissions_approve_bulk``) or returns one with a reason
(``submission_return``), then redirects back to the same filtered list with what happened.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from .. import selectors, services
from ..models import FocusArea, Plan, ReportingUnit, Submission
from ..models.base import multi_line_validators
from ..permissions import is_manager

NATIONAL = "national"


class QueueFilterForm(forms.Form):
    focus_area = forms.ModelChoiceField(
        queryset=FocusArea.objects.none(), required=False, label=gettext_lazy("Focus area")
    )
    unit = forms.ChoiceField(required=False, label=gettext_lazy("Unit"))

    def __init__(self, data, *, plan):
        super().__init__(data)
        self.fields["focus_area"].queryset = FocusArea.objects.filter(plan=plan).order_by("order", "code")
        units = ReportingUnit.objects.filter(submissions__plan=plan).distinct().order_by("code")
        self.fields["unit"].choices = [
            ("", gettext_lazy("All")),
            (NATIONAL, gettext_lazy("National figures")),
            *((str(unit.pk), str(unit)) for unit in units),
        ]


class ReturnForm(forms.Form):
    submission = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=4000, validators=multi_line_validators, label=gettext_lazy("Reason"))


def _plan_for_manager(request, slug):
    plan = selectors.dashboard_plan_get(slug=slug)
    if not is_manager(request.user):
        raise PermissionDenied
    return plan


def _approve(request, plan) -> None:
    ids = [int(value) for value in request.POST.getlist("ids") if value.isascii() and value.isdigit()]
    ids = list(Submission.objects.filter(plan=plan, pk__in=ids).values_list("pk", flat=True))
    if not ids:
        messages.warning(request, _("Check the figures to approve first."))
        return
    summary = services.submissions_approve_bulk(ids=ids, author=request.user)
    if summary["approved"]:
        messages.success(request, _("%(count)d figures approved.") % {"count": len(summary["approved"])})
    for skipped in summary["skipped"]:
        messages.error(request, _("Submission %(id)s not approved: %(reason)s") % skipped)


def _return(request, plan) -> None:
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason to return the figure."))
        return
    submission = Submission.objects.filter(plan=plan, pk=form.cleaned_data["submission"]).first()
    if submission is None:
        messages.error(request, _("No such submission in this plan."))
        return
    try:
        services.submission_return(submission=submission, reason=form.cleaned_data["reason"], author=request.user)
    except (ValidationError, services.SubmissionRefused) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return
    messages.success(request, _("Figure returned to its author with your reason."))


@login_required
@require_http_methods(["GET", "POST"])
def review_queue(request, slug: str):
    plan = _plan_for_manager(request, slug)
    if request.method == "POST":
        if request.POST.get("action") == "return":
            _return(request, plan)
        else:
            _approve(request, plan)
        query = request.META.get("QUERY_STRING", "")
        return redirect(f"{request.path}?{query}" if query else request.path)
    filters = QueueFilterForm(request.GET or None, plan=plan)
    focus_area_id = unit_id = None
    national = False
    if filters.is_valid():
        focus_area = filters.cleaned_data["focus_area"]
        focus_area_id = focus_area.pk if focus_area else None
        unit = filters.cleaned_data["unit"]
        national = unit == NATIONAL
        unit_id = int(unit) if unit and not national else None
    rows = list(
        selectors.review_queue(plan=plan, focus_area_id=focus_area_id, unit_id=unit_id, national=national)[:500]
    )
    context = {"plan": plan, "rows": rows, "filters": filters, "return_reason_max": 4000}
    return render(request, "plans/review/queue.html", context)


class ReviewSettingsForm(forms.ModelForm):
    """A plan's reporting-cycle settings; saved by ``plan_review_settings_update`` (version-checked)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    class Meta:
        model = Plan
        fields = services.REVIEW_SETTINGS


@login_required
@require_http_methods(["GET", "POST"])
def review_settings(request, slug: str):
    plan = _plan_for_manager(request, slug)
    form = ReviewSettingsForm(request.POST or None, instance=plan, initial={"version": plan.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in services.REVIEW_SETTINGS}
        try:
            services.plan_review_settings_update(
                plan=plan, data=data, expected_version=form.cleaned_data["version"], author=request.user
            )
        except services.StaleVersionError:
            form.add_error(None, _("Someone changed these settings since you opened the page: reload and try again."))
            status = 409
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Review settings saved."))
            return redirect("plans:review_settings", slug=plan.slug)
    return render(request, "plans/review/settings.html", {"plan": plan, "form": form}, status=status)
