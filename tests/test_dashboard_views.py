"""Dashboard pages: who sees them, what they show now and at a past as-of date, filters, pagination.

Statuses are set directly on the rows (from real ``plans.rollup`` results) and snapshots are
created by hand, so these tests read exactly what the pages are meant to read: stored values.
"""

import datetime
import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from plans import rollup, selectors
from plans.choices import ItemType, MilestoneState, Status
from plans.models import KPI, Measurement, Plan, StatusSnapshot
from plans.recompute import plan_backfill, plan_recompute
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    PlanFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

JUNE = datetime.date(2025, 6, 30)
MAY = datetime.date(2025, 5, 31)
AS_OF = datetime.date(2025, 7, 1)


def kpi_result(measurements, *, baseline=60.0, target=80.0, as_of=AS_OF) -> rollup.Result:
    return rollup.kpi_status(
        as_of=as_of,
        baseline_value=baseline,
        baseline_date=datetime.date(2024, 12, 31),
        target_value=target,
        target_date=datetime.date(2025, 12, 31),
        direction="increase",
        frequency="quarterly",
        measurements=[rollup.MeasurementPoint(d, v) for d, v in measurements],
    )


def computed(result: rollup.Result, *, kpi: bool = False) -> dict:
    fields = {
        "status": str(result.status),
        "score": result.score,
        "progress": result.progress,
        "explanation": result.explanation,
    }
    if kpi:
        fields |= {
            "forecast_value": result.forecast_value,
            "forecast_low": result.forecast_low,
            "forecast_high": result.forecast_high,
            "latest_value": result.latest_value,
            "latest_date": result.latest_date,
            "stale": result.stale,
        }
    return fields


def snapshot(item, item_type, *, status, as_of=JUNE, score=None, progress=None, forecast=None):
    plan_id = item.pk if item_type == ItemType.PLAN else item.plan_id
    return StatusSnapshot.objects.create(
        plan_id=plan_id,
        item_type=item_type,
        item_id=item.pk,
        as_of=as_of,
        status=status,
        score=score,
        progress=progress,
        forecast=forecast,
    )


def build_plan(*, goals: int = 2, description: str = "", code_prefix: str = "") -> Plan:
    """A plan with two focus areas and ``goals`` goals, each with one KPI (two measurements) and one
    milestone; live statuses set from real rollup results and a snapshot of every item on JUNE."""
    plan = PlanFactory(description=description, status=Status.AT_RISK, score=1.0, progress=0.5)
    snapshot(plan, ItemType.PLAN, status=Status.OFF_TRACK, score=-1.0)
    teams = [TeamFactory(name=f"{code_prefix}Team North"), TeamFactory(name=f"{code_prefix}Team South")]
    areas = [
        FocusAreaFactory(plan=plan, code=f"{code_prefix}FA1", name="Innovation", order=1, status=Status.ON_TRACK),
        FocusAreaFactory(plan=plan, code=f"{code_prefix}FA2", name="Industry", order=2, status=Status.AT_RISK),
    ]
    for area in areas:
        snapshot(area, ItemType.FOCUS_AREA, status=Status.AT_RISK, score=1.0)
    good = kpi_result([(datetime.date(2025, 3, 31), 65.0), (JUNE, 70.0)])
    for i in range(goals):
        area, team = areas[i % 2], teams[i % 2]
        goal = GoalFactory(
            focus_area=area, plan=plan, code=f"{code_prefix}G{i:02}", owner_team=team, status=Status.ON_TRACK
        )
        snapshot(goal, ItemType.GOAL, status=Status.AT_RISK)
        kpi = KPIFactory(goal=goal, code=f"{code_prefix}K{i:02}", name=f"KPI number {i}", **computed(good, kpi=True))
        MeasurementFactory(kpi=kpi, date=datetime.date(2025, 3, 31), value=65.0)
        MeasurementFactory(kpi=kpi, date=JUNE, value=70.0)
        MeasurementFactory(kpi=kpi, date=datetime.date(2025, 9, 30), value=74.0)
        snapshot(kpi, ItemType.KPI, status=Status.OFF_TRACK, score=-2.0, progress=0.25, forecast=66.5)
        milestone = MilestoneFactory(
            goal=goal,
            title=f"Milestone {i}",
            start_date=datetime.date(2025, 1, 1),
            due_date=datetime.date(2025, 5, 31),
            percent_complete=40,
            state=MilestoneState.IN_PROGRESS,
            status=Status.OVERDUE,
            score=-3.75,
            progress=0.4,
        )
        snapshot(milestone, ItemType.MILESTONE, status=Status.ON_TRACK, score=3.75, progress=0.4)
        snapshot(milestone, ItemType.MILESTONE, status=Status.ON_TRACK, score=3.75, progress=0.3, as_of=MAY)
    return plan


