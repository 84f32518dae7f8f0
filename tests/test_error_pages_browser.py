"""The 404 and 500 pages in Chromium, on a desktop and a 390 px phone: nothing wider than the screen, the favicon
served; screenshots under test-artifacts/."""

import pytest

from tests.conftest import ARTIFACTS, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.error_urls")]

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(autouse=True)
def production_mode(settings):
    settings.DEBUG = False


def assert_fits(page, width: int):
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    card = page.locator(".error-page").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= width


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("device", WIDTHS)
def test_404_page_fits_and_leads_back_to_the_plans(page, device):
    UserFactory(username="reader", role="staff")
    page.set_viewport_size({"width": WIDTHS[device], "height": 800})
    sign_in(page, "reader")
    response = page.goto("/plans/no-such-plan/")
    assert response.status == 404
    page.get_by_role("heading", level=1, name="Page not found").wait_for()
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert_fits(page, WIDTHS[device])
    page.screenshot(path=ARTIFACTS / f"error-404-{device}.png", full_page=True)
    page.get_by_role("link", name="Go to the plans").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1, name="Page not found").count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("device", WIDTHS)
def test_500_page_fits_with_the_sites_frame_and_favicon(page, device):
    page.set_viewport_size({"width": WIDTHS[device], "height": 800})
    response = page.goto("/test-errors/500/")
    assert response.status == 500
    page.get_by_role("heading", level=1, name="Something went wrong").wait_for()
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(16, 42, 76)"
    assert_fits(page, WIDTHS[device])
    for icon in page.locator("link[rel=icon]").all():
        assert page.request.get(icon.get_attribute("href")).ok
    page.screenshot(path=ARTIFACTS / f"error-500-{device}.png", full_page=True)
