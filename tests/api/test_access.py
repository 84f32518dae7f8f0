"""Who may do what through the API: tokens (scope, team, revocation), sessions, anonymous callers, throttling."""

import datetime
import io

import pytest
from django.core.management import call_command

from plans.api import throttling
from plans.models import KPI, ApiToken, Measurement
from tests.factories import UserFactory, api_client, api_token


def measurement(kpi):
    return {"kpi": kpi.pk, "date": "2025-03-31", "value": 61.0}


def test_create_api_token_prints_the_key_once_and_stores_only_its_hash(team):
    out = io.StringIO()
    call_command("create_api_token", name="bureau", scope="write", team="Team A", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.team, token.prefix) == ("bureau", "write", team, key[:8])
    assert token.key_hash == ApiToken.hash_key(key) != key
    assert api_client(key).get("/api/v1/kpis/").status_code == 200


def test_anonymous_callers_get_401_with_a_token_challenge(db):
    response = api_client().get("/api/v1/kpis/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert api_client().post("/api/v1/measurements/", {}).status_code == 401


def test_an_unknown_or_malformed_token_is_401(db):
    assert api_client("nope").get("/api/v1/kpis/").status_code == 401
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION="Token a b")
    assert client.get("/api/v1/kpis/").status_code == 401


def test_a_revoked_token_is_401(db):
    token, key = api_token(scope="read")
    token.revoke()
    token.save()
    assert api_client(key).get("/api/v1/kpis/").status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(db, django_assert_max_num_queries):
    token, key = api_token(scope="read")
    client = api_client(key)
    client.get("/api/v1/teams/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with django_assert_max_num_queries(2):  # token lookup and the list, no update
        client.get("/api/v1/teams/")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - datetime.timedelta(minutes=2))
    client.get("/api/v1/teams/")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_a_read_token_cannot_write(reader, kpi):
    assert reader.get(f"/api/v1/kpis/{kpi.pk}/").status_code == 200
    assert reader.post("/api/v1/measurements/", measurement(kpi)).status_code == 403
    assert reader.patch(f"/api/v1/kpis/{kpi.pk}/", {"name": "x"}).status_code == 403
    assert reader.delete(f"/api/v1/kpis/{kpi.pk}/").status_code == 403
    assert KPI.objects.get(pk=kpi.pk).version == 1


def test_a_team_token_writes_its_team_items(team_manager, kpi):
    assert team_manager.post("/api/v1/measurements/", measurement(kpi)).status_code == 201
    assert team_manager.patch(f"/api/v1/kpis/{kpi.pk}/", {"name": "Ours"}).status_code == 200


def test_a_team_token_cannot_write_other_teams_items(team_writer, other_kpi):
    assert team_writer.get(f"/api/v1/kpis/{other_kpi.pk}/").status_code == 200
    assert team_writer.post("/api/v1/measurements/", measurement(other_kpi)).status_code == 403
    assert team_writer.patch(f"/api/v1/kpis/{other_kpi.pk}/", {"name": "Theirs"}).status_code == 403
    assert team_writer.delete(f"/api/v1/kpis/{other_kpi.pk}/").status_code == 403
    body = {"measurements": [{"kpi": other_kpi.pk, "date": "2025-03-31", "value": 61.0}]}
    assert team_writer.post("/api/v1/measurements/bulk/", body).status_code == 403
    assert not Measurement.objects.exists()
    assert KPI.objects.get(pk=other_kpi.pk).version == 1


def test_a_team_token_cannot_move_its_item_to_another_team(team_manager, team, other_team, kpi):
    response = team_manager.patch(f"/api/v1/kpis/{kpi.pk}/", {"owner_team": other_team.pk})
    assert response.status_code == 403
    assert KPI.objects.get(pk=kpi.pk).owner_team == team


def test_a_team_token_cannot_create_under_another_teams_goal_by_default(team_manager, other_kpi):
    body = {"goal": other_kpi.goal_id, "title": "Sneaky", "due_date": "2025-06-30"}
    assert team_manager.post("/api/v1/milestones/", body).status_code == 403


