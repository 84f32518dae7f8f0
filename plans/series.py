"""A KPI's national series packed in one value by PostgreSQL, read by the recompute and the write rules.

The measurements of a KPI, in the order the status method ranks them (the last row of a date counts), travel as
one ``bytea``: the day ordinals (int4, big-endian) then the values (float8, the very bits stored). One row per KPI
instead of one per measurement, read through the series index; a plan's 240,000 measurements cost their decoding
as two arrays per KPI, not a tuple and a conversion per row.
"""

import datetime
import sys
from array import array

from django.db.models.expressions import RawSQL

# Correlated with ``plans_kpi``: annotate a KPI queryset with it (``series_annotation``).
SERIES_SQL = """(
    SELECT string_agg(int4send(m.date - DATE '0001-01-01' + 1), ''::bytea ORDER BY m.date, m.recorded_at, m.id)
           || string_agg(float8send(m.value), ''::bytea ORDER BY m.date, m.recorded_at, m.id)
    FROM plans_measurement m WHERE m.kpi_id = plans_kpi.id AND m.unit_id IS NULL  -- the national series
)"""


def series_annotation() -> RawSQL:
    return RawSQL(SERIES_SQL, ())


def series_unpack(packed: bytes | None) -> tuple[list[int], list[float]]:
    """The day ordinals (``date.toordinal()``) and values of ``SERIES_SQL``'s value (None: no measurement)."""
    packed = packed or b""
    count = len(packed) // 12
    days, values = array("i", packed[: 4 * count]), array("d", packed[4 * count :])
    if sys.byteorder == "little":
        days.byteswap()
        values.byteswap()
    return days.tolist(), values.tolist()


def series_by_date(packed: bytes | None) -> dict[datetime.date, float]:
    """``{date: value}`` of a packed series, the last row of a date counting (as later keys overwrite earlier)."""
    days, values = series_unpack(packed)
    return dict(zip(map(datetime.date.fromordinal, days), values, strict=True))
