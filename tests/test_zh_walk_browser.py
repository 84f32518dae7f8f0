"""A Chinese reader's walk through the app: a browser in zh-CN signs in and reads home, My work, a form with
its errors, the dashboard with its "Why?" panels open, a KPI chart and an export, and none of them shows an
English string of the app. It reads the compiled catalogue (locale/zh_Hans/LC_MESSAGES/django.mo, built
by the install steps), so it passes once every string of the app is translated.

What may stay in Latin letters: codes (RD-INDEX, AH-HF), a short allow-list of abbreviations and units
read the same in Chinese (KPI, CSV, API ...), numbers, and plan content that has no Chinese value yet
(the page falls back to English there; that is the content's gap, not the app's). Text marked with
another ``lang`` (the switcher's "English") is left out.
"""

import csv
import io
import re

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from plans.models import KPI, Plan, ReportingUnit
from plans.models.bilingual import Bilingual
from plans.recompute import plan_backfill, plan_recompute
from tests.conftest import ARTIFACTS, CHROMIUM_ARGS
from tests.test_accessibility_browser import open_every_panel
from tests.test_dashboard_browser import SLUG, axe_violations, wait_for_charts

CATALOGUE = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
# Read the same in a Chinese text: abbreviations, file formats, standards and the demo's units.
ALLOWED = {
    "KPI", "KPIs", "API", "CSV", "XLSX", "Excel", "JSON", "ID", "URL", "HTTP", "HTTPS", "WCAG", "AA", "GB", "T",
    "axe-core", "SPI", "GDP", "R&D", "Token", "e-mail", "PDF", "ISO",
}  # fmt: skip
# Proper names the Chinese text cites as they are: the demo's English-language source and its title.
CITED = [
    "China's Action Plan for National High-Tech Zones to Driving Innovation and Future Growth",
    "Institute for China Studies",
]
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'’&][A-Za-z0-9]+)*")
CODE = re.compile(r"[A-Z0-9][A-Z0-9._-]*")
# The page's words as a reader (or a screen reader) gets them: text, and the names and hints in attributes;
# scripts, styles and text marked with another language left out.
PAGE_TEXT = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("script, style, template, [lang]:not([lang^='zh'])").forEach(el => el.remove());
    const parts = [document.title, body.textContent];
    body.querySelectorAll("[aria-label], [title], [placeholder], [alt]").forEach(el => {
        for (const name of ["aria-label", "title", "placeholder", "alt"]) {
            if (el.hasAttribute(name)) { parts.push(el.getAttribute(name)); }
        }
    });
    return parts.join("\\n");
}"""


def untranslated_content() -> list[str]:
    """Plan content shown in English because it has no Chinese value, longest first."""
    found = set()
    for model in apps.get_models():
        if issubclass(model, Bilingual):
            for row in model.objects.values(*model.BILINGUAL_FIELDS, *(f"{f}_zh" for f in model.BILINGUAL_FIELDS)):
                found.update(row[f] for f in model.BILINGUAL_FIELDS if row[f] and not row[f"{f}_zh"])
    found.update(ReportingUnit.objects.filter(name_zh="").values_list("name_en", flat=True))
    for first, last in get_user_model().objects.values_list("first_name", "last_name"):
        found.update(name for name in (first, last, f"{first} {last}".strip()) if name)
    found.update(get_user_model().objects.values_list("username", flat=True))
    return sorted(found, key=len, reverse=True)


def english_words(text: str, content: list[str]) -> list[str]:
    """The Latin-letter words of ``text`` that are neither codes, nor allowed, nor plan content."""
    for value in [*content, *CITED]:
        text = text.replace(value, " ")
    words = [w for w in LATIN_WORD.findall(text) if w not in ALLOWED and not CODE.fullmatch(w)]
    return sorted(set(words))


@pytest.fixture
def zh_page(chromium_path, live_server, monkeypatch):
    """A Playwright page in a Chinese browser: zh-CN locale and Accept-Language."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": 1280, "height": 900},
            locale="zh-CN",
            extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
        )
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def test_english_words_keeps_the_apps_words_and_drops_codes_units_and_content():
    content = ["Annual growth of the zones' innovation index"]
    text = "RD-INDEX Annual growth of the zones' innovation index · 按计划推进 · KPI · 19.3万亿元 · Show the numbers"
    assert english_words(text, content) == ["Show", "numbers", "the"]
    assert english_words("状态 IC-GDP CSV Excel 2025年6月30日", []) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_chinese_browser_reads_the_app_in_chinese_only(zh_page):
    page = zh_page
    assert CATALOGUE.exists(), f"{CATALOGUE} is missing: the install steps compile it (manage.py compilemessages)"
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    plan_backfill(plan_id=plan.pk)
    plan_recompute(plan_id=plan.pk)
    kpi = KPI.objects.get(plan=plan, code="RD-INDEX")
    content = untranslated_content()

    page.goto("/accounts/login/")
    assert page.evaluate("document.documentElement.lang") == "zh-hans"  # from Accept-Language alone
    leftovers = {"sign-in": english_words(page.evaluate(PAGE_TEXT), content)}
    page.locator("input[name=username]").fill("manager")
    page.locator("input[name=password]").fill("manager-demo-2025")
    page.locator("form[data-validated-form] button[type=submit]").click()
    page.wait_for_load_state()

    walk = {
        "home": "/",
        "my-work": "/my-work/",
        "form-with-errors": f"/kpis/{kpi.pk}/measurements/new/",
        "dashboard": f"/plans/{SLUG}/",
        "kpi-chart": f"/plans/{SLUG}/kpis/{kpi.code}/",
    }
    found_axe = {}
    for name, path in walk.items():
        page.goto(path)
        if name == "form-with-errors":
            page.locator("form[data-validated-form] button[type=submit]").first.click()
            page.wait_for_load_state()
            assert page.locator(".error-summary, [role=alert]").first.is_visible()
        if name in ("dashboard", "kpi-chart"):
            wait_for_charts(page)
        open_every_panel(page)
        leftovers[name] = english_words(page.evaluate(PAGE_TEXT), content)
        page.screenshot(path=ARTIFACTS / f"zh-walk-{name}.png", full_page=True)
        if violations := axe_violations(page, f"zh-walk-{name}"):
            found_axe[name] = violations
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=ARTIFACTS / f"zh-walk-{name}-phone.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    export = page.request.get(f"/plans/{SLUG}/export/kpis.csv")
    assert export.ok
    header = next(csv.reader(io.StringIO(export.text().lstrip("\ufeff"))))
    leftovers["export"] = english_words(" ".join(header), content)

    assert {name: words for name, words in leftovers.items() if words} == {}
    assert found_axe == {}
