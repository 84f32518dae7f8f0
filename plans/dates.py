"""Calendar arithmetic of periods and month ends: plain dates in, plain dates out (standard library only).

Snapshots keep their explanation at month ends, the dashboards offer month ends as as-of dates,
and housekeeping keeps month-end snapshots; all of them ask this module which days those are.
"""

import datetime
import functools
from collections.abc import Iterable

ONE_DAY = datetime.timedelta(days=1)
# A period that ends mid-month still offers the month end that closes its last month: it lies within 31 days.
PERIOD_GRACE = datetime.timedelta(days=31)


def date_read(value) -> datetime.date | None:
    """A date as read back raw (SQLite's cursor gives text; an import's cells and JSON may too), or as given."""
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


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


# Reporting periods are calendar months, quarters (ending 31 March, 30 June, 30 September, 31 December)
# and years, after a KPI's frequency (the values of plans.choices.Frequency; this module imports nothing).
MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3, "annual": 12}


def period_end_on_or_before(frequency: str, day: datetime.date) -> datetime.date:
    """The last end of a ``frequency`` period on or before ``day`` (``day`` itself when it ends one)."""
    step = MONTHS_PER_PERIOD[str(frequency)]
    end_month = ((day.month - 1) // step + 1) * step  # the month that ends the period containing day
    end = month_end(datetime.date(day.year, end_month, 1))
    if end <= day:
        return end
    previous = end_month - step
    return month_end(datetime.date(day.year, previous, 1)) if previous else datetime.date(day.year - 1, 12, 31)


@functools.lru_cache(maxsize=4096)
def period_end_containing(frequency: str, day: datetime.date) -> datetime.date:
    """The last day of the ``frequency`` period that contains ``day`` (remembered: a bulk upload asks it for each of
    its 10,000 rows, of a few dates)."""
    step = MONTHS_PER_PERIOD[str(frequency)]
    end_month = ((day.month - 1) // step + 1) * step
    return month_end(datetime.date(day.year, end_month, 1))


def period_start(frequency: str, period_end: datetime.date) -> datetime.date:
    """The first day of the ``frequency`` period that ends on ``period_end``."""
    step = MONTHS_PER_PERIOD[str(frequency)]
    month = period_end.month - step + 1
    return datetime.date(period_end.year, month, 1) if month >= 1 else datetime.date(period_end.year - 1, month + 12, 1)


def period_ends_between(frequency: str, start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """The ends of the ``frequency`` periods that contain a day from ``start`` through ``end``, in order."""
    ends = []
    last = period_end_containing(frequency, start)
    while True:
        ends.append(last)
        if last >= end:
            return ends
        last = period_end_containing(frequency, last + ONE_DAY)


def latest_due_period_end(frequency: str, today: datetime.date, target_date: datetime.date) -> datetime.date:
    """The date a new figure most likely refers to: the end of the latest period that has ended by ``today``.

    Never after ``target_date``: once the target date has passed, the figure still owed is the final
    one, and only a figure dated on the target date (or later) counts as final (METHOD.md, KPI rule 3).
    """
    return min(period_end_on_or_before(frequency, today), target_date)


def stray_snapshot_days(days, *, current: datetime.date | None = None) -> list[datetime.date]:
    """The days among one plan's snapshot ``days`` that its history does not keep, oldest first.

    Snapshots are month ends plus the current day (``current``, by default the latest of ``days``):
    what every recompute leaves (``plans.recompute``) and the nightly housekeeping restores after a
    replay of a past day (``recompute_rollups --as-of``).
    """
    days = sorted(set(days))
    if current is None and days:
        current = days[-1]
    return [day for day in days if day != current and not is_month_end(day)]