@pytest.fixture
def plan(db):
    return build_plan(description="A plan. Targets are illustrative demo data.")


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def dashboard_url(plan, **query):
    url = reverse("plans:dashboard", args=[plan.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def text_of(response) -> str:
    """The page's visible text, with tags stripped and white space collapsed."""
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def json_data(response, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode())
    assert match, element_id
    return json.loads(match.group(1))


# --- who sees what ------------------------------------------------------------------------


def page_urls(plan):
    kpi, milestone, goal = KPI.objects.filter(plan=plan).first(), plan.milestones.first(), plan.goals.first()
    return [
        reverse("plans:dashboard", args=[plan.slug]),
        reverse("plans:dashboard_focus_area", args=[plan.slug, goal.focus_area.code]),
        reverse("plans:dashboard_goal", args=[plan.slug, goal.code]),
        reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]),
        reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk]),
        reverse("plans:dashboard_export", args=[plan.slug, "kpis", "csv"]),
        reverse("plans:dashboard_export", args=[plan.slug, "milestones", "xlsx"]),
    ]


def test_anonymous_visitors_are_sent_to_sign_in_from_every_dashboard_page(client, plan):
    for url in page_urls(plan):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["manager", "staff"])
def test_managers_and_staff_both_see_every_dashboard_page(client, plan, role):
    client.force_login(UserFactory(username=f"viewer-{role}", role=role))
    for url in page_urls(plan):
        assert client.get(url).status_code == 200, url


def test_home_page_links_each_plan_to_its_dashboard(manager_client, plan):
    response = manager_client.get("/")
    assert reverse("plans:dashboard", args=[plan.slug]) in response.content.decode()


def test_unknown_plan_item_or_an_item_of_another_plan_is_not_found(manager_client, plan):
    other = build_plan(goals=1, code_prefix="X")
    other_kpi = KPI.objects.get(plan=other)
    assert manager_client.get(reverse("plans:dashboard", args=["nope"])).status_code == 404
    assert manager_client.get(reverse("plans:dashboard_kpi", args=[plan.slug, other_kpi.code])).status_code == 404
    assert manager_client.get(reverse("plans:dashboard_goal", args=[plan.slug, "NOPE"])).status_code == 404
    milestone_url = reverse("plans:dashboard_milestone", args=[plan.slug, other.milestones.get().pk])
    assert manager_client.get(milestone_url).status_code == 404


# --- plan dashboard -----------------------------------------------------------------------


def test_dashboard_shows_headline_counts_cards_goals_kpis_and_attention_milestones(manager_client, plan):
    response = manager_client.get(dashboard_url(plan))
    text = text_of(response)
    assert response.status_code == 200
    # Headline: 2 goals + 2 KPIs on track, 1 focus area on track, 1 at risk, 2 overdue milestones.
    tiles = {t["status"]: t for t in response.context["headline"]}
    assert tiles["on_track"]["total"] == 1 + 2 + 2
    assert tiles["overdue"]["total"] == 2
    parts = [part["text"] for part in tiles["on_track"]["parts"]]
    assert "1 focus area" in parts and "2 KPIs" in parts
    assert "FA1 Innovation" in text and "FA2 Industry" in text
    assert "G00" in text and "Team North" in text
    assert "K00" in text and "KPI number 0" in text
    # Status shown with its word and icon, never by colour alone.
    assert 'class="status status-overdue"><span class="status-icon" aria-hidden="true"></span>Overdue' in (
        response.content.decode()
    )
    assert "Milestone 0" in text and "Overdue and at-risk milestones" in text


def kpi_row_text(response, kpi) -> str:
    row = re.search(rf">{kpi.code}</a>.*?</tr>", response.content.decode(), flags=re.S).group(0)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))


def test_kpi_row_shows_baseline_latest_target_progress_forecast_interval_and_stale_marker(manager_client, plan):
    kpi = KPI.objects.filter(plan=plan).first()
    # Before its target date a KPI shows its forecast (the fixture's 2025 plan has ended by now).
    later = timezone.localdate() + datetime.timedelta(days=90)
    Plan.objects.filter(pk=plan.pk).update(end_date=later)
    KPI.objects.filter(pk=kpi.pk).update(stale=True, target_date=later)
    response = manager_client.get(dashboard_url(plan))
    row_text = kpi_row_text(response, kpi)
    assert "60" in row_text and "70" in row_text and "2025-06-30" in row_text and "80" in row_text
    assert f"{kpi.forecast_value:.2f}" in row_text
    assert f"{kpi.forecast_low:.2f} – {kpi.forecast_high:.2f}" in row_text
    assert 'aria-valuenow="50"' in response.content.decode()  # (70 - 60) / (80 - 60)
    assert "Stale" in row_text and "On track" in row_text


