"""Calendar arithmetic of periods and month ends: plain dates in, plain dates out (standard library only).

Snapshots keep their explanation at month ends, the dashboards offer month ends as as-of dates,
and housekeeping keeps month-end snapshots; all of them ask this module which days those are.
"""

import datetime
from collections.abc import Iterable

ONE_DAY = datetime.timedelta(days=1)
# A period that ends mid-month still offers the month end that closes its last month: it lies within 31 days.
PERIOD_GRACE = datetime.timedelta(days=31)


def is_month_end(day: datetime.date) -> bool:
    """Whether ``day`` is the last day of its month."""
    return (day + ONE_DAY).day == 1


def month_end(day: datetime.date) -> datetime.date:
    """The last day of ``day``'s month."""
    first_of_next = datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_of_next - ONE_DAY


def month_ends_between(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """Every month end from ``start``'s month through ``end`` (inclusive when ``end`` is one), generated."""
    days = []
    last = month_end(start)
    while last <= end:
        days.append(last)
        last = month_end(last + ONE_DAY)
    return days


def month_ends_among(
    dates: Iterable[datetime.date], *, start: datetime.date, end: datetime.date
) -> list[datetime.date]:
    """The month ends among ``dates`` (in their order) from ``start`` to 31 days past ``end`` (``PERIOD_GRACE``)."""
    return [d for d in dates if is_month_end(d) and start <= d <= end + PERIOD_GRACE]
