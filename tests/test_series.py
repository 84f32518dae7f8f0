"""plans.series: a KPI's packed national series holds its rows in the order the status method ranks them."""

import datetime
import random

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from plans import series
from plans.models import KPI, Measurement
from plans.series import series_annotation, series_packed, series_packed_aside, series_unpack
from tests.factories import KPIFactory, ZoneFactory


def _kpis_with_tied_rows() -> list:
    rng = random.Random(7)
    zone = ZoneFactory()
    kpis = [KPIFactory() for _ in range(4)]
    start = timezone.now()
    for kpi in kpis:
        days = [kpi.baseline_date + datetime.timedelta(days=rng.randint(1, 40)) for _ in range(60)]
        rows = []
        for index, day in enumerate(days):
            # Several rows on one date, recorded out of order and some at the same moment: the id breaks the tie.
            recorded = start - datetime.timedelta(minutes=rng.choice([0, 0, 5, 30]))
            rows.append(Measurement(kpi=kpi, date=day, value=rng.uniform(-100, 100), recorded_at=recorded))
            if index % 7 == 0:
                rows.append(Measurement(kpi=kpi, date=day, value=1.5, unit=zone, recorded_at=recorded))
        # One row per date for each source (the unique constraint): spread them over the sources a KPI may have.
        for n, row in enumerate(rows):
            row.source = ["api", "manual", "import"][n % 3]
            row.external_id = f"{kpi.pk}-{n}"
        Measurement.objects.bulk_create(rows, ignore_conflicts=True)
    return kpis


def _assert_in_method_order(kpis, packed):
    for kpi in kpis:
        expected = list(
            Measurement.objects.filter(kpi=kpi, unit=None)
            .order_by("date", "recorded_at", "id")
            .values_list("date", "value")
        )
        days, values = series_unpack(packed[kpi.pk])
        assert [(datetime.date.fromordinal(d), v) for d, v in zip(days, values, strict=True)] == expected
        assert len(expected) > 30 and len({d for d, _ in expected}) < len(expected)  # ties were there to break


@pytest.mark.django_db
def test_the_packed_series_is_the_national_rows_in_date_recorded_and_id_order(requires_postgres):
    kpis = _kpis_with_tied_rows()
    packed = dict(
        KPI.objects.filter(pk__in=[k.pk for k in kpis]).annotate(s=series_annotation()).values_list("pk", "s")
    )
    _assert_in_method_order(kpis, packed)


@pytest.mark.django_db
def test_the_grouped_read_gives_the_same_series_even_where_parallel_plans_cost_nothing(requires_postgres):
    kpis = _kpis_with_tied_rows()
    empty = KPIFactory()  # no row: no entry
    with connection.cursor() as cursor:  # a parallel plan, were PostgreSQL to make one, would now win
        for setting in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
            cursor.execute(f"SET LOCAL {setting} = 0")
        cursor.execute("SET LOCAL min_parallel_index_scan_size = 0")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 4")
    packed = series_packed([kpi.pk for kpi in kpis] + [empty.pk])
    assert set(packed) == {kpi.pk for kpi in kpis}
    _assert_in_method_order(kpis, packed)


def test_a_read_aside_gives_what_a_read_here_gives_until_the_transaction_writes(
    requires_postgres, transactional_db, monkeypatch
):
    """``series_packed_aside`` reads committed rows on a connection of its own: only while this transaction has
    written no measurement (what it wrote, the other connection would not see). Other writes change no series."""
    kpis = _kpis_with_tied_rows()
    ids = [kpi.pk for kpi in kpis]
    with transaction.atomic():
        assert series_packed_aside(ids) is None  # fewer KPIs than a connection of its own is worth
        monkeypatch.setattr("plans.series.ASIDE_MIN_KPIS", 1)
        aside = series_packed_aside(ids)
        assert aside is not None and len(aside.chunks) == 2  # 4 KPIs, a chunk on each connection
        assert aside.result(timeout=30) == series_packed(ids)
        list(KPI.objects.select_for_update().filter(pk__in=ids))  # as the bulk upsert locks its KPIs first
        KPI.objects.filter(pk=ids[0]).update(version=F("version") + 1)
        with pytest.raises(RuntimeError), transaction.atomic():  # a measurement written, then rolled back
            Measurement.objects.filter(kpi_id=ids[0]).update(note="undone")
            raise RuntimeError
        assert series_packed_aside(ids).result(timeout=30) == series_packed(ids)
        Measurement.objects.filter(kpi_id=ids[0]).update(note="checked")
        assert series_packed_aside(ids) is None
    assert series_packed_aside(ids).result(timeout=30) == series_packed(ids)  # the next transaction wrote nothing


@pytest.mark.django_db(transaction=True)
def test_a_read_aside_gives_each_chunk_as_it_comes_and_a_failed_chunk_fails_the_rest(requires_postgres, monkeypatch):
    """``SeriesAside.completed`` yields every chunk once, together what ``series_packed`` gives; a chunk whose read
    fails raises, and so do the chunks its connection had still to read, rather than leave the caller waiting."""
    ids = [kpi.pk for kpi in KPIFactory.create_batch(2 * series.ASIDE_PARTS * series.ASIDE_CHUNKS)]
    for kpi_id in ids:
        Measurement.objects.create(kpi_id=kpi_id, date=datetime.date(2025, 3, 31), value=kpi_id)
    monkeypatch.setattr(series, "ASIDE_MIN_KPIS", 2)
    chunks = list(series_packed_aside(ids, chunks=series.ASIDE_CHUNKS).completed(timeout=30))
    assert len(chunks) == series.ASIDE_PARTS * series.ASIDE_CHUNKS
    assert sorted(kpi_id for chunk in chunks for kpi_id in chunk) == sorted(ids)
    assert {k: v for chunk in chunks for k, v in chunk.items()} == series_packed(ids)

    read = series.series_packed
    monkeypatch.setattr(series, "series_packed", lambda kpi_ids: 1 / 0 if ids[0] in kpi_ids else read(kpi_ids))
    aside = series_packed_aside(ids, chunks=series.ASIDE_CHUNKS)
    with pytest.raises(ZeroDivisionError):
        aside.result(timeout=30)
    failed = [chunk for chunk in aside.chunks if chunk.exception(timeout=30) is not None]
    assert len(failed) == series.ASIDE_CHUNKS  # the first chunk of its connection, and the ones after it