def test_kpi_past_its_target_date_without_a_final_figure_says_so_instead_of_a_forecast(manager_client, plan):
    kpi = KPI.objects.filter(plan=plan).first()  # target 2025-12-31, latest figure 2025-06-30
    html = manager_client.get(dashboard_url(plan)).content.decode()
    row = re.search(rf">{kpi.code}</a>.*?</tr>", html, flags=re.S).group(0)
    cell = re.search(r'<td class="num outcome-[^"]*">(.*?)</td>', row, flags=re.S).group(1)
    assert "Final figure overdue" in cell
    assert f"{kpi.forecast_value:.2f}" not in cell


def test_kpi_with_its_final_figure_in_shows_the_figure_and_its_final_status(manager_client, plan):
    kpi = KPI.objects.filter(plan=plan).first()
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 12, 31), value=77.0)
    missed = kpi_result([(JUNE, 70.0), (datetime.date(2025, 12, 31), 77.0)], as_of=datetime.date(2026, 1, 5))
    KPI.objects.filter(pk=kpi.pk).update(**computed(missed, kpi=True))
    response = manager_client.get(dashboard_url(plan))
    row_text = kpi_row_text(response, kpi)
    assert "77 2025-12-31" in row_text and "Missed" in row_text
    assert "Final figure overdue" not in row_text
    assert "Final figure" in text_of(response)  # the column heading of a plan whose period has ended


def lazy_why(response, kind: str, key) -> tuple[str, str]:
    """The address a table row's "Why?" panel loads when opened, and the item page its panel links to."""
    source = reverse("plans:dashboard_why", args=[response.context["plan"].slug, kind, key])
    panel = rf'<details class="why why-drawer" data-why-src="({re.escape(source)}[^"]*)">.*?<a href="([^"]+)"'
    match = re.search(panel, _html(response))
    assert match, source
    return match.group(1).replace("&amp;", "&"), match.group(2).replace("&amp;", "&")


def _html(response) -> str:
    return response.content.decode()


def test_why_panel_of_a_kpi_row_loads_the_explanation_in_plain_words(manager_client, plan):
    kpi = KPI.objects.filter(plan=plan).first()
    source, _page = lazy_why(manager_client.get(dashboard_url(plan)), "kpi", kpi.code)
    panel = manager_client.get(source)
    forecast = kpi.explanation["values"]["forecast"]
    ratio = kpi.explanation["values"]["ratio"]
    assert panel.status_code == 200
    assert "<html" not in _html(panel)  # the inside of the panel, not a page
    assert f"Forecast {forecast:.2f} by 2025-12-31 covers {ratio * 100:.0f}% of the required change" in text_of(panel)
    assert "95% is needed to be on track" in text_of(panel)


def test_without_javascript_a_rows_why_panel_links_to_the_item_page_that_explains_it(manager_client, plan):
    kpi = KPI.objects.filter(plan=plan).first()
    _source, page = lazy_why(manager_client.get(dashboard_url(plan)), "kpi", kpi.code)
    ratio = kpi.explanation["values"]["ratio"]
    assert page == reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code])
    assert f"covers {ratio * 100:.0f}% of the required change" in text_of(manager_client.get(page))


def test_the_dashboard_sends_no_explanation_of_its_table_rows(manager_client, plan):
    text = text_of(manager_client.get(dashboard_url(plan)))
    assert "of the required change" not in text  # a KPI's "Why?" sentence: fetched when its panel opens
    assert "Read the explanation on its page" in text


def test_why_panels_of_goal_and_milestone_rows_load_at_the_as_of_date(manager_client, plan):
    goal, milestone = plan.goals.order_by("code").first(), plan.milestones.order_by("due_date", "id").first()
    response = manager_client.get(dashboard_url(plan, as_of=JUNE.isoformat()))
    goal_source, goal_page = lazy_why(response, "goal", goal.code)
    # On track in June: listed once the status filter asks for it.
    response = manager_client.get(dashboard_url(plan, as_of=JUNE.isoformat(), status=Status.ON_TRACK))
    milestone_source, milestone_page = lazy_why(response, "milestone", milestone.pk)

    assert goal_source.endswith(f"?as_of={JUNE.isoformat()}") and goal_page.endswith(f"?as_of={JUNE.isoformat()}")
    assert milestone_page == reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk]) + "?as_of=2025-06-30"
    # At a day that is a month end without a stored explanation, what the snapshot keeps.
    assert "On 2025-06-30 the status was “At risk”." in text_of(manager_client.get(goal_source))
    assert "On 2025-06-30 the status was “On track”." in text_of(manager_client.get(milestone_source))


def test_why_panel_of_a_goal_row_links_to_the_goals_page_for_its_breakdown(manager_client, plan):
    plan_recompute(plan_id=plan.pk, as_of=AS_OF)
    goal = plan.goals.order_by("code").first()
    source, _page = lazy_why(manager_client.get(dashboard_url(plan)), "goal", goal.code)
    panel = text_of(manager_client.get(source))
    assert "The weighted average score of its items is" in panel
    assert "What the status is made of, the largest drag first" in panel
    assert f'href="{reverse("plans:dashboard_goal", args=[plan.slug, goal.code])}"' in _html(manager_client.get(source))


