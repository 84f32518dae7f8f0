"""JSON bodies: a nesting limit, body size limits per endpoint (the bulk one sized to its row maximum), and
chunked bodies refused rather than read as empty. Nothing is written when a body is refused."""

import datetime
import io
import json

import pytest
from rest_framework.exceptions import ParseError

from plans.api.exceptions import PayloadTooLarge
from plans.api.parsers import BULK_MAX_BODY_BYTES, MAX_DEPTH, JSONParser
from plans.api.serializers import MAX_BULK_ROWS, MAX_TEXT_LENGTH
from plans.models import KPI, Measurement
from tests.factories import GoalFactory, KPIFactory

BULK = "/api/v1/measurements/bulk/"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def post_raw(client, url, body: str | bytes, **extra):
    return client.generic("POST", url, body, content_type="application/json", **extra)


def kpi_body(goal) -> dict:
    return {
        "goal": goal.pk,
        "code": "K-1",
        "name": "Patents",
        "unit": "patents",
        "baseline_value": 10,
        "baseline_date": "2024-12-31",
        "target_value": 14,
        "target_date": "2025-12-31",
        "frequency": "monthly",
    }


def test_a_thousand_nested_brackets_are_a_400_on_a_single_endpoint(writer, goal):
    body = json.dumps(kpi_body(goal))[:-1] + ', "source_note": ' + nested(1000) + "}"
    response = post_raw(writer, "/api/v1/kpis/", body)
    assert response.status_code == 400
    assert f"deeper than {MAX_DEPTH} levels" in response.json()["detail"]
    assert not KPI.objects.exists()


def test_a_thousand_nested_brackets_are_a_400_on_the_bulk_endpoint(writer, kpi):
    row = {"kpi": kpi.pk, "date": "2025-01-31", "value": 1.0}
    body = '{"measurements": [' + json.dumps(row) + ", " + nested(1000) + "]}"
    response = post_raw(writer, BULK, body)
    assert response.status_code == 400
    assert f"deeper than {MAX_DEPTH} levels" in response.json()["detail"]
    assert not Measurement.objects.exists()


def test_unbalanced_deep_brackets_are_a_400(writer):
    response = post_raw(writer, BULK, '{"measurements": ' + "[" * 100_000)
    assert response.status_code == 400
    assert not Measurement.objects.exists()


def test_brackets_inside_strings_do_not_count_as_nesting(writer, kpi):
    row = {"kpi": kpi.pk, "date": "2025-01-31", "value": 1.0, "note": '[{"\\' * 500}
    response = writer.post(BULK, {"measurements": [row]})
    assert response.status_code == 200, response.json()
    assert Measurement.objects.get().note == row["note"]


@pytest.mark.parametrize(("depth", "too_deep"), [(MAX_DEPTH, False), (MAX_DEPTH + 1, True)])
def test_the_parser_accepts_the_maximum_depth_and_refuses_one_more(depth, too_deep):
    stream = io.BytesIO(nested(depth).encode())
    if too_deep:
        with pytest.raises(ParseError):
            JSONParser().parse(stream, parser_context={})
    else:
        assert JSONParser().parse(stream, parser_context={}) is not None


def test_the_parser_refuses_a_stream_longer_than_the_views_limit():
    class View:
        max_body_bytes = 100

    with pytest.raises(PayloadTooLarge):
        JSONParser().parse(io.BytesIO(b'{"note": "' + b"x" * 200 + b'"}'), parser_context={"view": View()})


def test_the_bulk_limit_fits_the_most_rows_with_the_longest_notes():
    row = {"kpi_external_id": "x" * 128, "kpi_source": "s" * 64, "date": "2025-01-31", "value": -1.2345678901234567e300}
    row.update(note="n" * MAX_TEXT_LENGTH, external_id="e" * 128)
    largest_row = len(json.dumps(row, indent=2)) + len(",\n")
    assert MAX_BULK_ROWS * largest_row + len('{"measurements": []}') <= BULK_MAX_BODY_BYTES


def test_ten_thousand_rows_with_notes_beyond_django_upload_limit_are_accepted(writer, team, settings):
    """Slow-ish (about 10,000 rows are written), kept: it is the documented maximum of the endpoint."""
    goal = GoalFactory(owner_team=team)
    # Dated after the baseline and not in the future, with plausible values: what the write rules accept.
    kpis = [KPIFactory(goal=goal) for _ in range(100)]
    first = datetime.date(2025, 1, 1)
    rows = [
        {
            "kpi": kpi.pk,
            "date": (first + datetime.timedelta(days=day)).isoformat(),
            "value": 60 + day / 100,
            "note": "n" * 300,
        }
        for kpi in kpis
        for day in range(MAX_BULK_ROWS // len(kpis))
    ]
    body = json.dumps({"measurements": rows})
    assert len(rows) == MAX_BULK_ROWS
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = post_raw(writer, BULK, body)
    assert response.status_code == 200, response.content[:500]
    assert response.json() == {"created": MAX_BULK_ROWS, "updated": 0, "unchanged": 0}
    assert Measurement.objects.count() == MAX_BULK_ROWS


def test_a_bulk_body_over_its_limit_is_a_413_with_a_clear_message(writer, kpi):
    response = post_raw(writer, BULK, b" " * (BULK_MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert not Measurement.objects.exists()


def test_a_single_item_body_over_the_smaller_default_limit_is_a_413(writer, goal, settings):
    body = {**kpi_body(goal), "source_note": "x" * 1000}
    padded = json.dumps(body)[:-1] + " " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + "}"
    response = post_raw(writer, "/api/v1/kpis/", padded)
    assert response.status_code == 413
    assert not KPI.objects.exists()


def test_a_chunked_body_without_content_length_is_refused_not_read_as_empty(writer, kpi):
    body = json.dumps({"measurements": [{"kpi": kpi.pk, "date": "2025-01-31", "value": 1.0}]})
    response = post_raw(writer, BULK, body, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
    assert not Measurement.objects.exists()
