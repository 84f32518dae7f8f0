"""Chart data for the dashboards, built on the server and drawn by static/js/dashboard.js (Chart.js).

Plain values in, JSON-ready dicts out. Dates travel as ISO strings; labels are translated here so
the script holds no user-facing text. The forecast line and its band are read from the stored
explanation (slope, intercept, residual error, t quantile) with ``plans.rollup.prediction_band``:
drawing, not refitting.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.utils.translation import gettext as _

from .choices import Status
from .explain import status_label
from .rollup import prediction_band

# Order of the trend chart's stacks: worst at the bottom, where the eye starts.
TREND_ORDER = [
    Status.OVERDUE,
    Status.MISSED,
    Status.OFF_TRACK,
    Status.AT_RISK,
    Status.ON_TRACK,
    Status.ACHIEVED,
    Status.COMPLETE,
    Status.NOT_STARTED,
    Status.NO_DATA,
    Status.CANCELLED,
]
BAND_STEPS = 12


def status_trend(rows: list[dict], *, dates: list[datetime.date]) -> dict:
    """Stacked-bar data: for each date in ``dates``, how many items were in each status."""
    counts: dict[str, dict[datetime.date, int]] = defaultdict(dict)
    for row in rows:
        counts[row["status"]][row["as_of"]] = row["n"]
    present = [s for s in TREND_ORDER if s in counts]
    present += sorted(s for s in counts if s not in TREND_ORDER)
    return {
        "labels": [d.isoformat() for d in dates],
        "series": [
            {"status": str(s), "label": status_label(s), "data": [counts[s].get(d, 0) for d in dates]} for s in present
        ],
        "text": {"y": _("Items"), "x": _("Month end")},
    }


def _days(start: datetime.date, day: datetime.date) -> float:
    return float((day - start).days)


def _date_at(start: datetime.date, days: float) -> str:
    return (start + datetime.timedelta(days=round(days))).isoformat()


def kpi_chart(
    *,
    kpi,
    measurements,
    as_of: datetime.date | None,
    forecast: float | None,
    compact: bool = False,
    period_targets=(),
) -> dict:
    """Baseline point, measurements, straight trajectory, planned values, target line, forecast line and band.

    ``period_targets`` (``PeriodTarget`` rows, by period end): a dashed "planned" line from the baseline
    through each period's planned value; empty when the plan sets none (the straight trajectory stays).

    ``as_of`` None: the current status; the fitted line and its 95% band come from the stored
    explanation. A past ``as_of``: measurements after it are left out and the snapshot's forecast is
    drawn as a straight segment from the latest kept figure (snapshots keep no interval).
    """
    t0, tT = kpi.baseline_date, kpi.target_date
    b0, target = kpi.baseline_value, kpi.target_value
    kept = [m for m in measurements if as_of is None or m.date <= as_of]
    data = {
        "compact": compact,
        "unit": kpi.unit,
        "baseline": {"x": t0.isoformat(), "y": b0},
        "target": {"x": tT.isoformat(), "y": target},
        "trajectory": [{"x": t0.isoformat(), "y": b0}, {"x": tT.isoformat(), "y": target}],
        "measurements": [{"x": m.date.isoformat(), "y": m.value} for m in kept],
        "planned": [
            {"x": t0.isoformat(), "y": b0},
            *({"x": t.period_end.isoformat(), "y": t.target_value} for t in period_targets),
        ]
        if period_targets
        else [],
        "forecast": [],
        "band": [],
        "text": {
            "planned": _("Planned per period"),
            "baseline": _("Baseline"),
            "measurements": _("Measurements"),
            "trajectory": _("Trajectory to target"),
            "target": _("Target"),
            "forecast": _("Forecast"),
            "band": _("95% prediction interval"),
        },
    }
    after_baseline = [m for m in kept if m.date > t0]
    start = after_baseline[-1] if after_baseline else None
    values = (kpi.explanation or {}).get("values", {}) if as_of is None else {}
    if "slope_per_day" in values:  # a forecast was fitted (rules kpi.ratio and kpi.final_figure_overdue)
        slope, intercept = values["slope_per_day"], values["intercept"]
        # Start from the latest figure the stored status used (newer rows wait for the next recompute).
        used = values.get("latest_date")
        x_start = _days(t0, datetime.date.fromisoformat(used)) if used else 0.0
        x_end = _days(t0, tT)
        xs = [x_start + (x_end - x_start) * i / BAND_STEPS for i in range(BAND_STEPS + 1)]
        data["forecast"] = [{"x": _date_at(t0, x), "y": intercept + slope * x} for x in xs]
        if "prediction_se" in values and values.get("sxx"):
            band = prediction_band(values, xs)
            data["band"] = [
                {"x": _date_at(t0, x), "low": low, "high": high} for x, (low, high) in zip(xs, band, strict=True)
            ]
    elif forecast is not None:
        origin = {"x": start.date.isoformat(), "y": start.value} if start else {"x": t0.isoformat(), "y": b0}
        data["forecast"] = [origin, {"x": tT.isoformat(), "y": forecast}]
    return data
