"""The site frame around a kept page (plans.views.frame): a warm page renders no template, yet its header is the
viewer's own, current, and every response carries its own valid CSRF token."""

import re

import pytest
from django.test import Client, signals
from django.urls import reverse

from plans.models import Notification
from plans.services.notifications import notifications_changed
from tests.factories import UserFactory
from tests.test_dashboard_views import build_plan

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def plan():
    return build_plan(goals=1)


def pages(plan):
    kpi = plan.kpis.order_by("code").first()
    return [
        reverse("plans:dashboard", args=[plan.slug]),
        reverse("plans:dashboard_kpi", args=[plan.slug, kpi.code]),
        reverse("plans:my_work"),
    ]


def rendered_templates(client, url):
    """The response and the templates it rendered."""
    names = []

    def on_render(sender, template, context, **kwargs):
        names.append(template.name)

    signals.template_rendered.connect(on_render, dispatch_uid="frame-test")
    try:
        response = client.get(url)
    finally:
        signals.template_rendered.disconnect(dispatch_uid="frame-test")
    assert response.status_code == 200, url
    return response, names


def without_tokens(response) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="-"', response.content.decode())


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_warm_page_renders_no_template_and_reads_as_the_cold_one(client, manager, plan, index):
    client.force_login(manager)
    url = pages(plan)[index]
    cold, cold_templates = rendered_templates(client, url)
    warm, warm_templates = rendered_templates(client, url)

    assert "base.html" in cold_templates
    assert warm_templates == []
    assert without_tokens(warm) == without_tokens(cold)


def test_every_warm_response_carries_a_fresh_token_the_csrf_check_accepts(manager, plan):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    url = pages(plan)[0]
    client.get(url)
    first, second = client.get(url), client.get(url)
    first_tokens = set(TOKEN.findall(first.content.decode()))
    second_tokens = set(TOKEN.findall(second.content.decode()))
    # Two forms (sign out, language), one token per response as {% csrf_token %} gives, masked afresh each time.
    assert len(first_tokens) == len(second_tokens) == 1 and first_tokens != second_tokens
    # The language switch posts with the warm page's token and is accepted (a refused token answers 403).
    data = {"language": "zh-hans", "next": url, "csrfmiddlewaretoken": second_tokens.pop()}
    response = client.post(reverse("set_language"), data)
    assert response.status_code == 302
    assert 'lang="zh-hans"' in client.get(url).content.decode()


def test_each_viewer_gets_their_own_frame_of_a_shared_page(client, manager, plan):
    other = UserFactory(username="second-manager", first_name="Ada", last_name="Second", role="manager")
    url = pages(plan)[0]
    client.force_login(manager)
    client.get(url)
    client.get(url)
    client.force_login(other)
    header = client.get(url).content.decode().split("<main")[0]
    assert "<span>Ada Second</span>" in header
    assert f"<span>{manager.get_full_name() or manager.username}</span>" not in header


def test_a_new_notification_shows_on_the_next_warm_page(client, manager, plan):
    client.force_login(manager)
    url = pages(plan)[1]
    client.get(url)
    unread = Notification.objects.filter(recipient=manager, read_at=None).count()
    assert f'data-unread="{unread}"' in client.get(url).content.decode() or unread == 0
    Notification.objects.create(recipient=manager, title="A figure is due")
    notifications_changed([manager.pk])
    assert f'data-unread="{unread + 1}"' in client.get(url).content.decode()


def test_a_flash_message_shows_once_around_a_warm_body(client, manager, plan):
    client.force_login(manager)
    url = pages(plan)[0]
    client.get(url)
    client.get(url)
    Notification.objects.create(recipient=manager, title="A figure is due")
    notifications_changed([manager.pk])
    client.post(reverse("plans:notification_read_all"))  # its message waits for the next page: this one
    shown = client.get(url).content.decode()
    assert "1 notification marked read." in shown
    again = client.get(url).content.decode()
    assert "1 notification marked read." not in again
    assert without_tokens_text(again) != without_tokens_text(shown)


def without_tokens_text(html: str) -> str:
    return TOKEN.sub("-", html)


def test_the_frame_follows_the_viewers_language(client, manager, plan):
    client.force_login(manager)
    url = pages(plan)[0]
    client.get(url)
    english = client.get(url).content.decode().split("<main")[0]
    client.post(reverse("set_language"), {"language": "zh-hans", "next": url})
    client.get(url)
    chinese = client.get(url).content.decode().split("<main")[0]
    assert 'lang="en"' in english and "Sign out" in english
    assert 'lang="zh-hans"' in chinese and "Sign out" not in chinese
