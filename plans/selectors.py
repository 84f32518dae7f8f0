"""Every non-trivial read, with the eager loading it needs (views and the API call these)."""

from django.db.models import Prefetch, QuerySet

from .models import KPI, FocusArea, Goal, Plan


def plan_overview_list() -> QuerySet[Plan]:
    """Plans with their focus areas, goals and KPIs, in four queries whatever their size."""
    kpis = KPI.objects.order_by("code")
    goals = Goal.objects.select_related("owner_team").order_by("code").prefetch_related(Prefetch("kpis", kpis))
    focus_areas = FocusArea.objects.order_by("order", "code").prefetch_related(Prefetch("goals", goals))
    return Plan.objects.prefetch_related(Prefetch("focus_areas", focus_areas))