def test_why_panel_of_an_unknown_row_or_kind_is_not_found(manager_client, plan):
    other_kpi = KPI.objects.get(plan=build_plan(goals=1, code_prefix="X"))
    for kind, key in [("kpi", other_kpi.code), ("goal", "NOPE"), ("milestone", "abc"), ("plan", plan.pk)]:
        assert manager_client.get(reverse("plans:dashboard_why", args=[plan.slug, kind, key])).status_code == 404


def test_demo_notice_shows_on_demo_plans_only(manager_client, plan):
    assert "Demo data." in text_of(manager_client.get(dashboard_url(plan)))
    real = build_plan(goals=1, description="A real plan.", code_prefix="R")
    assert "Demo data." not in text_of(manager_client.get(dashboard_url(real)))


def panel_url(plan, name, **query):
    return dashboard_url(plan, **query).replace(f"/plans/{plan.slug}/", f"/plans/{plan.slug}/panels/{name}/", 1)


def fetch_panel(client, plan, name, **query):
    """A panel as the dashboard's script fetches it: the panel alone."""
    return client.get(panel_url(plan, name, **query), HTTP_X_DASHBOARD_PANEL="1")


def test_status_trend_counts_items_per_status_at_each_month_end(manager_client, plan):
    trend = json_data(fetch_panel(manager_client, plan, "trend"), "trend-data")
    assert trend["labels"] == ["2025-05-31", "2025-06-30"]
    series = {s["status"]: s["data"] for s in trend["series"]}
    # June: 2 focus areas + 2 goals at risk, 2 KPIs off track, 2 milestones on track (the plan is left out).
    assert series["at_risk"] == [0, 4]
    assert series["off_track"] == [0, 2]
    assert series["on_track"] == [2, 2]
    assert [s["label"] for s in trend["series"]][:2] == ["Off track", "At risk"]


def test_the_dashboard_leaves_its_heavy_panels_to_be_fetched_with_its_date_and_filters(manager_client, plan):
    area = plan.focus_areas.order_by("code").first()
    response = manager_client.get(dashboard_url(plan, as_of="2025-06-30", focus_area=area.pk))
    html = response.content.decode()
    assert 'id="trend-data"' not in html and 'id="not-reported-heading"' not in html  # neither is rendered here
    for name in ("not-reported", "trend"):
        src = panel_url(plan, name, as_of="2025-06-30", focus_area=area.pk).replace("&", "&amp;")
        assert f'data-panel-src="{src}"' in html  # the placeholder, whose link opens the panel without JavaScript
        assert f'<a href="{src}">Open this panel</a>' in html


def test_a_fetched_panel_is_the_panel_alone_and_opened_as_a_link_it_is_a_page(manager_client, plan):
    fragment = fetch_panel(manager_client, plan, "not-reported").content.decode()
    assert fragment.lstrip().startswith('<section aria-labelledby="not-reported-heading"')
    assert "<html" not in fragment
    page = manager_client.get(panel_url(plan, "not-reported")).content.decode()
    assert "<html" in page and "not-reported-heading" in page
    assert f'<a href="{dashboard_url(plan)}">{plan.name}</a>' in page  # the way back to the dashboard


def test_panels_follow_the_as_of_date_and_refuse_unknown_names_and_anonymous_visitors(client, manager, plan):
    client.force_login(manager)
    assert client.get(panel_url(plan, "nothing")).status_code == 404
    past = json_data(fetch_panel(client, plan, "trend", as_of="2025-05-31"), "trend-data")
    assert past["labels"] == ["2025-05-31", "2025-06-30"]  # the trend shows every month end, whatever the date
    client.logout()
    assert client.get(panel_url(plan, "trend")).status_code == 302


def test_a_panel_is_kept_like_the_pages_and_served_again_without_a_query(
    manager_client, plan, django_assert_max_num_queries
):
    first = fetch_panel(manager_client, plan, "not-reported").content
    with django_assert_max_num_queries(2):  # the session and the user
        again = fetch_panel(manager_client, plan, "not-reported").content
    assert again == first


# --- as of a date -------------------------------------------------------------------------


def test_as_of_choices_are_the_month_ends_with_snapshots_and_now(manager_client, plan):
    snapshot(plan, ItemType.PLAN, status=Status.AT_RISK, as_of=datetime.date(2025, 7, 15))  # not a month end
    response = manager_client.get(dashboard_url(plan))
    assert response.context["as_of"].choices == [
        ("", "Now"),
        ("2025-06-30", "End of June 2025"),
        ("2025-05-31", "End of May 2025"),
    ]


