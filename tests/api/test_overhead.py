"""What a trivial API request does not pay for: a filterset without a query string, the model introspection of
its serializer once the class has built its fields, a new Redis client for the throttle, the parsing of an Accept
header that asks for JSON or anything."""

import pytest
from django.core.cache.backends.redis import RedisCacheClient
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from plans.api.filters import StrictFilterBackend
from plans.api.negotiation import FirstRendererNegotiation
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


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_detail_asking_for_json_or_anything_parses_no_accept_header(team, monkeypatch, accept):
    _, key = api_token(scope="read")
    client = api_client(key)
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    parsed = counting(monkeypatch, DefaultContentNegotiation, "_get_parsed_accept_list")
    response = client.get(f"/api/v1/teams/{team.pk}/", **headers)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert parsed == []
    response = client.get(f"/api/v1/teams/{team.pk}/", HTTP_ACCEPT="text/html")  # the browsable API: negotiated
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert parsed == ["_get_parsed_accept_list"]


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "application/json; indent=4", "text/html", "text/html, */*;q=0.8", "image/png"],
)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api", "?format=xml"])
@pytest.mark.parametrize("renderers", [[JSONRenderer(), BrowsableAPIRenderer()], [BrowsableAPIRenderer()]])
def test_the_negotiation_answers_as_drfs_own(accept, query, renderers):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/teams/1/{query}", **headers))

    def answer(negotiation):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers)
        except Exception as error:  # noqa: BLE001  (not acceptable, not found: the same error either way)
            return type(error)
        return type(renderer), media_type

    assert answer(FirstRendererNegotiation()) == answer(DefaultContentNegotiation())
