"""Every dashboard page issues a fixed number of queries whatever the plan's size.

Each page is pinned at two data sizes with the same ceiling (the counts include the session and
user lookups of the signed-in request). A page that starts querying per row fails at the larger size.
"""

import pytest
from django.urls import reverse

from plans.models import KPI
from tests.test_dashboard_views import build_plan

pytestmark = pytest.mark.django_db

# Pages (not exports) also count the unread notifications for the site header (plans.context_processors).
HEADER_BADGE = 1
# Goals per plan, each with a KPI, three measurements and a milestone; 30 spills onto a second page.
SIZES = [2, 30]


def urls(plan) -> dict[str, tuple[str, int]]:
    goal, area = plan.goals.order_by("code").first(), plan.focus_areas.order_by("code").first()
    kpi, milestone = KPI.objects.filter(plan=plan).order_by("code").first(), plan.milestones.first()
    dashboard = reverse("plans:dashboard", args=[plan.slug])
    filters = f"status=off_track&focus_area={area.pk}&owner_team={goal.owner_team_id}"
    return {
        # name: (url, max queries); every page under the plan also counts its final figures (the closure banner)
        # unless the plan's stored tallies are current (plans.tallies). The dashboard reads who hasn't reported
        # (2: KPIs, measurements), a KPI page its planned values (1), a milestone page its monthly updates (1).
        # A page of goals or KPIs is its keys, then its rows (plans.pagination).
        "dashboard": (dashboard, 18),
        "dashboard past, filtered": (f"{dashboard}?as_of=2025-06-30&{filters}", 23),
        "dashboard second page": (f"{dashboard}?kpi_page=2&goal_page=2&milestone_page=2", 18),
        "focus area": (reverse("plans:dashboard_focus_area", args=[plan.slug, area.code]), 12),
        "focus area past": (
            reverse("plans:dashboard_focus_area", args=[plan.slug, area.code]) + "?as_of=2025-06-30",
            12,
        ),
        "goal": (reverse("plans:dashboard_goal", args=[plan.slug, goal.code]), 9),
        "goal past": (reverse("plans:dashboard_goal", args=[plan.slug, goal.code]) + "?as_of=2025-06-30", 9),
        # The item pages also hold the staff pages' log and role check: measurement revisions, the manager's groups.
        "kpi": (reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]), 11),
        "kpi past": (reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]) + "?as_of=2025-06-30", 11),
        "milestone": (reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk]), 10),
        "kpi csv": (reverse("plans:dashboard_export", args=[plan.slug, "kpis", "csv"]) + f"?{filters}", 9),
        "kpi xlsx past": (reverse("plans:dashboard_export", args=[plan.slug, "kpis", "xlsx"]) + "?as_of=2025-06-30", 5),
        "milestone csv": (reverse("plans:dashboard_export", args=[plan.slug, "milestones", "csv"]), 5),
    }


PAGE_NAMES = [
    "dashboard",
    "dashboard past, filtered",
    "dashboard second page",
    "focus area",
    "focus area past",
    "goal",
    "goal past",
    "kpi",
    "kpi past",
    "milestone",
    "kpi csv",
    "kpi xlsx past",
    "milestone csv",
]


@pytest.mark.parametrize("goals", SIZES)
@pytest.mark.parametrize("page", PAGE_NAMES)
def test_page_query_count_does_not_grow_with_the_plan(client, manager, django_assert_max_num_queries, goals, page):
    plan = build_plan(goals=goals)
    url, ceiling = urls(plan)[page]
    ceiling += 0 if "csv" in page or "xlsx" in page else HEADER_BADGE
    client.force_login(manager)
    with django_assert_max_num_queries(ceiling):
        response = client.get(url)
    assert response.status_code == 200
