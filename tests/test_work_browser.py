"""The staff round trip in a real browser: sign in, log a measurement and a milestone update, see status and history.

The milestone update also meets a colleague's newer update on the way (the no-lost-updates check)."""

import datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from plans import services
from plans.choices import MilestoneState
from plans.permissions import MANAGER, STAFF
from plans.recompute import plan_recompute
from tests.conftest import ARTIFACTS, sign_in
from tests.factories import KPIFactory, MilestoneFactory, TeamFactory, UserFactory

# Loaded from the page's own origin: the content security policy refuses an inline copy.
AXE = settings.STATIC_URL + "vendor/axe-core/axe.min.js"


def serious_axe_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page."""
    page.add_script_tag(url="/" + AXE.lstrip("/"))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter(v => ["serious", "critical"].includes(v.impact))
            .map(v => ({id: v.id, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))"""
    )
    return found


@pytest.fixture
def roles(transactional_db):
    """The role groups: a transactional test before this one flushed the rows migration 0002 created."""
    for name in (STAFF, MANAGER):
        Group.objects.get_or_create(name=name)


@pytest.fixture
def recompute_in_process(monkeypatch):
    """Run the recompute right after commit, as without REDIS_URL, even where CI queues it for a worker."""
    from django.core.cache import cache

    from tracker.celery import app

    cache.clear()
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def status_text(page) -> str:
    return page.locator(".status-card .status").first.inner_text().strip()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_logs_a_measurement_and_a_milestone_update(page, roles, recompute_in_process):
    today = timezone.localdate()
    team = TeamFactory(name="Department of High-Tech Development")
    UserFactory(username="staff.rd", first_name="Chen", last_name="Jing", role="staff", teams=[team])
    colleague = UserFactory(username="colleague", first_name="Wang", last_name="Fang", role="staff", teams=[team])
    milestone = MilestoneFactory(
        goal__owner_team=team,
        goal__focus_area__plan__start_date=today - datetime.timedelta(days=200),
        goal__focus_area__plan__end_date=today + datetime.timedelta(days=165),
        title="Open the shared pilot line",
        start_date=today - datetime.timedelta(days=100),
        due_date=today + datetime.timedelta(days=20),
        percent_complete=30,
        state=MilestoneState.IN_PROGRESS,
    )
    KPIFactory(
        goal=milestone.goal,
        code="RD-SPEND",
        name="Enterprise R&D spending",
        unit="trillion yuan",
        baseline_value=1.2,
        baseline_date=today - datetime.timedelta(days=200),
        target_value=1.3,
        target_date=today + datetime.timedelta(days=165),
    )
    plan_recompute(plan_id=milestone.plan_id)

    sign_in(page, "staff.rd", "wrong-password")
    assert "Please enter a correct username and password" in page.locator("#error-summary").inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert serious_axe_violations(page) == []
    page.screenshot(path=ARTIFACTS / "work-sign-in-error.png", full_page=True)
    sign_in(page, "staff.rd", "secret-pass-123")
    assert page.get_by_role("heading", name="My work", level=1).is_visible()
    # The KPI has no figure a quarter after its baseline; the milestone is behind schedule (its stored status).
    assert page.get_by_role("heading", name="Needs a figure").is_visible()
    assert page.get_by_role("heading", name="Off track, overdue or missed").is_visible()
    page.screenshot(path=ARTIFACTS / "work-my-work.png", full_page=True)
    assert serious_axe_violations(page) == []

    # A measurement: first an invalid value, which is refused with the focus on the field.
    page.get_by_role("row").filter(has_text="RD-SPEND").get_by_role("link", name="Log measurement").click()
    page.get_by_label("Date").fill((today - datetime.timedelta(days=1)).isoformat())
    page.get_by_label("Value (trillion yuan)").fill("1e20")
    page.get_by_role("button", name="Save measurement").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="There is a problem").is_visible()
    assert page.evaluate("document.activeElement.id") == "id_value"
    assert page.get_by_label("Value (trillion yuan)").get_attribute("aria-invalid") == "true"
    page.screenshot(path=ARTIFACTS / "work-measurement-error.png", full_page=True)
    assert serious_axe_violations(page) == []
    page.get_by_label("Value (trillion yuan)").fill("1.26")
    page.get_by_label("Note").fill("Q3 estimate from the statistics office")
    page.get_by_role("button", name="Save measurement").click()
    page.wait_for_load_state()
    message = page.locator(".message-success").inner_text()
    assert "Measurement saved: 1.26 trillion yuan" in message
    history = page.get_by_role("table").filter(has_text="Q3 estimate")
    assert "Chen Jing" in history.inner_text() and "1.26" in history.inner_text()
    assert status_text(page) != "Not computed"
    assert f"Status: {status_text(page)}." in message
    page.screenshot(path=ARTIFACTS / "work-kpi-page.png", full_page=True)
    assert serious_axe_violations(page) == []

    # A milestone update from My work.
    page.get_by_role("link", name="My work").first.click()
    page.get_by_role("row").filter(has_text="Open the shared pilot line").get_by_role("link", name="Update").click()
    page.screenshot(path=ARTIFACTS / "work-milestone-form.png", full_page=True)
    page.get_by_label("Percent complete").fill("80")
    page.get_by_label("State").select_option("in_progress")
    page.get_by_label("Note").fill("Equipment installed")
    # Meanwhile a colleague logs progress: the first save is refused, the typed values are kept.
    services.milestone_progress_record(
        milestone=milestone, percent_complete=50, state=MilestoneState.IN_PROGRESS, note="Site ready", author=colleague
    )
    page.get_by_role("button", name="Save progress").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert "changed by Wang Fang at" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.get_by_label("Percent complete").input_value() == "80"
    assert page.get_by_label("Note").input_value() == "Equipment installed"
    page.screenshot(path=ARTIFACTS / "work-milestone-conflict.png", full_page=True)
    assert serious_axe_violations(page) == []
    page.get_by_role("button", name="Save progress").click()
    page.wait_for_load_state()
    message = page.locator(".message-success").inner_text()
    assert "Progress saved: 80% · In progress." in message
    row = page.get_by_role("row").filter(has_text="Equipment installed")
    assert "50%" in row.inner_text() and "80%" in row.inner_text() and "Chen Jing" in row.inner_text()
    assert "Wang Fang" in page.get_by_role("row").filter(has_text="Site ready").inner_text()
    assert status_text(page) != "Not computed"
    assert f"Status: {status_text(page)}." in message
    page.screenshot(path=ARTIFACTS / "work-milestone-page.png", full_page=True)
    assert serious_axe_violations(page) == []
