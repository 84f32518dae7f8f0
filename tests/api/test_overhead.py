"""What a trivial API request does not pay for: a filterset without a query string, the model introspection of
its serializer once the class has built its fields, a new Redis client for the throttle."""

import pytest
from django.core.cache.backends.redis import RedisCacheClient
from rest_framework import serializers

from plans.api.filters import StrictFilterBackend
from plans.api.serializers import KPISerializer
from tests.factories import api_client, api_token


def counting(monkeypatch, cls, name: str) -> list:
    """Calls of ``cls.name`` from now on, each recorded as one item of the returned list."""
    calls, original = [], getattr(cls, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, spy)
    return calls


def test_a_detail_without_a_query_string_builds_no_filterset_nor_model_fields(team, monkeypatch):
    _, key = api_token(scope="read")
    client = api_client(key)
    assert client.get(f"/api/v1/teams/{team.pk}/").status_code == 200  # the serializer class builds its fields
    filtersets = counting(monkeypatch, StrictFilterBackend, "get_filterset")
    model_fields = counting(monkeypatch, serializers.ModelSerializer, "build_field")
    response = client.get(f"/api/v1/teams/{team.pk}/")
    assert response.status_code == 200 and response.json()["name"] == team.name
    assert (filtersets, model_fields) == ([], [])


def test_a_detail_with_a_query_string_is_still_filtered(team):
    _, key = api_token(scope="read")
    client = api_client(key)
    assert client.get(f"/api/v1/teams/{team.pk}/", {"updated_since": "2000-01-01T00:00:00Z"}).status_code == 200
    assert client.get(f"/api/v1/teams/{team.pk}/", {"updated_since": "2999-01-01T00:00:00Z"}).status_code == 404
    assert client.get(f"/api/v1/teams/{team.pk}/", {"updated_since": ""}).status_code == 400


def test_each_serializer_gets_its_own_copy_of_the_fields_its_class_built_once(kpi):
    first, second = KPISerializer(kpi, context={"expand": frozenset()}), KPISerializer(kpi, context={})
    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second
    assert "explanation" not in first.fields and "explanation" in second.fields
    assert first.data["name"] == second.data["name"] == kpi.name


@pytest.mark.redis
def test_the_throttle_reuses_one_redis_client(team, monkeypatch, requires_redis):
    _, key = api_token(scope="read")
    client = api_client(key)
    assert client.get(f"/api/v1/teams/{team.pk}/").status_code == 200
    clients = counting(monkeypatch, RedisCacheClient, "get_client")
    assert [client.get(f"/api/v1/teams/{team.pk}/").status_code for _ in range(3)] == [200, 200, 200]
    assert clients == []