def test_past_as_of_reads_statuses_scores_progress_and_forecast_from_snapshots(manager_client, plan):
    response = manager_client.get(dashboard_url(plan, as_of="2025-06-30"))
    text = text_of(response)
    assert "As it stood on" in text
    kpis = list(response.context["kpis"])
    assert {k.as_of_status for k in kpis} == {"off_track"}
    assert {k.as_of_forecast for k in kpis} == {66.5}
    assert {k.as_of_latest_value for k in kpis} == {70.0}  # the September figure is after the as-of date
    tiles = {t["status"]: t["total"] for t in response.context["headline"]}
    assert tiles == {"off_track": 2, "at_risk": 4, "on_track": 2}
    assert response.context["plan_status"] == "off_track"
    assert "On 2025-06-30 the status was “Off track”." in text
    assert "Milestone 0" not in text  # on track in June, so not in the attention table


def test_an_as_of_that_is_not_a_date_falls_back_to_now_with_an_error(manager_client, plan):
    response = manager_client.get(dashboard_url(plan, as_of="2025-02-30"))
    assert response.status_code == 200
    assert response.context["as_of"].date is None
    assert "“2025-02-30” is not a date. Enter one as YYYY-MM-DD" in text_of(response)


def test_drill_down_links_carry_the_as_of_date(manager_client, plan):
    html = manager_client.get(dashboard_url(plan, as_of="2025-06-30")).content.decode()
    kpi = KPI.objects.filter(plan=plan).first()
    assert reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]) + "?as_of=2025-06-30" in html


# --- filters ------------------------------------------------------------------------------


def kpi_codes(response) -> set[str]:
    return {k.code for k in response.context["kpis"]}


def test_filter_by_focus_area_limits_cards_goals_kpis_and_milestones(manager_client):
    plan = build_plan(goals=4)
    area = plan.focus_areas.get(code="FA2")
    response = manager_client.get(dashboard_url(plan, focus_area=area.pk))
    assert kpi_codes(response) == {"K01", "K03"}
    assert {g.code for g in response.context["goals"]} == {"G01", "G03"}
    assert [fa.code for fa, _why, _matching in response.context["focus_areas"]] == ["FA2"]
    assert {m.title for m in response.context["milestones"]} == {"Milestone 1", "Milestone 3"}
    assert "Focus area: FA2 Industry" in text_of(response)


def test_filter_by_owner_team(manager_client):
    plan = build_plan(goals=4)
    team = plan.goals.get(code="G00").owner_team
    response = manager_client.get(dashboard_url(plan, owner_team=team.pk))
    assert kpi_codes(response) == {"K00", "K02"}
    assert {g.code for g in response.context["goals"]} == {"G00", "G02"}


def test_filter_by_status_now_uses_stored_statuses(manager_client, plan):
    KPI.objects.filter(code="K01").update(status=Status.AT_RISK)
    response = manager_client.get(dashboard_url(plan, status="at_risk"))
    assert kpi_codes(response) == {"K01"}
    assert response.context["goals"].paginator.count == 0


def test_filter_by_status_at_a_past_date_uses_snapshot_statuses(manager_client, plan):
    response = manager_client.get(dashboard_url(plan, as_of="2025-06-30", status="off_track"))
    assert kpi_codes(response) == {"K00", "K01"}
    response = manager_client.get(dashboard_url(plan, as_of="2025-06-30", status="on_track"))
    assert kpi_codes(response) == set()
    assert {m.title for m in response.context["milestones"]} == {"Milestone 0", "Milestone 1"}


def test_filters_live_in_the_query_string_and_survive_pagination(manager_client):
    plan = build_plan(goals=30)
    team = plan.goals.get(code="G00").owner_team
    response = manager_client.get(dashboard_url(plan, owner_team=team.pk))
    assert response.context["kpis"].paginator.count == 15
    response = manager_client.get(dashboard_url(plan, owner_team=team.pk, as_of="2025-06-30"))
    html = response.content.decode()
    assert "owner_team" in html and f'value="{team.pk}" selected' in html


def test_invalid_filter_value_shows_everything_rather_than_failing(manager_client, plan):
    response = manager_client.get(dashboard_url(plan, status="bogus", focus_area="999999"))
    assert response.status_code == 200
    assert kpi_codes(response) == {"K00", "K01"}


def test_long_kpi_table_is_paginated_and_keeps_the_query_string(manager_client):
    plan = build_plan(goals=30)
    first = manager_client.get(dashboard_url(plan, as_of="2025-06-30"))
    assert len(first.context["kpis"]) == 25
    assert "?as_of=2025-06-30&amp;kpi_page=2" in first.content.decode()
    second = manager_client.get(dashboard_url(plan, as_of="2025-06-30", kpi_page=2))
    # Ordered by focus area, then code: FA1 holds the even goals, FA2 the odd ones.
    assert kpi_codes(second) == {"K21", "K23", "K25", "K27", "K29"}


