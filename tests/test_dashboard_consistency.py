"""The dashboard never contradicts itself: under any filter its tiles, focus-area cards, trend and tables count the
same items; the as-of date takes any day of the plan; "What changed" and a manager's "My work"."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from plans.choices import ItemType, Status
from plans.models import KPI, Measurement, PlanVisit
from plans.views.dashboard import ATTENTION_STATUSES
from tests.factories import MeasurementFactory
from tests.test_dashboard_views import JUNE, MAY, build_plan, dashboard_url, text_of

pytestmark = pytest.mark.django_db

KINDS = (ItemType.GOAL, ItemType.KPI, ItemType.MILESTONE)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def tile_totals(response, statuses=None) -> dict[str, int]:
    """Items per kind over the status tiles (those of ``statuses`` only, when given)."""
    totals = dict.fromkeys(map(str, KINDS), 0)
    for tile in response.context["headline"]:
        if statuses is None or tile["status"] in statuses:
            for part in tile["parts"]:
                totals[part["item_type"]] = totals.get(part["item_type"], 0) + part["n"]
    return totals


def card_totals(response) -> dict[str, int]:
    totals = dict.fromkeys(map(str, KINDS), 0)
    for _area, _why, matching in response.context["focus_areas"]:
        for part in matching:
            totals[part["item_type"]] += part["n"]
    return totals


def assert_blocks_agree(response) -> None:
    context = response.context
    tiles = tile_totals(response)
    assert tiles[ItemType.GOAL] == context["goals"].paginator.count
    assert tiles[ItemType.KPI] == context["kpis"].paginator.count
    # Unless a status is picked, the milestone table lists the milestones that need attention.
    attention = [str(s) for s in ATTENTION_STATUSES]
    listed = tile_totals(response, attention) if context["milestones_attention_only"] else tiles
    assert listed[ItemType.MILESTONE] == context["milestones"].paginator.count
    assert card_totals(response) == {kind: n for kind, n in tiles.items() if kind != ItemType.FOCUS_AREA}


@pytest.mark.parametrize("as_of", ["", "2025-06-30"])
def test_under_a_team_filter_tiles_cards_and_tables_count_the_same_items(manager_client, as_of):
    plan = build_plan(goals=4)
    north = plan.goals.get(code="G00").owner_team
    response = manager_client.get(dashboard_url(plan, owner_team=north.pk, as_of=as_of))
    assert response.context["goals"].paginator.count == 2  # G00 and G02
    assert_blocks_agree(response)
    # North's items are all in FA1: only its card is shown; focus areas have no team, so no tile counts them.
    assert [fa.code for fa, _why, _matching in response.context["focus_areas"]] == ["FA1"]
    assert tile_totals(response).get(ItemType.FOCUS_AREA, 0) == 0
    assert "Focus areas have no owner team" in text_of(response)


def test_under_a_status_and_focus_area_filter_every_block_counts_only_those_items(manager_client):
    plan = build_plan(goals=4)
    area = plan.focus_areas.get(code="FA2")
    response = manager_client.get(dashboard_url(plan, focus_area=area.pk, status="overdue"))
    assert [tile["status"] for tile in response.context["headline"]] == ["overdue"]
    assert response.context["milestones"].paginator.count == 2  # G01's and G03's
    assert response.context["goals"].paginator.count == 0
    assert_blocks_agree(response)


def trend_url(plan, **query):
    """The trend panel, which the dashboard fetches with its own query string."""
    return dashboard_url(plan, **query).replace(
        reverse("plans:dashboard", args=[plan.slug]), reverse("plans:dashboard_panel", args=[plan.slug, "trend"]), 1
    )


def test_the_trend_counts_the_filtered_items_at_each_month_end(manager_client):
    plan = build_plan(goals=4)
    north = plan.goals.get(code="G00").owner_team
    response = manager_client.get(dashboard_url(plan, owner_team=north.pk, as_of="2025-06-30"))
    trend = manager_client.get(trend_url(plan, owner_team=north.pk, as_of="2025-06-30")).context["trend"]
    june = trend["labels"].index("2025-06-30")
    in_june = sum(series["data"][june] for series in trend["series"])
    assert in_june == sum(tile["total"] for tile in response.context["headline"]) == 6  # 2 goals, KPIs, milestones
    only_at_risk = manager_client.get(trend_url(plan, owner_team=north.pk, status="at_risk")).context["trend"]
    assert [series["status"] for series in only_at_risk["series"]] == ["at_risk"]


def test_status_tiles_link_to_the_list_filtered_by_their_status_keeping_the_other_filters(manager_client):
    plan = build_plan(goals=2)
    north = plan.goals.get(code="G00").owner_team
    html = manager_client.get(dashboard_url(plan, owner_team=north.pk)).content.decode()
    assert f'href="?owner_team={north.pk}&amp;status=overdue#goals-heading"' in html


# --- the as-of date ------------------------------------------------------------------------


def test_a_day_without_a_snapshot_shows_the_latest_snapshot_before_it_and_says_so(manager_client):
    plan = build_plan(goals=2)
    response = manager_client.get(dashboard_url(plan, as_of="2025-06-15"))
    as_of = response.context["as_of"]
    assert (as_of.date, as_of.asked) == (MAY, datetime.date(2025, 6, 15))
    assert f"No snapshot is kept for {shown(datetime.date(2025, 6, 15))}" in text_of(response)
    assert 'value="2025-06-15"' in response.content.decode()  # the control keeps the reader's day
    assert 'min="2025-01-01"' in response.content.decode()


def shown(day: datetime.date) -> str:
    return date_format(day, "DATE_FORMAT")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("15/06/2025", "“15/06/2025” is not a date. Enter one as YYYY-MM-DD, from {start} to"),
        ("2031-01-01", "{day} is outside the dates this plan can show. Pick one from {start} to"),
        ("2024-12-31", "{day} is outside the dates this plan can show."),
        ("2025-03-10", "No status had been computed by {day}."),
    ],
)
def test_a_bad_as_of_date_is_refused_with_a_message_that_says_why(manager_client, raw, message):
    plan = build_plan(goals=2)
    response = manager_client.get(dashboard_url(plan, as_of=raw))
    day = datetime.date.fromisoformat(raw) if "-" in raw else None
    message = message.format(start=shown(plan.start_date), day=day and shown(day))
    assert response.status_code == 200
    assert response.context["as_of"].date is None
    assert message in text_of(response)
    assert 'aria-invalid="true"' in response.content.decode()


# --- what changed -------------------------------------------------------------------------


def changes_url(plan, **query) -> str:
    url = reverse("plans:dashboard_changes", args=[plan.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_changes_since_a_date_list_the_statuses_that_moved_and_the_figures_that_came_in(manager_client):
    plan = build_plan(goals=2)
    response = manager_client.get(changes_url(plan, since="2025-07-01"))
    assert response.status_code == 200
    assert response.context["compared"] == JUNE
    moved = {(kind, item.pk): (item.was, item.status) for kind, item in response.context["moves"]}
    goal = plan.goals.get(code="G00")
    assert moved[(ItemType.GOAL, goal.pk)] == (Status.AT_RISK, Status.ON_TRACK)  # at risk in June, on track now
    assert len(response.context["figures"]) == 6  # every figure was recorded after 1 July 2025
    assert "Statuses that moved" in text_of(response)


def test_changes_since_my_last_visit_list_only_what_came_in_after_it(manager_client, manager):
    plan = build_plan(goals=2)
    kpi = KPI.objects.filter(plan=plan).first()
    now = timezone.now()
    PlanVisit.objects.create(user=manager, plan=plan, visited_at=now - datetime.timedelta(hours=1))
    # The fixture's figures were recorded now: move them before the visit.
    Measurement.objects.filter(kpi__plan=plan).update(recorded_at=now - datetime.timedelta(hours=2))
    fresh = MeasurementFactory(kpi=kpi, date=datetime.date(2025, 10, 31), value=75.0)
    response = manager_client.get(changes_url(plan))
    assert response.context["reason"] == "visit"
    assert [m.pk for m in response.context["figures"]] == [fresh.pk]
    assert "Since your last visit" in text_of(response)
    # Reading the page moved the visit forward: the figure is not new the next time.
    assert PlanVisit.objects.get(user=manager, plan=plan).visited_at >= now
    assert manager_client.get(changes_url(plan)).context["figures"] == []


def test_a_first_visit_shows_changes_since_the_last_month_end(manager_client, manager):
    plan = build_plan(goals=2)
    response = manager_client.get(changes_url(plan))
    assert response.context["reason"] == "first"
    assert PlanVisit.objects.filter(user=manager, plan=plan).count() == 1


@pytest.mark.parametrize("raw", ["yesterday", "2099-01-01"])
def test_a_bad_since_date_is_refused_with_a_message(manager_client, raw):
    plan = build_plan(goals=2)
    response = manager_client.get(changes_url(plan, since=raw))
    assert response.status_code == 200
    assert response.context["error"]
    assert response.context["reason"] != "picked"
    assert 'role="alert"' in response.content.decode()


# --- a manager's "My work" -----------------------------------------------------------------


def test_a_manager_without_a_team_sees_reviews_overdue_milestones_and_missing_figures_of_every_plan(
    manager_client,
):
    plan = build_plan(goals=2)
    KPI.objects.filter(plan=plan, code="K00").update(stale=True)
    response = manager_client.get(reverse("plans:my_work"))
    text = text_of(response)
    assert "You are not a member of any team" not in text
    assert "Across the plans you manage" in text
    row = response.context["manager_work"].plans[0]
    assert (row.slug, row.overdue_milestones, row.stale_kpis, row.pending_reviews) == (plan.slug, 2, 1, 0)
    assert "Milestone 0" in text and "Milestone 1" in text
    assert "K00" in text
    html = response.content.decode()
    assert reverse("plans:dashboard_milestone", args=[plan.slug, plan.milestones.first().pk]) in html
    assert f"{reverse('plans:dashboard', args=[plan.slug])}?status=overdue" in html


def test_staff_do_not_see_the_managers_overview(client, staff):
    build_plan(goals=2)
    client.force_login(staff)
    response = client.get(reverse("plans:my_work"))
    assert response.context["manager_work"] is None
    assert "Across the plans you manage" not in text_of(response)


def test_with_one_invalid_filter_the_valid_ones_still_apply_to_every_block(manager_client):
    plan = build_plan(goals=4)
    area = plan.focus_areas.get(code="FA2")
    response = manager_client.get(dashboard_url(plan, focus_area=area.pk, status="bogus"))
    assert response.context["goals"].paginator.count == 2
    assert_blocks_agree(response)


@pytest.mark.parametrize("goals", [2, 30])
def test_what_changed_and_the_managers_my_work_issue_a_fixed_number_of_queries(
    manager_client, manager, django_assert_max_num_queries, goals
):
    plan = build_plan(goals=goals)
    PlanVisit.objects.create(user=manager, plan=plan, visited_at=timezone.now() - datetime.timedelta(days=400))
    # Session, user, plan, visit (read, move), closure, snapshot days, 4 kinds of moves, figures, progress, the
    # plan's snapshot, the header's notifications: 15, and the savepoints of the visit's get_or_create.
    with django_assert_max_num_queries(17):
        assert manager_client.get(changes_url(plan)).status_code == 200
    # Session, user, teams and role, plans' facts, buckets, the manager's three lists, the header's notifications.
    with django_assert_max_num_queries(10):
        assert manager_client.get(reverse("plans:my_work")).status_code == 200
