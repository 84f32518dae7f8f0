"""The home page: every plan with its focus areas, goals and KPIs, and a link to its dashboard."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from .. import selectors
from ..choices import PlanState
from ..permissions import is_manager_lazy
from ..recompute import STATUSES_STALE_AFTER


@login_required
def home(request):
    stale_before = timezone.now() - STATUSES_STALE_AFTER
    today = timezone.localdate()
    plans = selectors.plan_overview_list()
    viewer_is_manager = is_manager_lazy(request.user)
    if not viewer_is_manager:
        plans = plans.exclude(state=PlanState.DRAFT)  # a draft is seen by managers only
    plans = list(plans)
    closures = selectors.plan_closures(plans=plans, today=today)
    for plan in plans:
        plan.closure = closures[plan.pk]
    context = {
        "plans": plans,
        "stale_before": stale_before,
        "today": today,
        "viewer_is_manager": viewer_is_manager,
    }
    return render(request, "plans/home.html", context)
