"""Plan management for managers, in the app (``/manage/``): the plan list, a plan's structure, and the forms
that create, edit and delete plans, focus areas, goals, KPIs and milestones.

Every write goes through the same services as the API and the admin (plans.services), so versions,
history and recomputes behave as for any write; a save based on an older version is refused with the
form's entries kept. Only managers reach these pages (403 for anyone else).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from .. import services
from ..choices import ChangeChannel
from ..exceptions import PlanClosed
from ..forms import user_display_name
from ..manage_forms import FocusAreaForm, GoalForm, KPIForm, MilestoneForm, PlanForm
from ..models import KPI, FocusArea, Goal, Milestone, Plan
from ..permissions import is_manager

WEB = ChangeChannel.WEB


def manager_required(view):
    """Signed in and a manager; anyone else is refused with 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_manager(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _structure_create(model):
    def create(data, plan, user):
        item = model(**data) if plan is None else model(plan=plan, **data)
        services.structure_save(item=item, is_new=True, author=user, channel=WEB)
        return item

    return create


def _structure_update(item, data, version, user):
    for name, value in data.items():
        setattr(item, name, value)
    services.structure_save(item=item, is_new=False, expected_version=version, author=user, channel=WEB)
    return item


@dataclass(frozen=True)
class Kind:
    """One kind of item the manage pages edit: its model, form, label and the services that write it."""

    model: type
    form: type
    label: str
    parent_field: str | None
    create: Callable
    update: Callable
    delete: Callable | None


KINDS = {
    "plan": Kind(
        Plan,
        PlanForm,
        gettext_lazy("plan"),
        None,
        create=lambda data, plan, user: services.plan_create(data=data, author=user, channel=WEB),
        update=_structure_update,
        delete=lambda item, version, user: services.plan_delete(plan=item, deleted_by=user, channel=WEB),
    ),
    "focus-area": Kind(
        FocusArea,
        FocusAreaForm,
        gettext_lazy("focus area"),
        None,
        create=_structure_create(FocusArea),
        update=_structure_update,
        delete=lambda item, version, user: services.focus_area_delete(
            focus_area=item, expected_version=version, deleted_by=user, channel=WEB
        ),
    ),
    "goal": Kind(
        Goal,
        GoalForm,
        gettext_lazy("goal"),
        "focus_area",
        create=lambda data, plan, user: services.goal_create(data=data, author=user, channel=WEB),
        update=lambda item, data, version, user: services.goal_update(
            goal=item, data=data, expected_version=version, author=user, channel=WEB
        ),
        delete=lambda item, version, user: services.goal_delete(
            goal=item, expected_version=version, deleted_by=user, channel=WEB
        ),
    ),
    "kpi": Kind(
        KPI,
        KPIForm,
        gettext_lazy("KPI"),
        "goal",
        create=lambda data, plan, user: services.kpi_create(data=data, author=user, channel=WEB),
        update=lambda item, data, version, user: services.kpi_update(
            kpi=item, data=data, expected_version=version, author=user, channel=WEB
        ),
        delete=lambda item, version, user: services.kpi_delete(
            kpi=item, expected_version=version, deleted_by=user, channel=WEB
        ),
    ),
    "milestone": Kind(
        Milestone,
        MilestoneForm,
        gettext_lazy("milestone"),
        "goal",
        create=lambda data, plan, user: services.milestone_create(data=data, author=user, channel=WEB),
        update=lambda item, data, version, user: services.milestone_update(
            milestone=item, data=data, expected_version=version, author=user, channel=WEB
        ),
        delete=lambda item, version, user: services.milestone_delete(
            milestone=item, expected_version=version, deleted_by=user, channel=WEB
        ),
    ),
}


def _kind_or_404(kind: str) -> Kind:
    if kind not in KINDS:
        raise Http404
    return KINDS[kind]


def _stale_message(exc: services.StaleVersionError) -> str:
    when = exc.changed_at
    time = formats.date_format(timezone.localtime(when), "DATETIME_FORMAT") if when else "?"
    return _(
        "Nothing was saved: this item was changed by %(name)s at %(time)s since you opened this form. "
        "Your entries are kept below; save again to replace the newer values with them."
    ) % {"name": user_display_name(exc.changed_by), "time": time}


def service_write(form, call) -> bool:
    """Run ``call()`` (a service write); on a refusal put its reason on ``form`` and return False.

    A stale version keeps the entries and moves the form's version on, so a second save is a deliberate
    overwrite of the newer values.
    """
    try:
        call()
    except services.StaleVersionError as exc:
        form.data = form.data.copy()
        form.data["version"] = str(exc.current.version)
        form.add_error(None, _stale_message(exc))
        return False
    except ValidationError as exc:
        form.add_service_error(exc)
        return False
    except PlanClosed as exc:
        form.add_error(None, str(exc))
        return False
    return True


def _item_plan(item) -> Plan:
    return item if isinstance(item, Plan) else item.plan


@manager_required
@require_safe
def manage_home(request):
    plans = Plan.objects.order_by("-start_date", "name")
    return render(request, "plans/manage/plan_list.html", {"plans": plans})


def plan_structure_load(slug: str) -> Plan:
    """The plan with its focus areas, goals, KPIs and milestones, in five queries."""
    goals = Goal.objects.select_related("owner_team").order_by("code")
    goals = goals.prefetch_related(
        Prefetch("kpis", KPI.objects.select_related("owner_team").order_by("code")),
        Prefetch("milestones", Milestone.objects.select_related("owner_team").order_by("due_date", "id")),
    )
    focus_areas = FocusArea.objects.order_by("order", "code").prefetch_related(Prefetch("goals", goals))
    return get_object_or_404(Plan.objects.prefetch_related(Prefetch("focus_areas", focus_areas)), slug=slug)


@manager_required
@require_safe
def plan_structure(request, slug):
    plan = plan_structure_load(slug)
    return render(request, "plans/manage/plan_structure.html", {"plan": plan})


def _form_page(request, *, kind: str, form, plan: Plan | None, item=None):
    context = {"form": form, "kind": kind, "kind_label": KINDS[kind].label, "plan": plan, "item": item}
    return render(request, "plans/manage/item_form.html", context, status=400 if form.is_bound else 200)


@manager_required
@require_http_methods(["GET", "POST"])
def item_create(request, kind, slug=None):
    """A new plan (no ``slug``), or a new focus area, goal, KPI or milestone of the plan ``slug``;
    ``?parent=`` preselects the focus area (of a goal) or the goal (of a KPI or milestone)."""
    spec = _kind_or_404(kind)
    if (kind == "plan") != (slug is None):
        raise Http404
    plan = get_object_or_404(Plan, slug=slug) if slug else None
    initial = {}
    if spec.parent_field and request.GET.get("parent", "").isdigit():
        initial[spec.parent_field] = int(request.GET["parent"])
    form = spec.form(request.POST or None, plan=plan, initial=initial)
    if request.method == "POST" and form.is_valid():
        created = {}

        def call():
            created["item"] = spec.create(form.values(), plan, request.user)

        if service_write(form, call):
            item = created["item"]
            messages.success(request, _("Created %(kind)s “%(item)s”.") % {"kind": spec.label, "item": item})
            return redirect("plans:manage_plan", _item_plan(item).slug)
    return _form_page(request, kind=kind, form=form, plan=plan)


@manager_required
@require_http_methods(["GET", "POST"])
def item_edit(request, kind, pk):
    spec = _kind_or_404(kind)
    item = get_object_or_404(spec.model, pk=pk)
    plan = _item_plan(item)
    form = spec.form(request.POST or None, instance=item, plan=plan)
    if request.method == "POST" and form.is_valid():
        version = form.cleaned_data.get("version")
        if service_write(form, lambda: spec.update(item, form.values(), version, request.user)):
            messages.success(request, _("Saved %(kind)s “%(item)s”.") % {"kind": spec.label, "item": item})
            return redirect("plans:manage_plan", plan.slug)
        item.refresh_from_db()
    return _form_page(request, kind=kind, form=form, plan=plan, item=item)


@manager_required
@require_http_methods(["GET", "POST"])
def item_delete(request, kind, pk):
    """Confirm, then delete the item with what hangs under it (the service leaves tombstones and history).
    A plan is deleted only while it is a draft."""
    spec = _kind_or_404(kind)
    item = get_object_or_404(spec.model, pk=pk)
    plan = _item_plan(item)
    if kind == "plan" and not plan.is_draft:
        raise PermissionDenied
    error = None
    if request.method == "POST":
        raw = request.POST.get("version", "")
        version = int(raw) if raw.isdigit() else None
        try:
            spec.delete(item, version, request.user)
        except services.StaleVersionError as exc:
            error = _stale_message(exc)
            item.refresh_from_db()
        except (ValidationError, PlanClosed) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        else:
            messages.success(request, _("Deleted %(kind)s “%(item)s”.") % {"kind": spec.label, "item": item})
            return redirect("plans:manage_home") if kind == "plan" else redirect("plans:manage_plan", plan.slug)
    context = {"item": item, "kind": kind, "kind_label": spec.label, "plan": plan, "error": error}
    return render(request, "plans/manage/item_delete.html", context, status=409 if error else 200)


@manager_required
@require_http_methods(["POST"])
def plan_lifecycle(request, slug, action):
    """Activate a draft, close an active plan (before its end date only when ``early`` is confirmed), or copy
    the plan as a draft for the next year; the outcome is reported on the plan's page."""
    plan = get_object_or_404(Plan, slug=slug)
    raw = request.POST.get("version", "")
    version = int(raw) if raw.isdigit() else None
    try:
        if action == "activate":
            services.plan_activate(plan=plan, expected_version=version, author=request.user, channel=WEB)
            messages.success(request, _("The plan is active: everyone sees it and its teams report on it."))
        elif action == "close":
            early = request.POST.get("early") == "on"
            services.plan_close(plan=plan, early=early, expected_version=version, author=request.user, channel=WEB)
            messages.success(request, _("The plan is closed: its figures are final and its final report is shown."))
        elif action == "copy":
            copy = services.plan_copy_next_year(plan=plan, author=request.user, channel=WEB)
            messages.success(request, _("A draft for the next year was created from “%(plan)s”.") % {"plan": plan})
            return redirect("plans:manage_plan", copy.slug)
        else:
            raise Http404
    except services.StaleVersionError as exc:
        messages.error(request, _stale_message(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PlanClosed as exc:
        messages.error(request, str(exc))
    return redirect("plans:manage_plan", plan.slug)
