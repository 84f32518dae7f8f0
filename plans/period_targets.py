"""Per-period targets (``PeriodTarget``): read for a KPI, and set against the figures reported per period.

The planned values draw an S-curve on the KPI's chart (``plans.charts``) and are compared with the
national figures on the KPI's page ("2025 Q3: 19.9 against 19.8 planned"); the status stays METHOD.md's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from .completeness import period_label
from .dates import period_end_containing
from .models import PeriodTarget


def kpi_period_targets(*, kpi_id: int) -> list[PeriodTarget]:
    """The KPI's planned values, by period end; one query."""
    return list(PeriodTarget.objects.filter(kpi_id=kpi_id).order_by("period_end"))


@dataclass(frozen=True)
class PlannedRow:
    period_end: datetime.date
    label: str
    planned: float | None
    value: float | None  # the national figure of the period: its latest date's latest recorded value


def planned_comparison(kpi, measurements, targets) -> list[PlannedRow]:
    """Per period that has a planned value, the national figure reported for it (None: none yet).

    ``measurements`` in the order the status method reads them (date, then recorded_at): the last wins.
    """
    if not targets:
        return []
    reported: dict[datetime.date, float] = {}
    for m in measurements:
        if m.unit_id is None:
            reported[period_end_containing(kpi.frequency, m.date)] = m.value
    return [
        PlannedRow(t.period_end, period_label(kpi.frequency, t.period_end), t.target_value, reported.get(t.period_end))
        for t in targets
    ]
