"""POST /api/v1/measurements/bulk/: upsert up to 10,000 rows, all or nothing; Idempotency-Key on POSTs."""

import datetime

import pytest

from plans.models import KPI, IdempotencyKey, Measurement, MeasurementRevision
from tests.factories import GoalFactory, KPIFactory, MeasurementFactory, api_client, api_token

URL = "/api/v1/measurements/bulk/"


@pytest.fixture
def kpis(team):
    goal = GoalFactory(owner_team=team)
    return [KPIFactory(goal=goal, source="bureau", external_id=f"EXT-{i}") for i in range(3)]


def month_ends(count: int) -> list[datetime.date]:
    start = datetime.date(2025, 1, 1)
    return [start + datetime.timedelta(days=i) for i in range(count)]


def rows_for(kpis, days: int, value: float = 60.0) -> list[dict]:
    return [
        {"kpi": kpi.pk, "date": day.isoformat(), "value": value + i, "note": ""}
        for kpi in kpis
        for i, day in enumerate(month_ends(days))
    ]


def test_bulk_creates_then_replay_changes_nothing(writer, kpis):
    body = {"measurements": rows_for(kpis, 12)}
    first = writer.post(URL, body)
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 36, "updated": 0, "unchanged": 0}
    versions = dict(KPI.objects.values_list("id", "version"))
    replay = writer.post(URL, body)
    assert replay.json() == {"created": 0, "updated": 0, "unchanged": 36}
    assert dict(KPI.objects.values_list("id", "version")) == versions
    assert Measurement.objects.filter(source="api").count() == 36
    assert MeasurementRevision.objects.count() == 36


def test_bulk_updates_changed_values_and_keeps_revisions(writer, kpis):
    writer.post(URL, {"measurements": rows_for(kpis[:1], 3)})
    rows = rows_for(kpis[:1], 3)
    rows[1]["value"] = 62.5
    assert writer.post(URL, {"measurements": rows}).json() == {"created": 0, "updated": 1, "unchanged": 2}
    changed = Measurement.objects.get(value=62.5)
    assert changed.version == 2
    assert changed.revisions.first().previous_value == 61.0
    assert KPI.objects.get(pk=kpis[0].pk).version == 3


def test_bulk_does_not_touch_measurements_of_other_channels(writer, kpis):
    manual = MeasurementFactory(kpi=kpis[0], date=datetime.date(2025, 1, 1), value=61.0, source="manual")
    result = writer.post(URL, {"measurements": [{"kpi": kpis[0].pk, "date": "2025-01-01", "value": 62.0}]})
    assert result.json() == {"created": 1, "updated": 0, "unchanged": 0}
    manual.refresh_from_db()
    assert manual.value == 61.0


def test_bulk_resolves_kpis_by_external_id(writer, kpis):
    rows = [
        {"kpi_external_id": "EXT-1", "date": "2025-01-31", "value": 63.0},
        {"kpi_external_id": "EXT-2", "kpi_source": "bureau", "date": "2025-01-31", "value": 64.0},
    ]
    assert writer.post(URL, {"measurements": rows}).json()["created"] == 2
    assert set(Measurement.objects.values_list("kpi_id", flat=True)) == {kpis[1].pk, kpis[2].pk}


def test_one_invalid_row_rejects_the_whole_batch_with_errors_by_row_index(writer, kpis):
    rows = rows_for(kpis, 4)
    rows[2]["value"] = "NaN"
    rows[5]["date"] = "2025-02-30"
    rows[7] = {"kpi_external_id": "NOPE", "date": "2025-01-01", "value": 61}
    rows[9]["unexpected"] = 1
    response = writer.post(URL, {"measurements": rows})
    assert response.status_code == 400
    errors = response.json()["measurements"]
    assert set(errors) == {"2", "5", "9"} or set(errors) == {"7"}
    assert not Measurement.objects.exists()
    assert {kpi.version for kpi in KPI.objects.all()} == {1}


def test_unknown_kpis_and_duplicates_are_row_errors_and_nothing_is_written(writer, kpis):
    rows = [
        {"kpi": kpis[0].pk, "date": "2025-01-31", "value": 61.0},
        {"kpi": kpis[0].pk, "date": "2025-01-31", "value": 62.0},
        {"kpi_external_id": "NOPE", "date": "2025-01-31", "value": 61.0},
        {"kpi": 987654, "date": "2025-01-31", "value": 61.0},
    ]
    response = writer.post(URL, {"measurements": rows})
    assert response.status_code == 400
    assert set(response.json()["measurements"]) == {"2", "3"}
    del rows[2:]
    response = writer.post(URL, {"measurements": rows})
    assert response.status_code == 400
    assert set(response.json()["measurements"]) == {"1"}
    assert not Measurement.objects.exists()


def test_an_external_id_used_by_another_measurement_is_a_row_error(writer, kpis):
    writer.post(URL, {"measurements": [{"kpi": kpis[0].pk, "date": "2025-01-31", "value": 61, "external_id": "M1"}]})
    rows = [{"kpi": kpis[1].pk, "date": "2025-01-31", "value": 61, "external_id": "M1"}]
    response = writer.post(URL, {"measurements": rows})
    assert response.status_code == 400
    assert "external_id" in response.json()["measurements"]["0"]
    assert Measurement.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"measurements": []}, {"measurements": "x"}, {"measurements": [1]}, {"measurements": [{}], "extra": 1}],
)
def test_malformed_bulk_bodies_are_400(writer, body):
    assert writer.post(URL, body).status_code == 400


