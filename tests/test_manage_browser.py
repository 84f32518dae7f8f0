"""A manager builds a goal with a KPI and a milestone in the app (not the admin); staff of the owner team then
record a measurement and a milestone update. Screenshots under test-artifacts/screenshots/ (en and zh-hans,
desktop and 390 px)."""

import datetime

import pytest
from django.utils import timezone

from plans.models import KPI, Measurement, Milestone, MilestoneUpdate
from tests.conftest import ARTIFACTS, sign_in
from tests.factories import FocusAreaFactory, PlanFactory, TeamFactory, UserFactory
from tests.test_work_browser import recompute_in_process, roles, serious_axe_violations  # noqa: F401 (fixtures)

SCREENSHOTS = ARTIFACTS / "screenshots"


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def wider_than_the_screen(page) -> list[str]:
    """Elements sticking out past the right edge of the screen (outside a scrolling table wrapper)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("main *")]
            .filter(el => !el.closest(".table-wrap") && el.getBoundingClientRect().right > window.innerWidth + 1)
            .map(el => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))"""
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_creates_a_goal_kpi_and_milestone_then_staff_update_them(page, roles, recompute_in_process):  # noqa: F811
    today = timezone.localdate()
    start = today - datetime.timedelta(days=200)
    team = TeamFactory(name="Department of High-Tech Development", name_zh="高新技术发展司")
    UserFactory(username="boss", first_name="Li", last_name="Na", role="manager")
    UserFactory(username="staff.rd", first_name="Chen", last_name="Jing", role="staff", teams=[team])
    plan = PlanFactory(
        name="Innovation plan",
        name_zh="创新行动计划",
        slug="innovation",
        baseline_year=start.year,
        start_date=start,
        end_date=today + datetime.timedelta(days=165),
    )
    FocusAreaFactory(plan=plan, code="FA1", name="Research capacity", name_zh="研发能力")

    sign_in(page, "boss")
    page.get_by_role("link", name="Manage", exact=True).click()
    page.get_by_role("link", name="Innovation plan").first.click()
    shoot(page, "manage-plan-before")

    page.get_by_role("link", name="Add a goal").click()
    page.get_by_label("Code").fill("G-RD")
    page.get_by_label("Title", exact=True).fill("Raise enterprise R&D")
    page.get_by_label("Title (Chinese)").fill("提高企业研发投入")
    page.get_by_label("Owner team").select_option(label="Department of High-Tech Development")
    page.get_by_label("Weight").fill("2")
    shoot(page, "manage-goal-form")
    assert serious_axe_violations(page) == []
    page.get_by_role("button", name="Save").click()
    assert "Created goal" in page.locator(".message-success").inner_text()

    page.get_by_role("link", name="Add a KPI").click()
    page.get_by_label("Code").fill("RD-SPEND")
    page.get_by_label("Name", exact=True).fill("Enterprise R&D spending")
    page.get_by_label("Name (Chinese)").fill("企业研发经费")
    page.get_by_label("Unit", exact=True).fill("billion yuan")
    page.get_by_label("Baseline value").fill("10")
    page.get_by_label("Baseline date").fill(start.isoformat())
    page.get_by_label("Target value").fill("1e20")  # a typo: refused on its field, nothing written
    page.get_by_label("Target date").fill(plan.end_date.isoformat())
    page.get_by_label("Reporting frequency").select_option("quarterly")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("heading", name="There is a problem").is_visible()
    assert not KPI.objects.exists()
    shoot(page, "manage-kpi-form-error")
    page.get_by_label("Target value").fill("14")
    page.get_by_role("button", name="Save").click()
    assert "Created KPI" in page.locator(".message-success").inner_text()

    page.get_by_role("link", name="Add a milestone").click()
    page.get_by_label("Title", exact=True).fill("Open the shared pilot line")
    page.get_by_label("Due date").fill((today + datetime.timedelta(days=60)).isoformat())
    page.get_by_role("button", name="Save").click()
    assert "Created milestone" in page.locator(".message-success").inner_text()
    structure = page.locator("main").inner_text()
    assert "RD-SPEND" in structure and "Open the shared pilot line" in structure
    shoot(page, "manage-plan-after")
    assert serious_axe_violations(page) == []

    kpi = KPI.objects.get(code="RD-SPEND")
    milestone = Milestone.objects.get(title="Open the shared pilot line")
    assert kpi.owner_team == team and milestone.owner_team == team  # from the goal

    # Chinese and the phone width: the same page, nothing wider than the screen.
    page.set_extra_http_headers({"Accept-Language": "zh-Hans"})
    page.reload()
    assert "添加" in page.locator("main").inner_text()
    shoot(page, "manage-plan-zh")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shoot(page, "manage-plan-zh-390")
    assert wider_than_the_screen(page) == []
    page.goto(f"/manage/kpi/{kpi.pk}/edit/")
    shoot(page, "manage-kpi-form-zh-390")
    assert wider_than_the_screen(page) == []
    page.set_extra_http_headers({"Accept-Language": "en"})
    page.reload()
    shoot(page, "manage-kpi-form-390")
    page.goto("/manage/")
    shoot(page, "manage-list-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Staff of the owner team update what the manager built.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "staff.rd")
    page.get_by_role("row").filter(has_text="RD-SPEND").get_by_role("link", name="Log measurement").click()
    page.get_by_label("Date").fill((today - datetime.timedelta(days=1)).isoformat())
    page.get_by_label("Value (billion yuan)").fill("11.5")
    page.get_by_role("button", name="Save measurement").click()
    assert "Measurement saved: 11.5 billion yuan" in page.locator(".message-success").inner_text()
    shoot(page, "manage-staff-kpi-page")
    page.get_by_role("link", name="My work").first.click()
    page.get_by_role("row").filter(has_text="Open the shared pilot line").get_by_role("link", name="Update").click()
    page.get_by_label("Percent complete").fill("40")
    page.get_by_label("State").select_option("in_progress")
    page.get_by_role("button", name="Save progress").click()
    assert "Progress saved: 40% · In progress." in page.locator(".message-success").inner_text()
    shoot(page, "manage-staff-milestone-page")
    assert Measurement.objects.get(kpi=kpi).value == 11.5
    assert MilestoneUpdate.objects.get(milestone=milestone).author.username == "staff.rd"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_users_teams_and_a_closed_plans_final_report(page, roles, recompute_in_process):  # noqa: F811
    from plans.choices import MilestoneState
    from plans.recompute import plan_recompute
    from tests.factories import KPIFactory, MeasurementFactory, MilestoneFactory

    team = TeamFactory(name="Department of High-Tech Development", name_zh="高新技术发展司")
    UserFactory(username="boss", first_name="Li", last_name="Na", role="manager")
    plan = PlanFactory(name="Innovation plan 2025", name_zh="2025年创新行动计划", slug="innovation-2025")
    kpi = KPIFactory(
        goal__focus_area__plan=plan, goal__owner_team=team, code="RD", name="R&D intensity", name_zh="研发投入强度"
    )
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 12, 31), value=82.0)
    MilestoneFactory(goal=kpi.goal, title="Lab opened", state=MilestoneState.DONE, percent_complete=100)
    MilestoneFactory(goal=kpi.goal, title="Park expanded", state=MilestoneState.IN_PROGRESS, percent_complete=60)
    plan_recompute(plan_id=plan.pk)

    sign_in(page, "boss")
    page.goto("/manage/users/new/")
    page.get_by_label("Username").fill("chen.jing")
    page.get_by_label("First name").fill("Jing")
    page.get_by_label("Last name").fill("Chen")
    page.get_by_label("Department of High-Tech Development").check()
    page.get_by_role("button", name="Create the user").click()
    password = page.locator(".one-time-password").inner_text()
    assert len(password) == 16
    shoot(page, "manage-user-created")
    page.get_by_role("link", name="Back to the users").click()
    assert password not in page.content()
    shoot(page, "manage-users")
    assert serious_axe_violations(page) == []
    page.goto(f"/manage/teams/{team.pk}/")
    assert "chen.jing" in page.locator(".members").inner_text()
    shoot(page, "manage-team")

    page.goto(f"/manage/plans/{plan.slug}/")
    page.get_by_role("button", name="Close the plan").click()  # past its end date: no confirmation needed
    assert "The plan is closed" in page.locator(".message-success").inner_text()
    shoot(page, "manage-plan-closed")
    page.goto(f"/plans/{plan.slug}/")
    report = page.locator(".final-report").inner_text()
    assert "Milestones done: 1 of 2 (50%)" in report and "Park expanded" in report
    shoot(page, "manage-final-report")
    page.set_extra_http_headers({"Accept-Language": "zh-Hans"})
    page.reload()
    assert "最终报告" in page.locator(".final-report").inner_text()
    shoot(page, "manage-final-report-zh")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shoot(page, "manage-final-report-zh-390")
    page.goto("/manage/users/")
    shoot(page, "manage-users-zh-390")
    assert wider_than_the_screen(page) == []
    # The new user signs in with the password shown once.
    page.get_by_role("button", name="退出登录").click()
    page.set_extra_http_headers({"Accept-Language": "en"})
    sign_in(page, "chen.jing", password)
    assert page.get_by_role("heading", name="My work", level=1).is_visible()
