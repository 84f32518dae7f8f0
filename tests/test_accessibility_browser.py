"""axe-core (vendored from npm, static/vendor/axe-core) on the app's main pages, in English and in Chinese,
with every "Why?" panel and details element open: no serious or critical violation anywhere."""

import pytest
from django.core.management import call_command

from plans.models import KPI, FocusArea, Goal, Milestone, Plan
from plans.recompute import plan_backfill, plan_recompute
from tests.conftest import ARTIFACTS, sign_in
from tests.test_dashboard_browser import SLUG, axe_violations
from tests.test_security_headers import csp_messages

# Opens every details element but the "Why?" drawers (one is open at a time: static/js/dashboard.js); a table
# row's "Why?" fetches its explanation when opened.
OPEN_ALL = "() => document.querySelectorAll('details:not(.why-drawer)').forEach(d => { d.open = true; })"
LAZY_PENDING = "() => document.querySelectorAll('details[data-why-src]:not([data-why-state=\"loaded\"])').length"
DRAWERS = "() => document.querySelectorAll('details.why-drawer').length"
DRAWER_PENDING = (
    "() => { const d = document.querySelectorAll('details.why-drawer')[%d];"
    " return !d.dataset.whySrc || d.dataset.whyState === 'loaded' ? 0 : 1; }"
)
OPEN_DRAWER = "(i) => { document.querySelectorAll('details.why-drawer')[i].open = true; }"
# Once each drawer has loaded, every one is shown in place at once, so the checks read every explanation.
ALL_IN_PLACE = (
    "() => document.querySelectorAll('details.why-drawer').forEach(d => { d.classList.remove('why-drawer');"
    " d.open = true; })"
)


def _wait_loaded(page, pending: str) -> None:
    for _attempt in range(100):  # polled from here: a wait_for_function predicate is eval'd, which the CSP refuses
        if page.evaluate(pending) == 0:
            return
        page.wait_for_timeout(100)
    raise AssertionError("a “Why?” panel did not load its explanation")


def open_every_panel(page) -> None:
    page.evaluate(OPEN_ALL)
    for index in range(page.evaluate(DRAWERS)):
        page.evaluate(OPEN_DRAWER, index)
        page.wait_for_timeout(20)
    for index in range(page.evaluate(DRAWERS)):  # a drawer closed by the next one before its toggle: open it again
        page.evaluate(OPEN_DRAWER, index)
        _wait_loaded(page, DRAWER_PENDING % index)
    page.evaluate(ALL_IN_PLACE)
    _wait_loaded(page, LAZY_PENDING)


def main_pages(plan) -> dict[str, str]:
    """The pages every check walks, by a short name: each kind of page the app has, once."""
    area = FocusArea.objects.filter(plan=plan).order_by("code").first()
    goal = Goal.objects.filter(plan=plan).order_by("code").first()
    kpi = KPI.objects.get(plan=plan, code="RD-INDEX")
    milestone = Milestone.objects.filter(plan=plan).order_by("due_date", "pk").first()
    base = f"/plans/{SLUG}"
    return {
        "home": "/",
        "my-work": "/my-work/",
        "dashboard": f"{base}/",
        "focus-area": f"{base}/focus-areas/{area.code}/",
        "goal": f"{base}/goals/{goal.code}/",
        "kpi": f"{base}/kpis/{kpi.code}/",
        "milestone": f"{base}/milestones/{milestone.pk}/",
        "plan-zones": f"{base}/zones/",
        "zones": "/zones/",
        "zone": "/zones/AH-HF/",
        "completeness": f"{base}/completeness/",
        "review": f"{base}/review/",
        "notifications": "/notifications/",
        "unit-register": "/units/register/",
        "accessibility": "/accessibility/",
        "form": f"/kpis/{kpi.pk}/measurements/new/",
    }


def choose_language(page, language: str) -> None:
    """The switcher in the header, as a person uses it."""
    page.locator(f".language-switch button[value='{language}']").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == language


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_main_pages_have_no_serious_axe_violations_in_english_and_chinese(page):
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    plan_backfill(plan_id=plan.pk)
    plan_recompute(plan_id=plan.pk)
    pages = main_pages(plan)
    refused = csp_messages(page)
    found = {}
    sign_in(page, "manager", "manager-demo-2025")
    for language in ("en", "zh-hans"):
        choose_language(page, language)
        for name, path in pages.items():
            page.goto(path)
            if name == "form":  # submitted empty: the error summary and the field's error
                page.locator("form[data-validated-form] button[type=submit]").first.click()
                page.wait_for_load_state()
                assert page.locator(".error-summary, [role=alert]").first.is_visible()
            open_every_panel(page)
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                if width == 1280 and name in ("dashboard", "kpi", "accessibility", "form", "home"):
                    page.screenshot(path=ARTIFACTS / f"a11y-{name}-{language}.png", full_page=True)
                violations = axe_violations(page, f"{name}-{language}-{width}")
                if violations:
                    found[f"{name} {language} {width}px"] = violations
            page.set_viewport_size({"width": 1280, "height": 900})
    assert found == {}
    assert refused == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_sign_in_page_and_statement_have_no_serious_axe_violations_signed_out(page):
    for language in ("en", "zh-hans"):
        page.goto("/accounts/login/")
        choose_language(page, language)
        page.locator("form[data-validated-form] button[type=submit]").click()  # empty: errors shown
        page.wait_for_load_state()
        assert axe_violations(page, f"login-{language}") == []
        page.goto("/accessibility/")
        assert axe_violations(page, f"accessibility-anonymous-{language}") == []
        page.screenshot(path=ARTIFACTS / f"accessibility-{language}.png", full_page=True)
