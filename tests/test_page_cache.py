"""The page cache (plans.views.pagecache): a warm page costs a few reads, and every change that can alter a page
changes its key, so nobody reads a stale or another user's page.

Each test reads a page, makes one kind of change through the services, and reads it again through the real cache
(Redis in CI, locmem otherwise).
"""

import datetime
import re
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from plans import services
from plans.choices import ItemType, Status
from plans.models import KPI, Milestone, Plan, StatusSnapshot
from plans.page_generation import GENERATION_KEY
from plans.recompute import plan_recompute
from plans.recompute_failures import recompute_failure_record
from plans.views import pagecache, work
from tests.factories import PlanFactory, UserFactory
from tests.test_dashboard_views import JUNE, build_plan

pytestmark = pytest.mark.django_db

# No query: the session, the user with its role, teams and units (plans.sessions, plans.user_cache), the plan's
# facts and the body all come from the cache; so does the header's unread-notification count.
WARM_DASHBOARD = 0
WARM_ITEM_PAGE = 0
WARM_MY_WORK = 0
# A viewer's first page reads its user row, its role, teams and units (one query) and its unread notifications.
VIEWER_FIRST_READ = 3


def get(client, url, **extra):
    """The response and the number of queries it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200, (url, response.status_code)
    return response, len(queries.captured_queries)


def main(response) -> str:
    """The page below the site header (whose sign-out form carries a fresh CSRF token each time)."""
    return re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)


def dashboard_url(plan, query=""):
    return reverse("plans:dashboard", args=[plan.slug]) + query


def kpi_url(kpi):
    return reverse("plans:dashboard_kpi", args=[kpi.plan.slug, kpi.code])


@pytest.fixture
def plan():
    return build_plan(goals=2)


@pytest.fixture
def signed_in(client, manager):
    client.force_login(manager)
    return client


@pytest.mark.parametrize("goals", [2, 30])
def test_a_warm_dashboard_costs_the_same_few_queries_whatever_the_plan_size(signed_in, goals):
    plan = build_plan(goals=goals)
    cold, cold_queries = get(signed_in, dashboard_url(plan))
    warm, warm_queries = get(signed_in, dashboard_url(plan))

    assert warm_queries <= WARM_DASHBOARD < cold_queries
    assert main(warm) == main(cold)


@pytest.mark.parametrize("goals", [2, 30])
def test_warm_item_and_area_pages_cost_the_same_few_queries_whatever_the_plan_size(signed_in, goals):
    plan = build_plan(goals=goals)
    kpi = KPI.objects.filter(plan=plan).order_by("code").first()
    area = plan.focus_areas.order_by("code").first()
    goal = plan.goals.order_by("code").first()
    milestone = plan.milestones.first()
    pages = {
        kpi_url(kpi): WARM_ITEM_PAGE,
        reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk]): WARM_ITEM_PAGE,
        reverse("plans:dashboard_focus_area", args=[plan.slug, area.code]): WARM_DASHBOARD,
        reverse("plans:dashboard_goal", args=[plan.slug, goal.code]): WARM_DASHBOARD,
    }
    for url, ceiling in pages.items():
        cold, _ = get(signed_in, url)
        warm, warm_queries = get(signed_in, url)
        assert warm_queries <= ceiling, url
        assert main(warm) == main(cold)


def test_the_site_header_is_rendered_for_each_viewer_around_a_shared_body(client, plan, manager):
    other = UserFactory(username="second-manager", role="manager")
    client.force_login(manager)
    get(client, dashboard_url(plan))
    client.force_login(other)
    response, queries = get(client, dashboard_url(plan))

    header = response.content.decode().split("<main")[0]
    assert queries <= WARM_DASHBOARD + VIEWER_FIRST_READ  # then kept
    assert f"<span>{other.get_full_name() or other.username}</span>" in header
    assert f"<span>{manager.get_full_name() or manager.username}</span>" not in header


def test_a_measurement_shows_at_once(signed_in, plan):
    kpi = KPI.objects.filter(plan=plan).order_by("code").first()
    get(signed_in, kpi_url(kpi))
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 10, 31), value=81.25)

    assert "81.25" in get(signed_in, kpi_url(kpi))[0].content.decode()


def test_a_milestone_update_shows_at_once(signed_in, plan):
    milestone = plan.milestones.first()
    url = reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk])
    get(signed_in, url)
    services.milestone_progress_record(milestone=milestone, percent_complete=55, state="in_progress", note="Tender out")

    assert "Tender out" in get(signed_in, url)[0].content.decode()


def test_a_recompute_shows_its_statuses(signed_in, plan):
    before = main(get(signed_in, dashboard_url(plan))[0])
    plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 7, 15))  # moves computed_revision only
    after = main(get(signed_in, dashboard_url(plan))[0])

    assert before != after


def test_a_definition_edit_shows_at_once(signed_in, plan):
    kpi = KPI.objects.filter(plan=plan).order_by("code").first()
    get(signed_in, dashboard_url(plan))
    services.kpi_update(kpi=kpi, data={"name": "Renamed indicator"})

    assert "Renamed indicator" in get(signed_in, dashboard_url(plan))[0].content.decode()


def test_a_team_rename_shows_at_once(signed_in, plan):
    team = plan.goals.order_by("code").first().owner_team
    get(signed_in, dashboard_url(plan))
    services.team_update(team=team, data={"name": "Renamed Bureau"})

    assert "Renamed Bureau" in get(signed_in, dashboard_url(plan))[0].content.decode()


def test_a_membership_change_changes_the_update_link_and_my_work(client, plan):
    kpi = KPI.objects.filter(plan=plan).order_by("code").first()
    user = UserFactory(username="newcomer", role="staff")
    client.force_login(user)
    update_link = reverse("plans:measurement_create", args=[kpi.pk])
    assert update_link not in get(client, kpi_url(kpi))[0].content.decode()
    assert kpi.code not in get(client, reverse("plans:my_work"))[0].content.decode()

    services.team_update(team=kpi.owner_team, data={}, members=[user])

    assert update_link in get(client, kpi_url(kpi))[0].content.decode()
    assert kpi.code in get(client, reverse("plans:my_work"))[0].content.decode()


def test_language_filters_and_as_of_each_have_their_own_page(signed_in, plan):
    get(signed_in, dashboard_url(plan))
    for query, headers in [
        ("", {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}),
        ("?status=on_track", {}),
        (f"?as_of={JUNE.isoformat()}", {}),
    ]:
        first, first_queries = get(signed_in, dashboard_url(plan, query), **headers)
        again, again_queries = get(signed_in, dashboard_url(plan, query), **headers)
        assert first_queries > WARM_DASHBOARD >= again_queries, query or headers
        assert main(first) == main(again)
    as_of = get(signed_in, dashboard_url(plan, f"?as_of={JUNE.isoformat()}"))[0].content.decode()
    assert "As it stood on" in as_of
    assert 'lang="zh-hans"' in get(signed_in, dashboard_url(plan), HTTP_ACCEPT_LANGUAGE="zh-hans")[0].content.decode()


def test_my_work_is_never_served_to_another_user_of_the_same_team(client, staff, team):
    other = UserFactory(username="teammate", role="staff", teams=[team])
    client.force_login(staff)
    get(client, reverse("plans:my_work"))
    get(client, reverse("plans:my_work"))
    client.force_login(other)
    _, queries = get(client, reverse("plans:my_work"))

    assert queries > WARM_MY_WORK


def test_a_warm_my_work_costs_a_few_queries(client, staff):
    client.force_login(staff)
    get(client, reverse("plans:my_work"))

    assert get(client, reverse("plans:my_work"))[1] <= WARM_MY_WORK


def _many_milestones(plan, n):
    goal = plan.goals.order_by("code").first()
    Milestone.objects.bulk_create(
        Milestone(
            plan=plan,
            goal=goal,
            owner_team=goal.owner_team,
            title=f"Bulk milestone {i}",
            due_date=datetime.date(2025, 5, 31),
            status=Status.OVERDUE,
        )
        for i in range(n)
    )


def test_pages_with_thousands_of_milestones_render_a_bounded_number_of_rows(client, plan):
    _many_milestones(plan, 2400)
    goal = plan.goals.order_by("code").first()
    user = UserFactory(username="busy", role="manager", teams=[goal.owner_team])
    client.force_login(user)

    dashboard = get(client, dashboard_url(plan))[0].content.decode()
    my_work = get(client, reverse("plans:my_work"))[0].content.decode()
    shown = get(client, reverse("plans:my_work") + "?show=off_track")[0].content.decode()

    assert len(re.findall(r"Bulk milestone \d+</a>", dashboard)) <= 25
    assert len(re.findall(r'/milestones/\d+/update/"', my_work)) <= len(work.BUCKETS) * work.SECTION_ROWS
    assert "?show=off_track" in my_work
    assert len(re.findall(r'/milestones/\d+/update/"', shown)) == work.SHOWN_PAGE_SIZE


def test_the_dashboard_reads_no_snapshot_day_it_does_not_show(signed_in, plan):
    """Daily snapshots between month ends are neither listed nor counted: the page asks about its days only."""
    StatusSnapshot.objects.bulk_create(
        StatusSnapshot(plan=plan, item_type=ItemType.GOAL, item_id=goal.pk, as_of=day, status=Status.MISSED)
        for goal in plan.goals.all()
        for day in (datetime.date(2025, 6, 1) + datetime.timedelta(days=i) for i in range(20))
    )
    with CaptureQueriesContext(connection) as queries:
        signed_in.get(dashboard_url(plan))
    snapshot_reads = [q["sql"] for q in queries.captured_queries if "plans_statussnapshot" in q["sql"]]

    assert snapshot_reads
    assert all("2025-06-02" not in sql and 'as_of" >=' not in sql for sql in snapshot_reads)
    assert all("DISTINCT" not in sql for sql in snapshot_reads)


def test_a_warm_dashboard_reads_no_plan_row(signed_in, plan):
    get(signed_in, dashboard_url(plan))
    with CaptureQueriesContext(connection) as queries:
        signed_in.get(dashboard_url(plan))

    assert not [q["sql"] for q in queries.captured_queries if "plans_" in q["sql"]]


def test_a_recorded_recompute_failure_shows_at_once(signed_in, plan):
    get(signed_in, dashboard_url(plan))
    recompute_failure_record(plan_id=plan.pk, error="OperationalError", started=timezone.now())

    assert "OperationalError" in main(get(signed_in, dashboard_url(plan))[0])


def test_a_plan_deleted_and_created_again_under_its_slug_shows_the_new_plan(signed_in, plan):
    slug = plan.slug
    get(signed_in, dashboard_url(plan))
    services.plan_delete(plan=plan)
    again = PlanFactory(slug=slug, name="The plan made again")

    assert "The plan made again" in main(get(signed_in, dashboard_url(again))[0])


def test_a_change_made_behind_the_services_back_shows_once_the_facts_are_read_again(signed_in, plan, monkeypatch):
    get(signed_in, dashboard_url(plan))
    Plan.objects.filter(pk=plan.pk).update(computed_at=timezone.now() - datetime.timedelta(days=3))
    assert "more than a day ago" not in main(get(signed_in, dashboard_url(plan))[0])  # kept: no service moved it

    monkeypatch.setattr(pagecache.time, "time", lambda real=time.time: real() + pagecache.FACTS_MAX_AGE + 1)
    assert "more than a day ago" in main(get(signed_in, dashboard_url(plan))[0])


def test_a_flushed_generation_serves_no_kept_page(signed_in, plan):
    get(signed_in, dashboard_url(plan))
    cache.delete(GENERATION_KEY)

    assert get(signed_in, dashboard_url(plan))[1] > WARM_DASHBOARD
