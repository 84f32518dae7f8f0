import pytest


def test_healthz_answers_while_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_readyz_reports_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] in ("ok", "in-process")


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["ready"] is False


def test_readyz_is_503_when_the_database_is_down(client, monkeypatch):
    from tracker import health

    monkeypatch.setattr(health, "database_state", lambda: "error: OperationalError")
    response = client.get("/readyz")
    assert response.status_code == 503
