"""The bulk upsert's shortcuts give exactly what the general code gives: the quick row reading what the row
serializer gives, the series index what the jump rule's own reading gives, COPY what an INSERT stores."""

import datetime
import random
import struct
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from plans import series, setwrites
from plans.api.measurement_rows import _quick_row, measurements_bulk_validate
from plans.api.serializers import BulkMeasurementRowSerializer
from plans.exceptions import MeasurementRowsInvalid
from plans.models import KPI, Measurement, Team
from plans.services import MeasurementRow, measurements_bulk_upsert
from plans.services.kpis import _jump_basis, _SeriesIndex
from plans.setwrites import bulk_insert, bulk_set, copy_rows, insert_returning_ids
from tests.factories import KPIFactory

ROWS = [
    {"kpi": 3, "date": "2025-02-28", "value": 12.5},
    {"kpi": 3, "date": "2025-02-28", "value": 12},
    {"kpi_external_id": "PAT", "kpi_source": "bureau", "date": "2025-02-28", "value": -1e15, "note": "ok"},
    {"kpi_external_id": "PAT", "kpi_source": "", "date": "2025-02-28", "value": 0, "external_id": "x-1"},
    {"kpi": 3, "date": "2025-02-28", "value": "12.5"},
    {"kpi": 3, "date": "2025-02-28", "value": True},
    {"kpi": True, "date": "2025-02-28", "value": 1},
    {"kpi": 0, "date": "2025-02-28", "value": 1},
    {"kpi": 2**63, "date": "2025-02-28", "value": 1},
    {"kpi": 3, "kpi_external_id": "PAT", "date": "2025-02-28", "value": 1},
    {"date": "2025-02-28", "value": 1},
    {"kpi_external_id": "", "date": "2025-02-28", "value": 1},
    {"kpi_external_id": " PAT ", "date": "2025-02-28", "value": 1},
    {"kpi": 3, "date": "2025-02-30", "value": 1},
    {"kpi": 3, "date": "2025-2-028", "value": 1},
    {"kpi": 3, "date": "20250228", "value": 1},
    {"kpi": 3, "date": "2025-02-28T00:00", "value": 1},
    {"kpi": 3, "date": 20250228, "value": 1},
    {"kpi": 3, "date": "2025-02-28", "value": 1e16},
    {"kpi": 3, "date": "2025-02-28", "value": 1, "note": "line\nbreak"},
    {"kpi": 3, "date": "2025-02-28", "value": 1, "note": "nul\x00"},
    {"kpi": 3, "date": "2025-02-28", "value": 1, "note": 5},
    {"kpi": 3, "date": "2025-02-28", "value": 1, "note": "x" * 10_001},
    {"kpi": 3, "date": "2025-02-28", "value": 1, "external_id": "e" * 129},
    {"kpi": 3, "date": "2025-02-28", "value": 1, "colour": "red"},
    {"kpi": 3, "date": "2025-02-28"},
    "not a row",
]


@pytest.mark.parametrize("row", ROWS, ids=range(len(ROWS)))
def test_quick_row_reads_a_row_as_the_serializer_does_or_leaves_it_to_it(row):
    quick = _quick_row(row)
    serializer = BulkMeasurementRowSerializer(data=row)
    if quick is not None:
        assert serializer.is_valid(), serializer.errors
        assert quick == dict(serializer.validated_data)
        assert [type(v) for v in quick.values()] == [type(serializer.validated_data[k]) for k in quick]


def test_quick_reading_takes_the_common_rows():
    assert all(_quick_row(row) is not None for row in ROWS[:4])


def test_invalid_rows_get_the_serializers_messages_by_index():
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        measurements_bulk_validate({"measurements": [ROWS[0], ROWS[5], ROWS[0], ROWS[24]]})
    errors = caught.value.detail["measurements"]
    assert set(errors) == {"1", "3"}
    serializer = BulkMeasurementRowSerializer(data=ROWS[5])
    serializer.is_valid()
    assert errors["1"] == serializer.errors


@pytest.mark.django_db
def test_series_index_gives_what_the_jump_rule_reads():
    rng = random.Random(4)
    kpi = KPIFactory()
    for size in (0, 1, 2, 3, 4, 7, 40):
        days = sorted(rng.sample(range(1, 300), size))
        series = {kpi.baseline_date + datetime.timedelta(days=d): round(rng.uniform(-5, 5), 2) for d in days}
        if size == 7:
            series = dict.fromkeys(series, 1.0)  # no change at all: the planned change stands in
        index = _SeriesIndex.of(kpi, series)
        probes = [*series, kpi.baseline_date + datetime.timedelta(days=150), kpi.baseline_date]
        for date in probes:
            rest = {d: v for d, v in series.items() if d != date}
            assert index.without(date) == _jump_basis(kpi, rest, date), (size, date)
        assert index.changes == sorted(index.changes)  # restored after each probe


