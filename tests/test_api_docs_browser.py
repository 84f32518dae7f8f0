"""Swagger UI and ReDoc render from our own origin only: every request to another host is refused and counted,
and so is any the content security policy had to stop (the browser never sends those, but the page asked)."""

from urllib.parse import urlsplit

import pytest

from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def outside_requests(page, live_server):
    """Abort every request to a host other than the live server's; return the list of those attempted."""
    local = urlsplit(live_server.url).netloc
    attempted: list[str] = []

    def route(route):
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != local:
            attempted.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", route)
    page.on("console", lambda message: "Content Security Policy" in message.text and attempted.append(message.text))
    return attempted


def test_swagger_ui_renders_the_api_with_no_outside_request(page, outside_requests):
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").filter(has_text="Action Plan Tracker API").wait_for()
    page.locator(".opblock-tag").filter(has_text="measurements").first.wait_for()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / "api-docs-swagger.png")
    assert outside_requests == []


def test_redoc_renders_the_api_with_no_outside_request(page, outside_requests):
    page.goto("/api/redoc/")
    page.get_by_role("heading", level=1).filter(has_text="Action Plan Tracker API").wait_for()
    page.get_by_text("measurements", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / "api-docs-redoc.png")
    assert outside_requests == []
