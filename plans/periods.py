"""Reporting periods as pure date arithmetic: which period's figure is due on a given day.

Periods are calendar months, calendar quarters (ending March 31, June 30, September 30, December 31)
and calendar years, after a KPI's reporting frequency (plans.choices.Frequency).
"""

import calendar
import datetime

from .choices import Frequency

MONTHS_PER_PERIOD = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.ANNUAL: 12}


def month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def period_end_on_or_before(frequency: str, day: datetime.date) -> datetime.date:
    """The last end of a ``frequency`` period on or before ``day`` (``day`` itself when it ends one)."""
    step = MONTHS_PER_PERIOD[Frequency(frequency)]
    end_month = ((day.month - 1) // step + 1) * step  # the month that ends the period containing day
    end = month_end(day.year, end_month)
    if end <= day:
        return end
    previous = end_month - step
    return month_end(day.year, previous) if previous else month_end(day.year - 1, 12)


def latest_due_period_end(frequency: str, today: datetime.date, target_date: datetime.date) -> datetime.date:
    """The date a new figure most likely refers to: the end of the latest period that has ended by ``today``.

    Never after ``target_date``: once the target date has passed, the figure still owed is the final
    one, and only a figure dated on the target date (or later) counts as final (METHOD.md, KPI rule 3).
    Dating it on a later period end would be just as final, but the target date says what it is.
    """
    return min(period_end_on_or_before(frequency, today), target_date)