def test_a_team_token_cannot_take_over_another_teams_external_id(team_manager, team, other_kpi):
    KPI.objects.filter(pk=other_kpi.pk).update(source="erp", external_id="K-1")
    body = {"goal": other_kpi.goal_id, "code": "X", "name": "x", "unit": "u", "baseline_value": 1,
            "baseline_date": "2024-12-31", "target_value": 2, "target_date": "2025-12-31", "frequency": "annual",
            "owner_team": team.pk}  # fmt: skip
    assert team_manager.put("/api/v1/kpis/by-external-id/erp/K-1/", body).status_code == 403
    assert KPI.objects.get(pk=other_kpi.pk).code == other_kpi.code


def test_session_staff_write_their_team_only(staff, kpi, other_kpi):
    client = api_client(user=staff)
    assert client.get("/api/v1/kpis/").status_code == 200
    assert client.post("/api/v1/measurements/", measurement(kpi)).status_code == 201
    assert client.post("/api/v1/measurements/", measurement(other_kpi)).status_code == 403
    assert Measurement.objects.get().recorded_by == staff


def test_session_manager_writes_every_team(manager, other_kpi):
    client = api_client(user=manager)
    assert client.patch(f"/api/v1/kpis/{other_kpi.pk}/", {"name": "Managed"}).status_code == 200


def test_a_user_without_role_or_team_reads_but_cannot_write(kpi):
    client = api_client(user=UserFactory(username="visitor"))
    assert client.get("/api/v1/kpis/").status_code == 200
    assert client.post("/api/v1/measurements/", measurement(kpi)).status_code == 403


def test_session_writes_need_the_csrf_token(staff, kpi):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post("/api/v1/measurements/", measurement(kpi), format="json").status_code == 403


def test_the_browsable_api_renders_for_a_signed_in_user(staff):
    client = api_client(user=staff)
    response = client.get("/api/v1/kpis/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content


def test_throttling_answers_429_with_retry_after(reader, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/minute"}}
    assert [reader.get("/api/v1/teams/").status_code for _ in range(3)] == [200, 200, 200]
    response = reader.get("/api/v1/teams/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    _, other_key = api_token(scope="read", name="another system")
    assert api_client(other_key).get("/api/v1/teams/").status_code == 200


def test_throttling_fails_open_when_the_cache_is_down(reader, settings, monkeypatch):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "1/minute"}}

    class Down:
        """A cache whose every call fails, as a client does when Redis stops answering."""

        def __getattr__(self, name):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(throttling, "cache", Down())
    assert [reader.get("/api/v1/teams/").status_code for _ in range(3)] == [200, 200, 200]
    assert throttling.cache_breaker.is_down()


def test_anonymous_callers_are_throttled_by_address_whatever_they_forward(db, settings):
    from rest_framework.test import APIClient

    settings.TRACKER_NUM_PROXIES = 0
    # A day's window: the windows are fixed, and the first request (the schema is built) can take seconds, so a
    # minute's window was crossed now and then between the requests, which then counted afresh.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "2/day"}}
    client = APIClient()
    statuses = [client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"6.6.6.{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.redis
def test_throttling_fails_open_against_an_unreachable_redis(reader, settings, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    dead = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    monkeypatch.setattr(throttling, "cache", dead)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "1/minute"}}
    assert [reader.get("/api/v1/teams/").status_code for _ in range(2)] == [200, 200]


def test_a_token_revoked_elsewhere_stops_working_on_its_next_request(db):
    from django.utils import timezone

    token, key = api_token(scope="read")
    client = api_client(key)
    assert client.get("/api/v1/teams/").status_code == 200
    # As the admin's bulk action does it, from another process: no signal reaches this one.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert client.get("/api/v1/teams/").status_code == 401


@pytest.mark.redis
def test_the_throttle_counts_in_one_redis_counter_that_expires_with_its_window(reader, settings, requires_redis):
    import time

    from django.core.cache import cache

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "5/minute"}}
    token = ApiToken.objects.get()
    if time.time() % 60 > 55:  # the requests below must fall in one window
        time.sleep(61 - time.time() % 60)
    window = int(time.time() // 60)
    key = cache.make_and_validate_key(f"throttle:api:token:{token.pk}:{window}")
    redis = cache._cache.get_client(key)
    redis.delete(key)
    redis.set(key, 2)  # a counter that lost its expiry gets one back
    assert [reader.get("/api/v1/teams/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert int(redis.get(key)) == 6 and 0 < redis.ttl(key) <= 61
