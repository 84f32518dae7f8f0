"""Security headers: the content security policy, Permissions-Policy, Referrer-Policy, no-store on private
responses, no server banner from the app; templates free of inline script and style; the API docs render."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import KPIFactory, api_client, api_token

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.fixture
def kpi(team):
    return KPIFactory(goal__owner_team=team)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def test_pages_get_a_policy_of_their_own_origin_without_inline_scripts_or_framing(manager_client, kpi):
    policy = directives(manager_client.get(reverse("plans:dashboard", args=[kpi.plan.slug])))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


def test_the_sign_in_page_gets_the_policy_too(client):
    assert directives(client.get(reverse("login")))["frame-ancestors"] == ["'none'"]


def test_every_response_switches_off_camera_microphone_and_geolocation(client):
    permissions = client.get(reverse("login"))["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in permissions


def test_referrer_policy_is_same_origin(client):
    assert client.get(reverse("login"))["Referrer-Policy"] == "same-origin"


def test_pages_for_a_signed_in_user_are_not_stored(manager_client, kpi):
    response = manager_client.get(reverse("plans:dashboard", args=[kpi.plan.slug]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_exports_are_not_stored(manager_client, kpi):
    response = manager_client.get(reverse("plans:dashboard_export", args=[kpi.plan.slug, "kpis", "csv"]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_api_responses_are_not_stored(db):
    _, key = api_token(scope="read")
    response = api_client(key).get("/api/v1/plans/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_api_errors_to_anonymous_callers_are_not_stored_either(client):
    response = client.get("/api/v1/plans/")
    assert response.status_code in (401, 403)
    assert response["Cache-Control"] == "no-store"


def test_static_files_keep_their_caching_for_a_signed_in_user(manager_client):
    response = manager_client.get(settings.STATIC_URL + "css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_the_app_adds_no_server_or_framework_banner(manager_client, kpi):
    response = manager_client.get(reverse("plans:dashboard", args=[kpi.plan.slug]))
    assert "Server" not in response
    assert "X-Powered-By" not in response


def test_templates_have_no_inline_scripts_event_handlers_or_style_attributes():
    found = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "nonce=" not in tag:
                found.append(f"{template.name}: {tag}")
        found += [f"{template.name}: {m}" for m in re.findall(r"\s(?:on[a-z]+|style)=\"", text)]
        if template.parent.name != "drf_spectacular":  # the API docs' own styles, allowed on those pages only
            found += [f"{template.name}: <style>" for _ in re.findall(r"<style\b", text)]
    assert found == []


def test_the_swagger_page_runs_its_one_inline_script_under_the_nonce(client):
    response = client.get("/api/docs/")
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.content.decode())
    assert inline == [f' nonce="{nonce}"']


def test_redoc_loads_no_web_fonts_from_outside(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    assert "fonts.googleapis.com" not in response.content.decode()
    assert "'unsafe-inline'" in directives(response)["style-src"]


def test_the_browsable_api_may_use_inline_styles_but_no_inline_script(manager_client):
    policy = directives(manager_client.get("/api/v1/plans/", HTTP_ACCEPT="text/html"))
    assert "'unsafe-inline'" in policy["style-src"]
    assert policy["script-src"] == ["'self'"]


def csp_messages(page) -> list[str]:
    """The console's messages about the content security policy (refused scripts, styles, images), from now on."""
    messages: list[str] = []

    def collect(message):
        if "Content Security Policy" in message.text:
            messages.append(message.text)

    page.on("console", collect)
    return messages


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_under_the_policy(page):
    refused = csp_messages(page)
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").filter(has_text="Action Plan Tracker API").wait_for()
    page.locator(".opblock-tag").first.wait_for()
    assert refused == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_redoc_renders_under_the_policy(page):
    refused = csp_messages(page)
    page.goto("/api/redoc/")
    page.get_by_role("heading", level=1).filter(has_text="Action Plan Tracker API").wait_for()
    page.get_by_text("measurements", exact=True).first.wait_for()
    # ReDoc's credit logo from its CDN is never even asked for (static/js/redoc-offline.js).
    assert refused == []


def test_swagger_ui_shows_no_online_validator_badge(client):
    # The badge is an image from validator.swagger.io carrying the schema's address.
    assert '"validatorUrl": null' in client.get("/api/docs/").content.decode()
