"""In-app notifications: the header badge's unread count, the page with mark-as-read, the API; each user sees
and marks only their own."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans.models import Notification
from tests.factories import UserFactory, api_client, api_token


def notify(user, title, *, read=False):
    from django.utils import timezone

    return Notification.objects.create(
        recipient=user, title=title, body=f"{title} body", url="/my-work/", read_at=timezone.now() if read else None
    )


@pytest.fixture
def inbox(staff, other_staff):
    """staff: two unread, one read; other_staff: one unread."""
    return {
        "unread": [notify(staff, "First"), notify(staff, "Second")],
        "read": notify(staff, "Old", read=True),
        "other": notify(other_staff, "Not yours"),
    }


def notification_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "plans_notification" in q["sql"]]


def test_badge_shows_the_unread_count_in_one_query(client, staff, inbox):
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("plans:home"))

    assert response.status_code == 200
    assert b'data-unread="2"' in response.content
    assert len(notification_queries(queries.captured_queries)) == 1


def test_badge_costs_nothing_for_anonymous_visitors(client, inbox):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("login"))

    assert response.status_code == 200
    assert b"data-unread" not in response.content
    assert notification_queries(queries.captured_queries) == []


def test_badge_hidden_when_all_read(client, staff, inbox):
    Notification.objects.filter(recipient=staff).update(read_at="2025-01-01T00:00:00Z")
    client.force_login(staff)

    response = client.get(reverse("plans:home"))

    assert b"data-unread" not in response.content
    assert b"Notifications" in response.content


def test_page_lists_only_own_notifications_newest_first(client, staff, inbox, django_assert_max_num_queries):
    client.force_login(staff)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("plans:notifications"))

    content = response.content.decode()
    assert response.status_code == 200
    assert "First" in content and "Second" in content and "Old" in content
    assert "Not yours" not in content
    assert content.index("Second") < content.index("First")


def test_page_needs_sign_in(client):
    response = client.get(reverse("plans:notifications"))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_mark_one_read(client, staff, inbox):
    client.force_login(staff)
    first = inbox["unread"][0]

    response = client.post(reverse("plans:notification_read", args=[first.pk]))

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None
    assert Notification.objects.filter(recipient=staff, read_at__isnull=True).count() == 1


def test_mark_read_refuses_another_users_notification(client, staff, inbox):
    client.force_login(staff)

    response = client.post(reverse("plans:notification_read", args=[inbox["other"].pk]))

    assert response.status_code == 404
    inbox["other"].refresh_from_db()
    assert inbox["other"].read_at is None


def test_mark_read_needs_post(client, staff, inbox):
    client.force_login(staff)

    response = client.get(reverse("plans:notification_read", args=[inbox["unread"][0].pk]))

    assert response.status_code == 405


def test_mark_read_needs_the_csrf_token(staff, inbox):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post(reverse("plans:notification_read_all"))

    assert response.status_code == 403
    assert Notification.objects.filter(recipient=staff, read_at__isnull=True).count() == 2


def test_mark_all_read_marks_only_own(client, staff, inbox):
    client.force_login(staff)

    response = client.post(reverse("plans:notification_read_all"), follow=True)

    assert response.status_code == 200
    assert not Notification.objects.filter(recipient=staff, read_at__isnull=True).exists()
    inbox["other"].refresh_from_db()
    assert inbox["other"].read_at is None
    assert b"data-unread" not in response.content


def api(user):
    return api_client(user=user)


def test_api_lists_only_own_notifications(staff, inbox, django_assert_max_num_queries):
    client = api(staff)
    with django_assert_max_num_queries(3):  # session, user, the page
        response = client.get("/api/v1/notifications/")

    assert response.status_code == 200
    titles = [row["title"] for row in response.json()["results"]]
    assert sorted(titles) == ["First", "Old", "Second"]


def test_api_filters_unread(staff, inbox):
    response = api(staff).get("/api/v1/notifications/", {"unread": "true"})

    assert sorted(row["title"] for row in response.json()["results"]) == ["First", "Second"]
    assert all(row["read"] is False for row in response.json()["results"])


def test_api_marks_one_read(staff, inbox):
    first = inbox["unread"][0]

    response = api(staff).post(f"/api/v1/notifications/{first.pk}/read/")

    assert response.status_code == 200 and response.json() == {"marked_read": 1}
    first.refresh_from_db()
    assert first.read_at is not None


def test_api_refuses_another_users_notification(staff, inbox):
    client = api(staff)

    assert client.get(f"/api/v1/notifications/{inbox['other'].pk}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{inbox['other'].pk}/read/").status_code == 404
    inbox["other"].refresh_from_db()
    assert inbox["other"].read_at is None


def test_api_marks_all_read(staff, inbox):
    response = api(staff).post("/api/v1/notifications/read-all/")

    assert response.json() == {"marked_read": 2}
    assert not Notification.objects.filter(recipient=staff, read_at__isnull=True).exists()
    assert Notification.objects.filter(read_at__isnull=True).count() == 1  # the other user's


def test_api_token_has_no_notifications(inbox):
    _, key = api_token(scope="read")

    response = api_client(key).get("/api/v1/notifications/")

    assert response.status_code == 200 and response.json()["results"] == []


def test_api_needs_authentication(inbox):
    response = api_client().get("/api/v1/notifications/")

    assert response.status_code in (401, 403)


def test_manager_sees_only_own_too(manager, inbox):
    UserFactory(username="someone")

    response = api(manager).get("/api/v1/notifications/")

    assert response.json()["results"] == []