# --- drill-down pages ---------------------------------------------------------------------


def test_focus_area_page_lists_its_goals_and_explains_the_roll_up(manager_client, plan):
    area = plan.focus_areas.get(code="FA1")
    goal = area.goals.get()
    children = [
        rollup.Child(key="goal:1", label="G00 Goal", weight=2, status="on_track", score=2.9163, progress=0.5),
        rollup.Child(key="goal:2", label="G99 Late goal", weight=1, status="overdue", score=-3.75, progress=0.9),
    ]
    result = rollup.rollup_status(as_of=AS_OF, children=children)
    type(area).objects.filter(pk=area.pk).update(**computed(result))
    response = manager_client.get(reverse("plans:dashboard_focus_area", args=[plan.slug, area.code]))
    text = text_of(response)
    assert goal.code in text and goal.title in text
    assert "The largest drag is G99 Late goal (Overdue), which pulls the score down by 1.48." in text
    assert re.search(r"G99 Late goal Overdue 1 -3.75 -1.48", text.replace("\u25b8", ""))


def test_a_long_why_lists_its_largest_drags_first_and_links_to_the_rest(manager_client, plan):
    area = plan.focus_areas.get(code="FA1")
    children = [
        rollup.Child(key=f"goal:{i}", label=f"Goal {i:02}", weight=1, status="off_track", score=-1 - i / 10, progress=0)
        for i in range(30)
    ]
    result = rollup.rollup_status(as_of=AS_OF, children=children)
    type(area).objects.filter(pk=area.pk).update(**computed(result))
    url = reverse("plans:dashboard_focus_area", args=[plan.slug, area.code])

    text = text_of(manager_client.get(url))
    assert "Show all 30 items" in text
    assert "Goal 29" in text and "Goal 04" not in text  # the 25 largest drags: Goal 29 down to Goal 05
    assert "Goal 05 Off track" in text.replace("\u25b8", "")

    everything = text_of(manager_client.get(url, {"why": "all"}))
    assert "Goal 04" in everything and "Goal 00" in everything and "Show all" not in everything


def test_goal_page_has_a_milestone_timeline_and_a_small_chart_per_kpi(manager_client, plan):
    goal = plan.goals.get(code="G00")
    response = manager_client.get(reverse("plans:dashboard_goal", args=[plan.slug, goal.code]))
    text = text_of(response)
    assert "Milestone timeline" in text
    assert "2025-01-01 → 2025-05-31 · 40% complete" in text
    kpi = goal.kpis.get()
    chart = json_data(response, f"kpi-chart-{kpi.pk}")
    assert chart["compact"] is True
    assert chart["baseline"] == {"x": "2024-12-31", "y": 60.0}
    assert [m["y"] for m in chart["measurements"]] == [65.0, 70.0, 74.0]


def test_kpi_page_chart_has_baseline_measurements_trajectory_target_forecast_and_band(manager_client, plan):
    kpi = KPI.objects.get(code="K00")
    response = manager_client.get(reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]))
    chart = json_data(response, "kpi-chart-data")
    assert chart["trajectory"] == [{"x": "2024-12-31", "y": 60.0}, {"x": "2025-12-31", "y": 80.0}]
    assert chart["target"] == {"x": "2025-12-31", "y": 80.0}
    assert chart["forecast"][0]["x"] == "2025-06-30"  # from the latest figure the status used
    assert chart["forecast"][-1]["x"] == "2025-12-31"
    assert chart["forecast"][-1]["y"] == pytest.approx(kpi.forecast_value)
    end = chart["band"][-1]
    assert (end["low"], end["high"]) == (pytest.approx(kpi.forecast_low), pytest.approx(kpi.forecast_high))
    assert "Forecast" in text_of(response) and "Why?" in text_of(response)


def test_kpi_page_lists_the_newest_measurements_and_all_of_them_on_request_while_its_chart_draws_every_one(
    manager_client, plan
):
    kpi = KPI.objects.get(code="K00")
    first = datetime.date(2025, 1, 3)
    for week in range(30):
        MeasurementFactory(kpi=kpi, date=first + datetime.timedelta(weeks=week), value=60.0 + week / 10)
    url = reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code])
    count = kpi.measurements.filter(unit=None).count()

    def logged_dates(response) -> list[str]:
        table = response.content.decode().split('id="measurements-heading"')[1].split("</table>")[0]
        return re.findall(r'<td class="nowrap">(\d{4}-\d\d-\d\d)', table)

    page = manager_client.get(url)
    newest = sorted(kpi.measurements.filter(unit=None).values_list("date", flat=True), reverse=True)
    rows = logged_dates(page)
    assert rows == [*(d.isoformat() for d in newest[:24]), kpi.baseline_date.isoformat()]  # then the baseline
    assert f"Show all {count} measurements" in text_of(page)
    assert len(json_data(page, "kpi-chart-data")["measurements"]) == count

    everything = manager_client.get(url + "?measurements=all")
    assert len(logged_dates(everything)) == count + 1
    assert "Show all" not in text_of(everything)


