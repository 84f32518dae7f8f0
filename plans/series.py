"""A KPI's national series packed in one value by PostgreSQL, read by the recompute and the write rules.

The measurements of a KPI, in the order the status method ranks them (the last row of a date counts), travel as
one ``bytea``: the day ordinals (int4, big-endian) then the values (float8, the very bits stored). One row per KPI
instead of one per measurement, read through the series index; a plan's 240,000 measurements cost their decoding
as two arrays per KPI, not a tuple and a conversion per row.
"""

import datetime
import sys
import threading
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, as_completed

import numpy as np
from django.db import connection, connections
from django.db.models.expressions import RawSQL

# Correlated with ``plans_kpi``: annotate a KPI queryset with it (``series_annotation``). The rows come ordered from
# the subquery, which the series index answers in that order, and both aggregates read them in one pass, so the
# dates and the values stay aligned. An ORDER BY inside each aggregate instead made PostgreSQL 15 sort every KPI's
# rows twice more: reading a plan's series took 300 ms at national scale 1 and 3.1 s at scale 10 that way, 136 ms
# and 0.74 s this way. tests/test_series.py holds it to the ORM's order, ties on a date included.
# The packing itself, over rows ``s`` (date, value) in order: what ``series_unpack`` reads.
PACKED = "string_agg(int4send(s.date - DATE '0001-01-01' + 1), ''::bytea) || string_agg(float8send(s.value), ''::bytea)"
SERIES_SQL = f"""(
    SELECT {PACKED}
    FROM (
        SELECT m.date, m.value FROM plans_measurement m
        WHERE m.kpi_id = plans_kpi.id AND m.unit_id IS NULL  -- the national series
        ORDER BY m.date, m.recorded_at, m.id
    ) AS s
)"""


def series_annotation() -> RawSQL:
    return RawSQL(SERIES_SQL, ())


# The same for many KPIs at once, grouped over their rows in one ordered pass of the series index: a bulk upload's
# KPIs (1,200 at national scale 1) cost one correlated subquery each above, 150 ms, against 65 ms this way. The
# aggregate reads its rows in the subquery's order, as above: PostgreSQL does not pull up a subquery that has an
# ORDER BY, nor hand its sorted rows to parallel workers, so each group's rows arrive in order (tests/test_series.py
# holds it to the ORM's order, with parallel plans made as cheap as they can be). A KPI with no row has no entry.
GROUPED_SQL = f"""
    SELECT s.kpi_id, {PACKED}
    FROM (
        SELECT m.kpi_id, m.date, m.value FROM plans_measurement m
        WHERE m.kpi_id = ANY(%s) AND m.unit_id IS NULL  -- the national series
        ORDER BY m.kpi_id, m.date, m.recorded_at, m.id
    ) AS s
    GROUP BY s.kpi_id
"""


def series_packed(kpi_ids) -> dict[int, bytes]:
    """Each KPI's packed national series (``SERIES_SQL``'s value) by id, in one query (PostgreSQL only)."""
    with connection.cursor() as cursor:
        cursor.execute(GROUPED_SQL, [list(kpi_ids)])
        return dict(cursor.fetchall())


# Below this many KPIs a read aside (``series_packed_aside``) gains less than its connection costs (a few ms).
ASIDE_MIN_KPIS = 1_000
# A read aside runs on this many connections (one thread each); a caller that takes up each chunk as it comes has
# each connection read its share in ``ASIDE_CHUNKS`` chunks, one after the other.
ASIDE_PARTS = 2
ASIDE_CHUNKS = 3
# The transaction-local setting plans_measurement's statement trigger turns on (migration 0032).
MEASUREMENTS_WRITTEN = "plans.measurements_written"