def packed_series(rows: list[tuple[datetime.date, float]]) -> bytes:
    """What plans.series.SERIES_SQL sends for these rows (in order): the day ordinals, then the values."""
    return struct.pack(f">{len(rows)}i", *(d.toordinal() for d, _ in rows)) + struct.pack(
        f">{len(rows)}d", *(v for _, v in rows)
    )


@pytest.mark.django_db
def test_series_index_from_a_packed_series_and_a_payload_is_the_merged_series():
    rng = random.Random(9)
    kpi = KPIFactory()
    base = kpi.baseline_date
    for size in (0, 1, 5, 40):
        days = sorted(rng.choices(range(1, 200), k=size))  # repeated dates too: the date's last row counts
        stored_rows = [(base + datetime.timedelta(days=d), round(rng.uniform(-5, 5), 2)) for d in days]
        stored = dict(stored_rows)
        for payload_days in (range(300, 305), [3, 150, 400], []):  # appended, over and between stored dates, none
            payload = {base + datetime.timedelta(days=d): round(rng.uniform(-5, 5), 2) for d in payload_days}
            index = _SeriesIndex.packed(kpi, packed_series(stored_rows) if stored_rows else None, payload)
            expected = _SeriesIndex.of(kpi, {**stored, **payload})
            assert (index.dates, index.values, index.changes) == (expected.dates, expected.values, expected.changes)


@pytest.mark.django_db
def test_one_row_after_the_stored_series_gets_the_jump_basis_of_the_whole_index():
    """The usual upload's KPI (``_AppendedOne``): one row after every stored date. Its basis is read off the stored
    series without building the index, and must be the index's to the bit (so are the other dates' it is asked)."""
    rng = random.Random(11)
    kpi = KPIFactory()
    base = kpi.baseline_date
    for size in (0, 1, 2, 3, 4, 5, 40, 41):
        for flat in (False, True):  # no change at all: the planned change stands in
            days = sorted(rng.choices(range(1, 200), k=size))  # repeated dates too: the date's last row counts
            stored_rows = [(base + datetime.timedelta(days=d), 1.0 if flat else rng.uniform(-5, 5)) for d in days]
            stored = dict(stored_rows)
            date = base + datetime.timedelta(days=250)
            payload = {date: rng.uniform(-5, 5)}
            index = _SeriesIndex.packed(kpi, packed_series(stored_rows) if stored_rows else None, payload)
            assert type(index).__name__ == "_AppendedOne"
            expected = _SeriesIndex.of(kpi, {**stored, **payload})
            for probe in (date, *list(stored)[:2], base + datetime.timedelta(days=300)):
                assert index.without(probe) == expected.without(probe), (size, flat, probe)


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_judges_its_jumps_on_series_read_aside_as_a_read_here_would(requires_postgres, monkeypatch):
    """A batch of many KPIs reads their series for the jump rule on connections of its own (``series_packed_aside``):
    its KPIs are locked first, a row lock (a write by PostgreSQL's count) that leaves the measurements as committed."""
    kpis = [KPIFactory() for _ in range(4)]
    Measurement.objects.bulk_create(
        Measurement(kpi=kpi, date=datetime.date(2025, month, 28), value=60.0 + month)
        for kpi in kpis
        for month in (1, 2, 3, 4)
    )
    rows = [
        MeasurementRow(kpi_id=kpi.pk, date=datetime.date(2025, 5, 31), value=500.0 if kpi == kpis[2] else 65.0)
        for kpi in kpis
    ]
    readers, read = [], series.series_packed

    def reading(ids):
        readers.append(threading.current_thread().name)
        return read(ids)

    monkeypatch.setattr(series, "series_packed", reading)
    monkeypatch.setattr("plans.services.kpis.series_packed", reading)
    judged = {}
    for aside_from in (len(kpis), len(kpis) + 1):  # read aside, then here
        monkeypatch.setattr(series, "ASIDE_MIN_KPIS", aside_from)
        readers.clear()
        with pytest.raises(MeasurementRowsInvalid) as refused, transaction.atomic():
            measurements_bulk_upsert(rows=rows)
        judged[aside_from] = (readers[:], refused.value.errors)
    (aside_readers, aside_errors), (here_readers, here_errors) = judged.values()
    assert {name.split("_")[0] for name in aside_readers} == {"series-aside"} and here_readers == ["MainThread"]
    assert len(set(aside_readers)) == series.ASIDE_PARTS == len(aside_readers)  # a read on each connection
    assert aside_errors == here_errors and list(aside_errors) == [2]  # the jump, and only it
    assert "jump" in str(aside_errors[2])
    assert Measurement.objects.count() == 16