def test_kpi_page_at_a_past_date_draws_the_snapshot_forecast_and_leaves_later_figures_out(manager_client, plan):
    kpi = KPI.objects.get(code="K00")
    url = reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]) + "?as_of=2025-06-30"
    response = manager_client.get(url)
    chart = json_data(response, "kpi-chart-data")
    assert [m["x"] for m in chart["measurements"]] == ["2025-03-31", "2025-06-30"]
    assert chart["forecast"] == [{"x": "2025-06-30", "y": 70.0}, {"x": "2025-12-31", "y": 66.5}]
    assert chart["band"] == []
    assert "after the as-of date" in text_of(response)


def test_milestone_page_explains_its_status_and_lists_its_history(manager_client, plan):
    milestone = plan.milestones.get(title="Milestone 0")
    result = rollup.milestone_status(
        as_of=datetime.date(2025, 9, 30),
        start_date=datetime.date(2025, 1, 1),
        due_date=datetime.date(2025, 5, 31),
        percent_complete=40,
        state="in_progress",
    )
    type(milestone).objects.filter(pk=milestone.pk).update(**computed(result))
    response = manager_client.get(reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk]))
    text = text_of(response)
    assert "The milestone was due on 2025-05-31 and is 40% complete: 122 days late." in text
    assert [h.as_of for h in response.context["history"]] == [MAY, JUNE]


# --- the real demo plan -------------------------------------------------------------------


def test_demo_plan_dashboard_after_backfill_offers_every_month_end_and_explains_itself(manager_client):
    call_command("load_demo_plan", verbosity=0)
    demo = Plan.objects.get(slug="high-tech-zones-2025")
    plan_backfill(plan_id=demo.pk)
    plan_recompute(plan_id=demo.pk)
    response = manager_client.get(dashboard_url(demo))
    text = text_of(response)
    assert "Demo data." in text
    month_ends = [datetime.date(2025, m, _month_end(2025, m)).isoformat() for m in range(12, 0, -1)]
    assert [value for value, _label in response.context["as_of"].choices] == ["", *month_ends]
    assert response.context["kpis"].paginator.count == 13
    past = manager_client.get(dashboard_url(demo, as_of="2025-06-30"))
    assert past.status_code == 200 and "As it stood on" in text_of(past)
    # RD-INDEX (annual) has no final figure: its "Why?" gives the forecast, which stands in for the final figure
    # until it is due, 366 days after the target date (KPI rule 8); then the page says it is overdue.
    kpi_page = text_of(manager_client.get(reverse("plans:dashboard_kpi", args=[demo.slug, "RD-INDEX"])))
    assert "of the required change" in kpi_page
    # RD-GROWTH's final figure is derived (the growth of RD-SPEND): computed when derived, not recorded by anyone.
    plan_end = datetime.date(2025, 12, 31)
    derived = Measurement.objects.get(kpi__plan=demo, kpi__code="RD-GROWTH", unit=None, date=plan_end)
    when = date_format(timezone.localtime(derived.recorded_at), "DATETIME_FORMAT")
    growth_page = text_of(manager_client.get(reverse("plans:dashboard_kpi", args=[demo.slug, "RD-GROWTH"])))
    assert f"computed {when}" in growth_page and f"recorded {when}" not in growth_page
    due_by = datetime.date(2027, 1, 1)
    if timezone.localdate() <= due_by:
        assert f"final figure due by {date_format(due_by, 'SHORT_DATE_FORMAT')}" in kpi_page
        assert "Final figure overdue" not in kpi_page
    else:
        assert "Final figure overdue" in kpi_page


