"""The demo plan's dashboard in a real browser: filtered blocks agree, every "Why?" panel fits its box, and the
dashboard, My work and item pages hold at 390 px. Screenshots (en and zh-hans, desktop and phone) are kept under
test-artifacts/screenshots/."""

import pytest
from django.core.management import call_command

from plans.models import Plan
from plans.recompute import plan_backfill, plan_recompute
from tests.conftest import ARTIFACTS, sign_in
from tests.test_security_headers import csp_messages

SLUG = "high-tech-zones-2025"
SHOTS = ARTIFACTS / "screenshots"

# What the page's blocks count, read from the page: tiles and cards by kind of item, and the tables' counts.
BLOCKS = """() => {
  const sum = (selector) => {
    const totals = {};
    document.querySelectorAll(selector).forEach((e) => {
      totals[e.dataset.kind] = (totals[e.dataset.kind] || 0) + Number(e.dataset.n);
    });
    return totals;
  };
  const count = (id) => Number(document.querySelector("#" + id + " .count").textContent.replace(/[^0-9]/g, ""));
  const attention = [".tile-overdue", ".tile-off_track", ".tile-at_risk"]
    .map((t) => ".headline " + t + " [data-kind]").join(", ");
  return {
    tiles: sum(".headline .tile-parts [data-kind]"),
    attention: sum(attention),
    cards: sum(".area-matching [data-kind]"),
    goals: document.querySelectorAll(".goal-table tbody td.col-status").length,
    kpis: count("kpis-heading"),
    milestones: count("milestones-heading"),
  };
}"""

# A "Why?" panel's box and what it holds: nothing inside may be wider than its box, nor the box than the window.
PANEL_FIT = """(panel) => {
  const body = panel.querySelector(".why-body");
  const box = body.getBoundingClientRect();
  const inner = [body, ...body.querySelectorAll(".table-wrap")].map((e) => [e.scrollWidth, e.clientWidth]);
  return {inner: inner, left: box.left, right: box.right, window: document.documentElement.clientWidth};
}"""

# Where each table's status header is: it must be within the window (sticky at the right edge of its frame).
STATUS_COLUMNS = """() => [...document.querySelectorAll("table.data th.col-status")]
  .filter((th) => th.offsetParent !== null)
  .map((th) => { const r = th.getBoundingClientRect(); return [r.left, r.right]; })"""


def demo_plan() -> Plan:
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    plan_backfill(plan_id=plan.pk)
    plan_recompute(plan_id=plan.pk)
    return plan


def assert_blocks_agree(page, *, status_picked: bool) -> dict:
    blocks = page.evaluate(BLOCKS)
    tiles = blocks["tiles"]
    assert tiles.get("goal", 0) == blocks["goals"]
    assert tiles.get("kpi", 0) == blocks["kpis"]
    milestones = tiles if status_picked else blocks["attention"]
    assert milestones.get("milestone", 0) == blocks["milestones"]
    assert blocks["cards"] == {kind: n for kind, n in tiles.items() if kind != "focus_area"}
    return blocks


def assert_panels_fit(page, name: str) -> int:
    """Open every "Why?" panel of the page in turn; each one's content fits its box, and the box the window."""
    panels = page.locator("details.why")
    for i in range(panels.count()):
        panel = panels.nth(i)
        if not panel.evaluate("(d) => d.open"):
            panel.locator("summary").click()
        if panel.get_attribute("data-why-src"):  # a table row's panel: fetched when opened
            for _ in range(200):
                if panel.get_attribute("data-why-state") == "loaded":
                    break
                page.wait_for_timeout(25)
            assert panel.get_attribute("data-why-state") == "loaded", (name, i)
        fit = panel.evaluate(PANEL_FIT)
        for scroll, client in fit["inner"]:
            assert scroll <= client + 1, (name, i, fit)
        assert fit["left"] >= -1 and fit["right"] <= fit["window"] + 1, (name, i, fit)
        if i == 0:
            page.screenshot(path=SHOTS / f"why-{name}.png")
        if "why-drawer" in (panel.get_attribute("class") or ""):
            page.keyboard.press("Escape")
            assert not panel.evaluate("(d) => d.open")
    return panels.count()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_filtered_dashboard_agrees_with_itself_and_every_why_panel_fits(page):
    demo_plan()
    SHOTS.mkdir(parents=True, exist_ok=True)
    refused = csp_messages(page)
    sign_in(page, "manager", "manager-demo-2025")
    page.goto(f"/plans/{SLUG}/")
    area = page.locator("#id_focus_area option").nth(1).get_attribute("value")
    page.locator("#id_focus_area").select_option(area)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**focus_area={area}**")
    blocks = assert_blocks_agree(page, status_picked=False)
    assert blocks["kpis"] > 0
    page.screenshot(path=SHOTS / "dashboard-filtered-en-desktop.png", full_page=True)

    # A tile is a link to the same filters and its status: the tables then list exactly what it counted.
    tile = page.locator(".headline a.tile-link").first
    tile.click()
    page.wait_for_url("**status=**")
    assert f"focus_area={area}" in page.url
    assert len(page.evaluate(BLOCKS)["tiles"]) >= 1
    assert_blocks_agree(page, status_picked=True)
    assert page.locator(".headline .tile").count() == 1

    # Every "Why?" panel on every level: the plan, focus areas, goals, KPIs, milestones.
    page.goto(f"/plans/{SLUG}/")
    assert assert_panels_fit(page, "dashboard") > 10
    for link in (".area-card h3 a", ".goal-table tbody td a", ".kpi-table .code-link", ".milestone-table tbody td a"):
        page.goto(f"/plans/{SLUG}/")
        href = page.locator(link).first.get_attribute("href")
        page.goto(href)
        assert assert_panels_fit(page, href.strip("/").split("/")[-2]) >= 1
    assert refused == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_my_work_and_item_pages_hold_at_390_px_in_both_languages(page, live_server):
    demo_plan()
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, "manager", "manager-demo-2025")
    page.goto(f"/plans/{SLUG}/")
    pages = {
        "dashboard": f"/plans/{SLUG}/",
        "my-work": "/my-work/",
        "kpi": page.locator(".kpi-table .code-link").first.get_attribute("href"),
        "goal": page.locator(".goal-table tbody td a").first.get_attribute("href"),
        "milestone": page.locator(".milestone-table tbody td a").first.get_attribute("href"),
        "changes": f"/plans/{SLUG}/changes/?since=2025-10-01",
    }
    for language in ("en", "zh-hans"):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        for width, height, device in [(1280, 900, "desktop"), (390, 844, "phone")]:
            page.set_viewport_size({"width": width, "height": height})
            for name, url in pages.items():
                page.goto(url)
                assert page.locator("html").get_attribute("lang").lower().startswith(language[:2])
                page.screenshot(path=SHOTS / f"{name}-{language}-{device}.png", full_page=True)
                # Every scroll frame can be reached with the keyboard and is named.
                for frame in page.locator(".table-wrap").all():
                    assert frame.get_attribute("tabindex") == "0" and frame.get_attribute("role") == "region", name
                    assert frame.get_attribute("aria-label") or frame.get_attribute("aria-labelledby"), name
                if device == "phone":
                    # Nothing wider than the window: wide tables scroll inside their frames.
                    assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, language)
                    for left, right in page.evaluate(STATUS_COLUMNS):
                        assert left >= 0 and right <= width + 1, (name, language, left, right)
