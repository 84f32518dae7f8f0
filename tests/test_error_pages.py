"""The 403, 404, 500 and CSRF failure pages: the site's frame and navigation, in production mode (DEBUG off)."""

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from tests.factories import UserFactory

pytestmark = pytest.mark.urls("tests.error_urls")


@pytest.fixture(autouse=True)
def production_mode(settings):
    settings.DEBUG = False


def template_names(response) -> list[str]:
    return [template.name for template in response.templates]


def assert_site_frame(html: str, *, nav: bool = True):
    """The header with the brand (and the main navigation), the favicon and the site's stylesheets; the card's
    ways on (the plans, my work) whoever reads it."""
    assert 'class="site-header"' in html and 'class="brand"' in html
    assert ('aria-label="Main"' in html and 'href="/api/docs/"' in html) is nav
    assert "Go to the plans" in html and 'href="/my-work/"' in html
    assert "/static/favicon.svg" in html and "/static/favicon.ico" in html
    assert "/static/css/app.css" in html and "/static/css/errors.css" in html


@pytest.mark.django_db
def test_unknown_address_gets_the_styled_404_with_navigation(client):
    client.force_login(UserFactory(username="reader", role="staff"))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "404.html" in template_names(response)
    html = response.content.decode()
    assert_site_frame(html)
    assert "Page not found" in html and "/no-such-page/" in html
    assert "Sign out" in html  # the signed-in user's menu, as on every page


@pytest.mark.django_db
def test_refused_page_gets_the_styled_403_with_its_reason(client):
    client.force_login(UserFactory(username="reader", role="staff"))
    response = client.get("/test-errors/403/")
    assert response.status_code == 403
    assert "403.html" in template_names(response)
    html = response.content.decode()
    assert_site_frame(html)
    assert "Not allowed" in html and "Only managers reopen periods." in html


@pytest.mark.django_db
def test_staff_refused_a_managers_page_gets_the_styled_403(client):
    client.force_login(UserFactory(username="reader", role="staff"))
    response = client.get("/units/register/")
    assert response.status_code == 403
    assert "403.html" in template_names(response)


def test_server_error_gets_the_styled_500_without_touching_the_database():
    # No django_db mark: any query while handling or rendering would fail this test.
    client = Client(raise_request_exception=False)
    response = client.get("/test-errors/500/")
    assert response.status_code == 500
    assert "500.html" in template_names(response)
    html = response.content.decode()
    assert_site_frame(html)
    assert "Something went wrong" in html


def test_500_renders_without_a_request_or_context_processors():
    html = render_to_string("500.html")
    assert_site_frame(html)
    assert "Error 500" in html


@pytest.mark.django_db
def test_form_sent_without_its_csrf_token_gets_the_styled_csrf_page():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "someone", "password": "x"})
    assert response.status_code == 403
    assert "403_csrf.html" in template_names(response)
    html = response.content.decode()
    assert_site_frame(html, nav=False)  # signed out: the header shows no menu, as on the sign-in page
    assert "The form could not be sent" in html and "Nothing was changed" in html


@pytest.mark.django_db
def test_signed_in_user_keeps_the_menu_on_the_csrf_page():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="reader", role="staff"))
    response = client.post("/notifications/read-all/")
    assert response.status_code == 403
    assert "403_csrf.html" in template_names(response)
    assert "Sign out" in response.content.decode()


def test_error_pages_speak_the_readers_language():
    with translation.override("zh-hans"):
        html = render_to_string("500.html")
    assert 'lang="zh-hans"' in html