def measurements_unwritten() -> bool:
    """Whether this transaction has written no measurement (PostgreSQL): the flag every statement that writes the
    table sets for the rest of its transaction (the trigger of migration 0032). A row lock, an advisory lock or a
    write to another table leaves it unset: those change no series. PostgreSQL's own signals cannot tell this:
    ``pg_current_xact_id_if_assigned()`` is set by any of them (the bulk upsert locks its KPIs first), and
    ``pg_stat_xact_user_tables`` also counted earlier transactions' rows not yet reported (PostgreSQL 15)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT current_setting('{MEASUREMENTS_WRITTEN}', true) IS DISTINCT FROM 'on'")
        return cursor.fetchone()[0]


def series_packed_aside(
    kpi_ids, then: Callable[[dict[int, bytes]], dict] | None = None, *, chunks: int = 1
) -> "SeriesAside | None":
    """``series_packed`` on connections of their own, in threads, while this one goes on: its result, or None when
    the caller must read them here. A national batch's 10,000 series take 0.6 s at scale 10, which the database
    then spends beside the caller's own reads rather than before them, on ``ASIDE_PARTS`` connections (as many
    cores), each reading its share in ``chunks`` chunks, which the caller may take up as they come
    (``SeriesAside.completed``).

    Only on PostgreSQL, for ``ASIDE_MIN_KPIS`` KPIs or more, and while this transaction has written no measurement
    (``measurements_unwritten``): another connection sees committed rows only. Each statement here sees the rows
    committed when it starts (READ COMMITTED): the read aside sees what a read here would.

    ``then``, given, turns each chunk's packed series into what the caller reads, in its thread (the incremental
    update unpacks them there while this thread waits on its own reads)."""
    kpi_ids = list(kpi_ids)
    if connection.vendor != "postgresql" or len(kpi_ids) < ASIDE_MIN_KPIS or not measurements_unwritten():
        return None
    size = -(-len(kpi_ids) // min(len(kpi_ids), ASIDE_PARTS * chunks))
    pieces = [kpi_ids[at : at + size] for at in range(0, len(kpi_ids), size)]
    futures = [Future() for _ in pieces]
    # A thread (and connection) of its own per part, reading every ASIDE_PARTS-th piece in turn: a pool could run
    # a quick part after another on one thread, one connection after the other.
    for part in range(min(ASIDE_PARTS, len(pieces))):
        threading.Thread(
            target=_series_read_aside,
            args=(pieces[part::ASIDE_PARTS], futures[part::ASIDE_PARTS], then),
            name=f"series-aside_{part}",
            daemon=True,
        ).start()
    return SeriesAside(futures)


class SeriesAside:
    """The chunks of a read aside (``series_packed_aside``): ``result()`` waits for them all, ``completed()`` gives
    each as it comes."""

    def __init__(self, chunks: list[Future]):
        self.chunks = chunks

    def result(self, timeout: float | None = None) -> dict:
        packed = {}
        for chunk in self.chunks:
            packed.update(chunk.result(timeout))
        return packed

    def completed(self, timeout: float | None = None) -> Iterator[dict]:
        for chunk in as_completed(self.chunks, timeout):
            yield chunk.result()


def _series_read_aside(chunks: list[list[int]], futures: list[Future], then=None) -> None:
    """Read ``chunks`` in turn on this thread's connection, each into its future; once one fails, so do the rest."""
    try:
        for at, (kpi_ids, future) in enumerate(zip(chunks, futures, strict=True)):
            try:
                packed = series_packed(kpi_ids)
                future.set_result(then(packed) if then is not None else packed)
            except BaseException as exc:
                for left in futures[at:]:
                    left.set_exception(exc)
                return
    finally:
        connections.close_all()  # this thread's own connections: the thread ends here


def series_unpack(packed: bytes | None) -> tuple[list[int], list[float]]:
    """The day ordinals (``date.toordinal()``) and values of ``SERIES_SQL``'s value (None: no measurement)."""
    packed = packed or b""
    count = len(packed) // 12
    days, values = array("i", packed[: 4 * count]), array("d", packed[4 * count :])
    if sys.byteorder == "little":
        days.byteswap()
        values.byteswap()
    return days.tolist(), values.tolist()


def series_arrays(packed: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    """``series_unpack`` as numpy arrays read in place from the packed bytes (big-endian, as PostgreSQL sends)."""
    packed = packed or b""
    count = len(packed) // 12
    return np.frombuffer(packed, ">i4", count), np.frombuffer(packed, ">f8", count, 4 * count)


def series_by_date(packed: bytes | None) -> dict[datetime.date, float]:
    """``{date: value}`` of a packed series, the last row of a date counting (as later keys overwrite earlier)."""
    days, values = series_unpack(packed)
    return dict(zip(map(datetime.date.fromordinal, days), values, strict=True))
