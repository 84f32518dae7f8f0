"""The demo plan's dashboards in a real browser: as-of dates, a KPI chart, its "Why?" panel, axe-core."""

import datetime
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django.utils.formats import date_format

from plans.models import Plan
from plans.recompute import plan_backfill, plan_recompute
from tests.conftest import ARTIFACTS, sign_in
from tests.test_security_headers import csp_messages

# Loaded from the page's own origin: the content security policy refuses an inline copy.
AXE = settings.STATIC_URL + "vendor/axe-core/axe.min.js"
SLUG = "high-tech-zones-2025"


def axe_violations(page, name: str) -> list[dict]:
    """Serious and critical axe-core violations on the page; the full report is kept as an artifact."""
    page.add_script_tag(url="/" + AXE.lstrip("/"))
    report = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
                summary: v.nodes.slice(0, 3).map(n => n.failureSummary),
            }));
        }"""
    )
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(report, indent=2))
    return [v for v in report if v["impact"] in ("serious", "critical")]


def wait_for_charts(page) -> None:
    """Until the charts are drawn and the dashboard's panels are in (a selector: the pages' policy forbids the
    string evaluation wait_for_function polls with)."""
    page.locator("html[data-charts-ready='true']").wait_for(state="attached")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_reads_the_demo_dashboard_as_of_a_month_end_and_a_kpi_forecast_with_its_why(page):
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    plan_backfill(plan_id=plan.pk)
    plan_recompute(plan_id=plan.pk)

    refused = csp_messages(page)
    sign_in(page, "manager", "manager-demo-2025")
    page.goto(f"/plans/{SLUG}/")
    assert page.get_by_role("heading", level=1, name=plan.name).is_visible()
    assert page.get_by_role("note").filter(has_text="Demo data").is_visible()
    closure = page.get_by_role("note").filter(has_text="Plan period ended on 2025-12-31; final figures: 10 of 13 in.")
    assert closure.is_visible()
    wait_for_charts(page)
    assert page.locator("canvas[data-chart='trend']").is_visible()
    page.screenshot(path=ARTIFACTS / "dashboard-now.png", full_page=True)
    page.locator("section[aria-labelledby='kpis-heading']").screenshot(path=ARTIFACTS / "dashboard-kpi-table.png")
    page.locator("section[aria-labelledby='areas-heading']").screenshot(path=ARTIFACTS / "dashboard-focus-areas.png")
    assert axe_violations(page, "dashboard") == []
    assert refused == []

    page.get_by_label("As of").fill("2025-06-30")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**as_of=2025-06-30**")
    assert page.get_by_text("As it stood on").is_visible()
    wait_for_charts(page)
    page.screenshot(path=ARTIFACTS / "dashboard-2025-06-30.png", full_page=True)

    # RD-INDEX has no final figure: the page says when it is due and the "Why?" gives the forecast.
    page.get_by_role("link", name="RD-INDEX", exact=True).click()
    page.wait_for_url(f"**/plans/{SLUG}/kpis/RD-INDEX/?as_of=2025-06-30")
    assert page.get_by_role("heading", level=1).inner_text().startswith("RD-INDEX")
    page.get_by_label("As of").fill("")  # back to now
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/plans/{SLUG}/kpis/RD-INDEX/?as_of=")
    wait_for_charts(page)
    assert page.locator("#kpi-chart").is_visible()
    # The forecast stands in until the annual KPI's final figure is due, 366 days after its target date (rule 8).
    due_by = datetime.date(2027, 1, 1)
    if timezone.localdate() <= due_by:
        note = f"final figure due by {date_format(due_by, 'SHORT_DATE_FORMAT')}"
        assert page.locator(".status-card").get_by_text(note).is_visible()
    else:
        assert page.locator(".status-card").get_by_text("Final figure overdue").is_visible()
    why = page.locator(".status-card details.why")
    why.locator("summary").click()
    assert why.get_by_text("Forecast").first.is_visible()
    assert "of the required change" in why.inner_text()
    page.screenshot(path=ARTIFACTS / "kpi-rd-index.png", full_page=True)
    assert axe_violations(page, "kpi") == []
    assert refused == []

    page.goto(f"/plans/{SLUG}/goals/BT-3/")
    wait_for_charts(page)
    assert page.get_by_role("heading", name="Milestone timeline").is_visible()
    page.screenshot(path=ARTIFACTS / "goal-bt-3.png", full_page=True)
    page.goto(f"/plans/{SLUG}/goals/RD-1/")
    wait_for_charts(page)
    page.screenshot(path=ARTIFACTS / "goal-rd-1.png", full_page=True)

    page.goto(f"/plans/{SLUG}/")
    wait_for_charts(page)
    page.emulate_media(media="print")
    page.screenshot(path=ARTIFACTS / "dashboard-print.png", full_page=True)
    page.emulate_media(media="screen")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/plans/{SLUG}/")
    wait_for_charts(page)
    page.screenshot(path=ARTIFACTS / "dashboard-phone.png", full_page=True)
    page.screenshot(path=ARTIFACTS / "dashboard-phone-top.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # tables scroll inside, not the page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_table_rows_why_panel_loads_its_explanation_when_opened_on_a_desktop_and_a_phone(page):
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    plan_recompute(plan_id=plan.pk)

    refused = csp_messages(page)
    sign_in(page, "manager", "manager-demo-2025")
    for width, height, name in [(1280, 900, "desktop"), (390, 844, "phone")]:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/plans/{SLUG}/")
        row = page.locator("section[aria-labelledby='kpis-heading'] tbody tr").first
        panel = row.locator("details.why")
        fallback = panel.locator("a", has_text="Read the explanation on its page")
        assert fallback.count() == 1  # before it opens: the link to the KPI's page
        panel.locator("summary").click()
        # A locator wait, not wait_for_function: a polled string predicate is eval'd, which the CSP refuses.
        page.locator('details.why[data-why-state="loaded"]').first.wait_for()
        assert fallback.count() == 0
        assert panel.locator(".why-body p").first.is_visible()
        assert "Computed as of" in panel.inner_text()
        panel.screenshot(path=ARTIFACTS / f"dashboard-lazy-why-{name}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_violations(page, f"dashboard-lazy-why-{name}") == []
    assert refused == []