def test_more_than_10000_rows_are_rejected(writer, kpis):
    rows = [{"kpi": kpis[0].pk, "date": "2025-01-01", "value": 1.0}] * 10_001
    assert writer.post(URL, {"measurements": rows}).status_code == 400
    assert not Measurement.objects.exists()


def test_10000_rows_are_written_in_a_bounded_number_of_queries(writer, kpis, django_assert_max_num_queries):
    goal = kpis[0].goal
    many = [KPIFactory(goal=goal) for _ in range(20)]
    rows = rows_for(many, 500)
    assert len(rows) == 10_000
    # Batched inserts, not a query per row: SQLite's 999-parameter cap makes ~100 rows per INSERT, so
    # about 200 queries there; PostgreSQL writes 1,000 rows per INSERT.
    with django_assert_max_num_queries(250):
        response = writer.post(URL, {"measurements": rows})
    assert response.json() == {"created": 10_000, "updated": 0, "unchanged": 0}
    for row in rows[::1000]:
        row["value"] += 0.5
    with django_assert_max_num_queries(60):
        response = writer.post(URL, {"measurements": rows})
    assert response.json() == {"created": 0, "updated": 10, "unchanged": 9_990}


def test_bulk_marks_each_affected_plan_changed_once(writer, kpis):
    plan = kpis[0].plan
    before = plan.data_revision
    writer.post(URL, {"measurements": rows_for(kpis, 5)})
    plan.refresh_from_db()
    assert plan.data_revision == before + 1


def test_idempotency_key_replays_the_first_response(writer, kpis):
    body = {"measurements": rows_for(kpis[:1], 2)}
    first = writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="sync-2025-01")
    Measurement.objects.all().delete()  # a replay must not run again, even if the data changed since
    replay = writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="sync-2025-01")
    assert replay.status_code == first.status_code == 200
    assert replay.json() == first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert replay["Idempotent-Replayed"] == "true"
    assert not Measurement.objects.exists()


def test_idempotency_key_with_another_body_is_422(writer, kpis):
    writer.post(URL, {"measurements": rows_for(kpis[:1], 2)}, HTTP_IDEMPOTENCY_KEY="k1")
    response = writer.post(URL, {"measurements": rows_for(kpis[:1], 3)}, HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 422
    assert Measurement.objects.count() == 2


def test_idempotency_keys_belong_to_their_caller(kpis):
    _, key_a = api_token(scope="write", name="a")
    _, key_b = api_token(scope="write", name="b")
    body = {"measurements": rows_for(kpis[:1], 1)}
    api_client(key_a).post(URL, body, HTTP_IDEMPOTENCY_KEY="same")
    response = api_client(key_b).post(URL, {"measurements": rows_for(kpis[1:2], 1)}, HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 200
    assert response.json()["created"] == 1


def test_idempotency_key_works_on_any_post(writer, kpis):
    body = {"kpi": kpis[0].pk, "date": "2025-01-31", "value": 61.0}
    first = writer.post("/api/v1/measurements/", body, HTTP_IDEMPOTENCY_KEY="one")
    replay = writer.post("/api/v1/measurements/", body, HTTP_IDEMPOTENCY_KEY="one")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert writer.post("/api/v1/measurements/", {**body, "value": 62}, HTTP_IDEMPOTENCY_KEY="one").status_code == 422


def test_a_request_that_is_still_running_makes_its_key_409(writer, kpis):
    body = {"measurements": rows_for(kpis[:1], 1)}
    writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="busy")
    IdempotencyKey.objects.update(response_status=None, response_body="")
    assert writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="busy").status_code == 409


def test_a_validation_failure_is_replayed_too(writer, kpis):
    body = {"measurements": [{"kpi": kpis[0].pk, "date": "2025-02-30", "value": 1}]}
    first = writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == 400
    assert writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="bad").json() == first.json()


def test_a_crash_after_the_write_rolls_back_the_write_and_the_key_together(writer, kpis, monkeypatch):
    from plans.api import idempotency

    body = {"measurements": rows_for(kpis[:1], 3)}

    def crash(*args, **kwargs):
        raise RuntimeError("process died while storing the response")

    with monkeypatch.context() as patch:
        patch.setattr(idempotency, "idempotency_store", crash)
        writer.raise_request_exception = False
        assert writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="crash").status_code == 500
    assert not Measurement.objects.exists()
    assert not IdempotencyKey.objects.exists()

    retry = writer.post(URL, body, HTTP_IDEMPOTENCY_KEY="crash")
    assert (retry.status_code, retry.json()["created"]) == (200, 3)


def test_a_replayed_row_is_unchanged_even_when_the_rules_have_moved_since(writer, kpis):
    """As measurement_record: a row equal to the stored one is not judged again (a narrowed range, a jump)."""
    rows = rows_for(kpis[:1], 3)
    assert writer.post(URL, {"measurements": rows}).status_code == 200
    KPI.objects.filter(pk=kpis[0].pk).update(max_value=1.0)
    assert writer.post(URL, {"measurements": rows}).json() == {"created": 0, "updated": 0, "unchanged": 3}


def test_a_changed_row_beside_unchanged_ones_is_judged_against_the_whole_series(writer, kpis):
    rows = rows_for(kpis[:1], 6)
    assert writer.post(URL, {"measurements": rows}).status_code == 200
    rows[5]["value"] = 90.0  # a jump from 64 against a typical change of 1
    response = writer.post(URL, {"measurements": rows})
    assert response.status_code == 400
    assert list(response.json()["measurements"]) == ["5"]
    assert "jump" in str(response.json()["measurements"]["5"])