@pytest.mark.django_db
def test_the_bulk_upsert_bumps_its_kpis_versions_while_it_judges_their_rows(requires_postgres):
    """The version bump goes to the database before the jump rule reads the series (in a pipeline: it runs while
    the rows are judged), for the KPIs with a new or changed row only; a refused payload undoes it."""
    kpis = [KPIFactory() for _ in range(3)]
    Measurement.objects.bulk_create(
        Measurement(kpi=kpi, date=datetime.date(2025, month, 28), value=60.0 + month)
        for kpi in kpis
        for month in (1, 2)
    )
    stored = MeasurementRow(kpi_id=kpis[1].pk, date=datetime.date(2025, 3, 31), value=63.0)
    measurements_bulk_upsert(rows=[stored])
    rows = [MeasurementRow(kpi_id=kpis[0].pk, date=datetime.date(2025, 3, 31), value=63.0), stored]  # one unchanged
    with CaptureQueriesContext(connection) as queries:
        measurements_bulk_upsert(rows=rows)
    statements = [query["sql"] for query in queries.captured_queries]
    bump = next(i for i, sql in enumerate(statements) if sql.startswith('UPDATE "plans_kpi" SET "version"'))
    assert bump < next(i for i, sql in enumerate(statements) if "string_agg" in sql)
    assert [KPI.objects.get(pk=kpi.pk).version for kpi in kpis] == [2, 2, 1]
    with pytest.raises(MeasurementRowsInvalid), transaction.atomic():
        measurements_bulk_upsert(
            rows=[*rows, MeasurementRow(kpi_id=kpis[2].pk, date=datetime.date(2099, 1, 1), value=1)]
        )
    assert [KPI.objects.get(pk=kpi.pk).version for kpi in kpis] == [2, 2, 1]


@pytest.mark.django_db
def test_copy_rows_and_insert_returning_ids_store_what_they_are_given():
    now = datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)
    ids = insert_returning_ids(
        Team, ["name", "version", "created_at", "updated_at"], [("A", 1, now, now), ("B", 1, now, now)]
    )
    assert list(Team.objects.filter(pk__in=ids).order_by("pk").values_list("name", flat=True)) == ["A", "B"]
    kpi = KPIFactory()
    copy_rows(
        Measurement,
        [
            "kpi_id",
            "date",
            "value",
            "note",
            "source",
            "recorded_at",
            "external_id",
            "version",
            "created_at",
            "updated_at",
        ],
        iter([(kpi.pk, datetime.date(2025, 2, 1), 3.5, "", "api", now, "", 1, now, now)]),
    )
    assert list(Measurement.objects.filter(kpi=kpi).values_list("date", "value")) == [(datetime.date(2025, 2, 1), 3.5)]
    assert KPI.objects.filter(pk=kpi.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("copy_min_rows", [1, 10**9], ids=["copy", "json"])
def test_set_writes_store_the_same_by_copy_and_by_json(monkeypatch, copy_min_rows):
    """Above ``COPY_MIN_ROWS`` PostgreSQL takes an update by COPY into a temporary table; either way the rows
    hold the same values: text, floats, NULL, aware datetimes and JSON (a nested value, JSON's own null)."""
    monkeypatch.setattr(setwrites, "COPY_MIN_ROWS", copy_min_rows)
    kpis = [KPIFactory(), KPIFactory()]
    now = datetime.datetime(2025, 3, 1, 8, 30, tzinfo=datetime.UTC)
    explanation = {"rule": "kpi.on_track", "inputs": {"points": [1.5, None], "note": "tab\tand \\ 改"}}
    kpis[0].status, kpis[0].score, kpis[0].forecast_value, kpis[0].computed_at = "at_risk", -1.25, None, now
    kpis[0].explanation = explanation
    kpis[1].status, kpis[1].score, kpis[1].forecast_value, kpis[1].computed_at = "on_track", 3.0, 2.5e14, now
    kpis[1].explanation = {}
    with CaptureQueriesContext(connection) as queries:
        bulk_set(KPI, kpis, ["status", "score", "forecast_value", "computed_at", "explanation"])
    by_copy = any("CREATE TEMPORARY TABLE" in q["sql"] for q in queries)
    assert by_copy == (copy_min_rows == 1 and connection.vendor == "postgresql")
    stored = KPI.objects.filter(pk__in=[k.pk for k in kpis]).order_by("pk")
    assert list(stored.values_list("status", "score", "forecast_value", "computed_at", "explanation")) == [
        ("at_risk", -1.25, None, now, explanation),
        ("on_track", 3.0, 2.5e14, now, {}),
    ]
    team = Team.objects.create(name="placeholder")
    rows = [Team(name=name, version=1, created_at=now, updated_at=now) for name in ("A 甲", "B\tb")]
    bulk_insert(Team, rows, ["name", "version", "created_at", "updated_at"])
    assert list(Team.objects.filter(pk__gt=team.pk).order_by("pk").values_list("name", "created_at")) == [
        ("A 甲", now),
        ("B\tb", now),
    ]
