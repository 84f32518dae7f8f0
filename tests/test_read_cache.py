"""The API's per-process read cache (plans.read_cache): what it serves from memory, and what empties it."""

import select
import time

import psycopg
import pytest
from django.db import connection, transaction
from django.test import override_settings

from plans.read_cache import CHANNEL, _tables, read_cache
from tests.factories import KPIFactory, api_client, api_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cache(requires_postgres):
    read_cache.close()
    yield read_cache
    read_cache.close()


def elsewhere(sql: str, params=()) -> None:
    """``sql`` committed by a connection of its own, as another process would."""
    params_ = {k: v for k, v in connection.get_connection_params().items() if k not in ("context", "cursor_factory")}
    with psycopg.Connection.connect(**params_, autocommit=True) as other:
        other.execute(sql, params)


def notified(timeout: float = 5) -> bool:
    """Whether a notification has reached this process's listening connection (not yet taken in)."""
    return bool(select.select([read_cache._listener.pgconn.socket], [], [], timeout)[0])


def test_every_table_of_the_app_and_of_its_users_notifies_its_changes(cache):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = %s", [CHANNEL])
        installed = {row[0] for row in cursor.fetchall()}
    assert {"plans_kpi", "plans_measurement", "plans_apitoken", "auth_user"} <= set(_tables()) <= installed


def test_a_token_detail_read_again_comes_from_memory_with_its_etag(cache, team, django_assert_num_queries):
    _, key = api_token(scope="read")
    client = api_client(key)
    url = f"/api/v1/teams/{team.pk}/"
    first = client.get(url)
    assert first.status_code == 200
    with django_assert_num_queries(0):
        again = client.get(url)
        not_modified = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.json() == first.json() and again["ETag"] == first["ETag"]
    assert not_modified.status_code == 304 and not_modified["ETag"] == first["ETag"]


def test_each_query_and_each_token_is_kept_apart(cache, team):
    kpi = KPIFactory()
    url = f"/api/v1/kpis/{kpi.pk}/"
    reader = api_client(api_token(scope="read")[1])
    assert "explanation" not in reader.get(url).json()
    assert "explanation" in reader.get(url, {"expand": "explanation"}).json()
    assert "explanation" not in reader.get(url).json()
    assert api_client(api_token(scope="read", name="another system")[1]).get(url).status_code == 200


def test_a_change_committed_elsewhere_is_read_once_its_notification_has_come(cache, team):
    client = api_client(api_token(scope="read")[1])
    url = f"/api/v1/teams/{team.pk}/"
    assert client.get(url).json()["name"] == team.name
    elsewhere("UPDATE plans_team SET name = 'Renamed elsewhere' WHERE id = %s", [team.pk])
    assert notified()
    assert client.get(url).json()["name"] == "Renamed elsewhere"


def test_a_token_revoked_elsewhere_is_refused_at_once(cache, team):
    token, key = api_token(scope="read")
    client = api_client(key)
    url = f"/api/v1/teams/{team.pk}/"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    elsewhere("UPDATE plans_apitoken SET revoked_at = now() WHERE id = %s", [token.pk])
    assert notified()
    assert client.get(url).status_code == 401


def test_a_tokens_last_use_is_the_one_change_that_notifies_nothing(cache, team):
    token, key = api_token(scope="read")
    assert api_client(key).get(f"/api/v1/teams/{team.pk}/").status_code == 200  # listening from now on
    elsewhere("UPDATE plans_apitoken SET last_used_at = now() WHERE id = %s", [token.pk])
    assert not notified(timeout=0.5)
    elsewhere("UPDATE plans_apitoken SET name = 'renamed' WHERE id = %s", [token.pk])
    assert notified()


def test_a_write_through_this_process_is_read_back_before_its_notification_comes(cache, monkeypatch):
    client = api_client(api_token(scope="manage")[1])
    url = f"/api/v1/kpis/{KPIFactory().pk}/"
    etag = client.get(url)["ETag"]
    monkeypatch.setattr(read_cache, "_take_in", lambda: None)  # the notification is late
    assert client.patch(url, {"name": "Renamed here"}, HTTP_IF_MATCH=etag).status_code == 200
    assert client.get(url).json()["name"] == "Renamed here"


def test_reads_in_a_transaction_or_with_the_setting_off_go_to_the_database(cache):
    assert read_cache.generation() is not None
    with transaction.atomic():
        assert read_cache.generation() is None
    with override_settings(API_READ_CACHE=False):
        assert read_cache.generation() is None


def test_a_lost_listening_connection_turns_the_cache_off_until_it_listens_again(cache, team):
    client = api_client(api_token(scope="read")[1])
    url = f"/api/v1/teams/{team.pk}/"
    client.get(url)
    elsewhere("SELECT pg_terminate_backend(%s)", [read_cache._listener.pgconn.backend_pid])
    assert notified()  # the server's farewell
    time.sleep(0.2)  # and the end of the connection, which may come a packet later
    assert read_cache.generation() is None and read_cache._entries == {}
    elsewhere("UPDATE plans_team SET name = 'Renamed while deaf' WHERE id = %s", [team.pk])
    assert client.get(url).json()["name"] == "Renamed while deaf"  # from the database
    read_cache._retry_at = 0  # the retry is due
    assert read_cache.generation() is not None


def test_a_forked_process_listens_on_a_connection_of_its_own_and_leaves_its_parents_open(cache, team):
    client = api_client(api_token(scope="read")[1])
    client.get(f"/api/v1/teams/{team.pk}/")
    parents = read_cache._listener
    read_cache._pid = -1  # as in a worker forked from this process
    assert read_cache.generation() is not None
    assert read_cache._listener is not parents and not parents.closed
    assert read_cache._listener.pgconn.backend_pid != parents.pgconn.backend_pid
    read_cache._inherited.remove(parents)
    parents.close()