def _month_end(year: int, month: int) -> int:
    return ((datetime.date(year + month // 12, month % 12 + 1, 1)) - datetime.timedelta(days=1)).day


def test_a_past_month_end_explains_itself_from_its_snapshot(manager_client):
    call_command("load_demo_plan", verbosity=0)
    demo = Plan.objects.get(slug="high-tech-zones-2025")
    plan_backfill(plan_id=demo.pk)

    kpi_page = manager_client.get(reverse("plans:dashboard_kpi", args=[demo.slug, "EN-GIANTS"]) + "?as_of=2025-09-30")
    text = text_of(kpi_page)
    assert "of the required change" in text and "2025-09-30" in text
    assert "kept for month ends" not in text

    dashboard = text_of(manager_client.get(dashboard_url(demo, as_of="2025-06-30")))
    assert "kept for month ends" not in dashboard
    assert "2025-06-30" in dashboard


def test_month_end_snapshots_keep_explanations_and_other_days_do_not():
    kpi = KPIFactory()
    plan_recompute(plan_id=kpi.plan_id, as_of=datetime.date(2025, 3, 15))
    month_end = StatusSnapshot.objects.get(item_type="kpi", item_id=kpi.pk, as_of=datetime.date(2025, 2, 28))
    other_day = StatusSnapshot.objects.get(item_type="kpi", item_id=kpi.pk, as_of=datetime.date(2025, 3, 15))
    assert month_end.explanation["as_of"] == "2025-02-28"
    assert other_day.explanation is None


# --- a plan whose period has ended ----------------------------------------------------------


def test_plan_past_its_end_date_says_so_with_its_final_figures_on_every_page(manager_client, plan):
    first = KPI.objects.filter(plan=plan).order_by("code").first()
    MeasurementFactory(kpi=first, date=datetime.date(2025, 12, 31), value=81.0)
    plan_recompute(plan_id=plan.pk)  # as the write's own update (or the queued recompute) does
    banner = "Plan period ended on 2025-12-31; final figures: 1 of 2 in."
    for url in page_urls(plan)[:5]:
        assert banner in text_of(manager_client.get(url)), url
    assert banner in text_of(manager_client.get(reverse("plans:home")))


def test_plan_within_its_period_has_no_closure_banner(manager_client):
    running = build_plan(goals=1, code_prefix="N")
    Plan.objects.filter(pk=running.pk).update(end_date=timezone.localdate() + datetime.timedelta(days=30))
    KPI.objects.filter(plan=running).update(target_date=timezone.localdate() + datetime.timedelta(days=30))
    assert "Plan period ended" not in text_of(manager_client.get(dashboard_url(running)))
    assert "Plan period ended" not in text_of(manager_client.get(reverse("plans:home")))


@pytest.mark.parametrize("ended_days_ago, overdue", [(10, False), (92, False), (93, True)])
def test_a_final_figure_is_due_until_the_frequencys_allowance_has_passed_then_overdue(
    manager_client, ended_days_ago, overdue
):
    """KPI rule 8 on the pages: past its target date a quarterly KPI's forecast stands in for 92 days, its final figure
    due by then; after that the final figure is overdue."""
    ended = timezone.localdate() - datetime.timedelta(days=ended_days_ago)
    closed = build_plan(goals=1, code_prefix="Q")
    Plan.objects.filter(pk=closed.pk).update(end_date=ended)
    KPI.objects.filter(plan=closed).update(target_date=ended, frequency="quarterly")
    plan_recompute(plan_id=closed.pk)
    due = f"final figure due by {date_format(ended + datetime.timedelta(days=92), 'SHORT_DATE_FORMAT')}"
    for url in (dashboard_url(closed), reverse("plans:home")):
        text = text_of(manager_client.get(url))
        assert (due in text, "Final figure overdue" in text) == (not overdue, overdue), url


def test_final_figures_are_the_computed_latest_figures_dated_on_or_after_the_target_date_split_by_stored_status(plan):
    kpis = list(KPI.objects.filter(plan=plan).order_by("code"))
    extra = KPIFactory(goal=kpis[0].goal, code="K-extra")
    target = datetime.date(2025, 12, 31)
    MeasurementFactory(kpi=kpis[0], date=target, value=81.0)
    MeasurementFactory(kpi=kpis[1], date=target - datetime.timedelta(days=1), value=79.0)  # not a final figure
    MeasurementFactory(kpi=extra, date=extra.target_date + datetime.timedelta(days=5), value=1.0)
    # Counted from what the recompute stored (the statuses' own latest figures): nothing before it runs.
    assert selectors.plan_closure(plan=plan, today=datetime.date(2026, 12, 1)).final_in == 0
    plan_recompute(plan_id=plan.pk, as_of=datetime.date(2026, 12, 1))
    KPI.objects.filter(pk=kpis[0].pk).update(status=Status.ACHIEVED)
    KPI.objects.filter(pk=extra.pk).update(status=Status.MISSED)
    closure = selectors.plan_closure(plan=plan, today=datetime.date(2026, 12, 1))
    assert closure == selectors.PlanClosure(
        end_date=plan.end_date, ended=True, kpi_count=3, final_in=2, achieved=1, missed=1
    )
    assert not selectors.plan_closure(plan=plan, today=plan.end_date).ended


def test_why_panel_names_the_method_version_of_its_explanation_and_the_footer_the_current_one(manager_client, plan):
    kpi = KPI.objects.filter(plan=plan).order_by("code").first()
    KPI.objects.filter(pk=kpi.pk).update(explanation={**kpi.explanation, "method_version": 7})
    text = text_of(manager_client.get(reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code])))
    assert "(method version 7)" in text
    assert f"Statuses computed by method version {rollup.METHOD_VERSION}" in text
