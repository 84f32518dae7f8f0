"""Status, score and progress of KPIs, milestones and roll-ups (method version 2).

Pure functions: plain values in, plain values out, standard library only (no Django, no
ORM), so that every number a manager sees can be reproduced by hand. The specification is
``shared/METHOD.md``; this docstring summarises it.

KPI (``kpi_status``), after the Open SDG / Statistics Canada progress measure:
    Keep measurements dated after the baseline date and on or before the as-of date (several
    on one date: the latest recorded counts). None left: ``no_data``. If the latest value
    meets the target: ``achieved`` (+5). If the latest value is dated on or after the target
    date and falls short: ``missed``, scored by the share of the required change made,
    ``Rf = (vc - b0) / (T - b0)``: ``max(5 * (Rf - 1), -5)`` (-5 for a hold-the-line target). A
    "hold the line" target (the target asks for no change, or for a change in the wrong
    direction) that is not met: ``off_track`` (-2.5).
    Otherwise fit an ordinary least-squares line of value on days since the baseline date
    through the baseline point and the kept measurements, read the forecast ``F`` at the
    target date (with three points or more, also the 95% prediction interval), and take the
    ratio ``R = (F - b0) / (T - b0)`` of anticipated to required change. Score
    ``min((R - 0.6) * 50/7, 5)`` for ``R >= 0.6``, else ``max((R - 0.6) * 25/6, -5)``;
    ``R >= 0.95`` on track, ``R >= 0.60`` at risk, else off track. Once the final figure is
    overdue (the as-of date is past the target date plus the frequency's allowance, 31/92/366
    days, and no figure dated on or after the target date has come in), on track and at risk
    become at risk with a score of at most 0.

Milestone (``milestone_status``), earned-value schedule performance:
    cancelled; complete (+5) when done or 100%; not started before its start with 0%;
    overdue (-3.75) after the due date; otherwise ``SPI = earned share / planned share``
    with the planned share ``p`` from elapsed time, and the schedule variance
    ``SV = earned share - p``; the better of two bands: on track (+3.75) when ``SPI >= 0.90``
    or ``SV >= -0.10``, at risk (+1.25) when ``SPI >= 0.70`` or ``SV >= -0.20``, else off track
    (-3.75). A blocked milestone is at best at risk.

Roll-up (``rollup_status``), weighted average with a worst-child guard:
    leave out cancelled children; no scored child: ``no_data``; every remaining child achieved
    or complete: ``achieved`` (+5); else score = weighted mean of the scored children,
    ``>= 2.5`` on track, ``>= 0`` at risk, else off track; if off-track, overdue or missed
    children carry 25% or more of the scored weight, on track becomes at risk.

Method version 2 changed, from version 1: the graded score of a missed KPI (it was -5), the
overdue final figure (the forecast stood in for it indefinitely) and the schedule-variance band
(SPI alone decided). ``plans.recompute`` rewrites stored history when the version changes.

Every result carries a JSON-ready explanation: method version, kind, as-of date, inputs,
every intermediate number, the thresholds applied, the deciding rule and a one-sentence
summary. Stored numbers are not rounded; only the summary sentence rounds for display.

Enumerations (``Status``, ``Direction``, ``MilestoneState``, ``Frequency``) are plain string enums
here, so the module imports nothing from the project; ``plans.choices`` holds the same values as
Django choices, and a test keeps the two in step.

The Student-t quantile for the prediction interval is computed here (``student_t_ppf``) from
the regularized incomplete beta function (Lentz continued fraction) and bisection, to about
1e-12, so that the module needs nothing outside the standard library.
"""

from __future__ import annotations

import datetime
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import compress, islice, repeat
from operator import add, mul, ne, sub

METHOD_VERSION = 2


class Status(StrEnum):
    """Mirrors ``plans.choices.Status``."""

    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    MISSED = "missed"
    OVERDUE = "overdue"
    COMPLETE = "complete"
    NOT_STARTED = "not_started"
    CANCELLED = "cancelled"
    NO_DATA = "no_data"


class Direction(StrEnum):
    """Mirrors ``plans.choices.Direction``."""

    INCREASE = "increase"
    DECREASE = "decrease"


class MilestoneState(StrEnum):
    """Mirrors ``plans.choices.MilestoneState``."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"


class Frequency(StrEnum):
    """Mirrors ``plans.choices.Frequency``."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


# --- thresholds (all written into the explanations) -------------------------------------

MAX_SCORE = 5.0
MIN_SCORE = -5.0

KPI_ON_TRACK_RATIO = 0.95
KPI_AT_RISK_RATIO = 0.60
KPI_SLOPE_ABOVE = 50 / 7  # score per unit of R above 0.60
KPI_SLOPE_BELOW = 25 / 6  # score per unit of R below 0.60
KPI_ACHIEVED_SCORE = 5.0
KPI_MISSED_SLOPE = 5.0  # score per unit of Rf short of 1 (rule 3)
KPI_MISSED_SCORE = -5.0  # the floor of a missed KPI's score, and the score of a missed hold-the-line target
KPI_OVERDUE_FINAL_MAX_SCORE = 0.0  # rule 8: at most this once the final figure is overdue
KPI_HOLD_THE_LINE_SCORE = -2.5
PREDICTION_LEVEL = 0.95
# The frequency's allowance: how old the latest figure may be before the KPI is stale (rule 10).
ALLOWANCE_DAYS = {Frequency.MONTHLY: 31, Frequency.QUARTERLY: 92, Frequency.ANNUAL: 366}
DIRECTION_SIGNS = {Direction.INCREASE: 1, Direction.DECREASE: -1}
STALE_OLDER_THAN_FREQUENCY = "latest_measurement_older_than_frequency"
STALE_NO_FINAL_FIGURE = "past_target_date_without_final_figure"

MILESTONE_SPI_ON_TRACK = 0.90
MILESTONE_SPI_AT_RISK = 0.70
MILESTONE_SV_ON_TRACK = -0.10
MILESTONE_SV_AT_RISK = -0.20
# Percent and planned share are decimals in binary floating point: 70% done against 80% planned gives
# SV = -0.10000000000000009. The variance bands allow this much, so ten points behind is ten points.
MILESTONE_SV_TOLERANCE = 1e-9
MILESTONE_SCORES = {
    Status.COMPLETE: 5.0,
    Status.ON_TRACK: 3.75,
    Status.AT_RISK: 1.25,
    Status.OFF_TRACK: -3.75,
    Status.OVERDUE: -3.75,
}
MILESTONE_COMPLETE_PERCENT = 100.0

ROLLUP_ON_TRACK_SCORE = 2.5
ROLLUP_AT_RISK_SCORE = 0.0
ROLLUP_ACHIEVED_SCORE = 5.0
WORST_CHILD_SHARE = 0.25
WORST_STATUSES = (Status.OFF_TRACK, Status.OVERDUE, Status.MISSED)
DONE_STATUSES = (Status.ACHIEVED, Status.COMPLETE)


# --- data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementPoint:
    """One measurement row. ``recorded_at`` orders several rows on one date."""

    date: datetime.date
    value: float
    recorded_at: datetime.datetime | None = None


class MeasurementSeries:
    """A KPI's measurements as two columns, for evaluating one series at many dates (a recompute's month ends).

    ``days`` are the dates as proleptic ordinals (``date.toordinal()``), ascending, and within a date in
    recording order, so the last row of a date is the one that counts; ``values`` are the values in the
    same order. ``kpi_status`` gives a series exactly the result it gives the list of its points, but finds
    the points of an as-of date by bisection instead of classifying every point again.
    ``from_points`` orders any points as ``kpi_status`` ranks them.
    """

    __slots__ = ("days", "values", "_latest", "_offsets")

    def __init__(self, days: list[int], values: list[float]):
        if len(days) != len(values):
            raise ValueError("a series needs as many values as dates")
        self.days, self.values = days, values
        self._latest = self._offsets = None

    @classmethod
    def from_points(cls, measurements: Iterable[MeasurementPoint]) -> MeasurementSeries:
        ranked = sorted(
            enumerate(measurements), key=lambda item: (item[1].date, _recorded_key(item[1].recorded_at), item[0])
        )
        return cls([m.date.toordinal() for _, m in ranked], [float(m.value) for _, m in ranked])

    def __len__(self) -> int:
        return len(self.days)

    def latest(self) -> tuple[list[int], list[float]]:
        """The row that counts of each date: its day and value columns (the series itself when no date repeats)."""
        if self._latest is None:
            if not all(map(math.isfinite, self.values)):
                for value in self.values:
                    _finite("measurement value", value)
            days, values = self.days, self.values
            last_of_date = [*map(ne, days, islice(days, 1, None)), True]
            if all(last_of_date):
                self._latest = days, values
            else:
                self._latest = list(compress(days, last_of_date)), list(compress(values, last_of_date))
        return self._latest

    def offsets(self, t0: int) -> list[float]:
        """Days since ``t0`` (an ordinal) of each date's counting row, as the fit's x values."""
        if self._offsets is None or self._offsets[0] != t0:
            self._offsets = t0, [float(day - t0) for day in self.latest()[0]]
        return self._offsets[1]


@dataclass(frozen=True)
class Result:
    status: Status
    score: float | None
    progress: float | None
    explanation: dict
    forecast_value: float | None = None
    forecast_low: float | None = None
    forecast_high: float | None = None
    latest_value: float | None = None
    latest_date: datetime.date | None = None
    stale: bool = False


@dataclass(frozen=True)
class Child:
    key: str
    label: str
    weight: float
    status: Status | str
    score: float | None
    progress: float | None


# --- small helpers ----------------------------------------------------------------------


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _finite(name: str, value) -> float:
    """``float(value)``, refusing NaN and infinities (they cannot be explained or stored)."""
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return x


def _fmt(x: float) -> str:
    """A number for the summary sentence (display only: stored numbers are never rounded)."""
    if x == 0:
        return "0"
    if abs(x) >= 1e9 or abs(x) < 0.01:
        return f"{x:.3g}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _explanation(
    kind: str, as_of: datetime.date, inputs: dict, values: dict, thresholds: dict, rule: str, summary: str
):
    explanation = {
        "method_version": METHOD_VERSION,
        "kind": kind,
        "as_of": as_of.isoformat(),
        "inputs": inputs,
        "values": values,
        "thresholds": thresholds,
        "rule": rule,
        "summary": summary,
    }
    # No deep scan here (it cost half the method's time at national scale): inputs are checked finite
    # on entry, and the writers serialise with allow_nan=False, so a non-finite number cannot be stored.
    return explanation


# --- Student-t quantile (standard library only) -----------------------------------------

_CF_EPS = 1e-16
_CF_TINY = 1e-300
_CF_MAX_ITER = 10_000


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function, modified Lentz method.

    Converges fast for ``x < (a + 1) / (a + b + 2)`` (Numerical Recipes, section 6.4).
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
    h = d
    for m in range(1, _CF_MAX_ITER + 1):
        m2 = 2 * m
        # The even and the odd step of the fraction, written out (the same operations, without a tuple per turn).
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _CF_TINY else _CF_TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _CF_TINY else _CF_TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _CF_EPS:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")  # pragma: no cover


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """``I_x(a, b)`` for ``a, b > 0`` and ``0 <= x <= 1``."""
    if not (a > 0 and b > 0 and 0.0 <= x <= 1.0):
        raise ValueError("need a > 0, b > 0 and 0 <= x <= 1")
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """Upper tail ``P(T > t)`` of Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


@lru_cache(maxsize=512)
def student_t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t: the ``t`` with ``P(T <= t) = p``.

    Bisection on the upper tail (computed from the regularized incomplete beta), which is
    monotonic in ``t``; it runs until the bracket cannot shrink any more in floating point,
    so the result is as accurate as the tail (about 1e-12 or better for df 1..10^4).
    """
    if not (0.0 < p < 1.0) or not df > 0:
        raise ValueError("need 0 < p < 1 and df > 0")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -student_t_ppf(1.0 - p, df)
    tail = 1.0 - p
    lo, hi = 0.0, 1.0
    while student_t_sf(hi, df) > tail:
        lo, hi = hi, hi * 2.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            return mid
        if student_t_sf(mid, df) > tail:
            lo = mid
        else:
            hi = mid


# --- KPI --------------------------------------------------------------------------------


def _recorded_key(recorded_at: datetime.datetime | None):
    """Sort key for ``recorded_at``: None first; aware times compared in UTC, naive taken as UTC."""
    if recorded_at is None:
        return (0, datetime.datetime.min)
    if recorded_at.tzinfo is not None and recorded_at.utcoffset() is not None:
        recorded_at = recorded_at.astimezone(datetime.UTC).replace(tzinfo=None)
    return (1, recorded_at)


EXCLUDED_BEFORE_BASELINE = "on_or_before_baseline_date"
EXCLUDED_AFTER_AS_OF = "after_as_of_date"
EXCLUDED_SUPERSEDED = "superseded_by_later_record_same_date"


def _classify(measurements: Iterable[MeasurementPoint], t0: datetime.date, as_of: datetime.date):
    """``(points, reasons, kept)``: the input as a list, why each one is left out (None: used), and the
    kept ``(date, value)`` pairs by date.

    Recording times are compared only between points of one date (rare), which keeps a replay of many
    days over long series cheap.
    """
    points = measurements if isinstance(measurements, list) else list(measurements)
    reasons: list[str | None] = [None] * len(points)
    winners: dict[datetime.date, int] = {}
    for index, m in enumerate(points):
        value = float(m.value)
        if not math.isfinite(value):
            _finite("measurement value", value)
        day = m.date
        if day <= t0:
            reasons[index] = EXCLUDED_BEFORE_BASELINE
            continue
        if day > as_of:
            reasons[index] = EXCLUDED_AFTER_AS_OF
            continue
        best = winners.get(day)
        if best is None:
            winners[day] = index
        elif (_recorded_key(m.recorded_at), index) >= (_recorded_key(points[best].recorded_at), best):
            reasons[best] = EXCLUDED_SUPERSEDED
            winners[day] = index
        else:
            reasons[index] = EXCLUDED_SUPERSEDED
    kept = sorted((day, float(points[index].value)) for day, index in winners.items())
    return points, reasons, kept


def _point(date: datetime.date, value: float) -> dict:
    return {"date": date.isoformat(), "value": value}


class _KeptPoints:
    """The measurements ``kpi_status`` keeps at ``as_of`` from a list of points (``_classify``): the
    explanation's summary of them, how many are kept, the latest kept ``(date, value)`` and the fit's columns."""

    def __init__(self, measurements: Iterable[MeasurementPoint], t0: datetime.date, as_of: datetime.date):
        points, reasons, self._kept = _classify(measurements, t0, as_of)
        self._t0 = t0
        self.summary = _points_summary(points, reasons, self._kept)
        self.count = len(self._kept)
        self.latest = self._kept[-1] if self._kept else None

    def columns(self, b0: float) -> tuple[list[float], list[float]]:
        """x (days since the baseline date) and y of the baseline point and the kept points."""
        return [0.0] + [float((d - self._t0).days) for d, _ in self._kept], [b0] + [v for _, v in self._kept]


class _KeptSeries:
    """``_KeptPoints`` of a ``MeasurementSeries``, found by bisection: the same summary, count, latest and
    columns. A date's rows lie together in the series, so a window of dates never splits one; of its
    rows, all but the last are superseded. Sorted input lists the reasons in the order ``_classify``
    meets them: before the baseline, superseded, after the as-of date."""

    def __init__(self, series: MeasurementSeries, t0: datetime.date, as_of: datetime.date):
        days, values = series.latest()
        start, stop = t0.toordinal(), as_of.toordinal()
        before = bisect_right(series.days, start)
        end = max(before, bisect_right(series.days, stop))
        self._series, self._start = series, start
        self._lo = lo = bisect_right(days, start)
        self._hi = hi = max(lo, bisect_right(days, stop))
        self.count = hi - lo
        excluded = {}
        for reason, count in (
            (EXCLUDED_BEFORE_BASELINE, before),
            (EXCLUDED_SUPERSEDED, end - before - self.count),
            (EXCLUDED_AFTER_AS_OF, len(series) - end),
        ):
            if count:
                excluded[reason] = count
        first = (datetime.date.fromordinal(days[lo]), values[lo]) if self.count else None
        self.latest = (datetime.date.fromordinal(days[hi - 1]), values[hi - 1]) if self.count else None
        self.summary = {
            "count": len(series),
            "used": self.count,
            "excluded": excluded,
            "first": _point(*first) if first else None,
            "last": _point(*self.latest) if self.latest else None,
        }

    def columns(self, b0: float) -> tuple[list[float], list[float]]:
        lo, hi = self._lo, self._hi
        return [0.0, *self._series.offsets(self._start)[lo:hi]], [b0, *self._series.latest()[1][lo:hi]]


def _points_summary(points: list, reasons: list, kept: list) -> dict:
    """What the explanation keeps of the measurements: counts, the first and the last kept (the last one
    decides achieved and missed; the fit's slope and intercept, in ``values``, decide a forecast).
    ``kpi_point_rows`` derives the full list on demand."""
    excluded = {}
    for reason in reasons:
        if reason is not None:
            excluded[reason] = excluded.get(reason, 0) + 1
    return {
        "count": len(points),
        "used": len(kept),
        "excluded": excluded,
        "first": _point(*kept[0]) if kept else None,
        "last": _point(*kept[-1]) if kept else None,
    }


def kpi_point_rows(
    measurements: Iterable[MeasurementPoint], *, baseline_date: datetime.date, as_of: datetime.date
) -> list[dict]:
    """Every measurement as ``kpi_status`` saw it at ``as_of``: date, value, recorded_at, whether it was used
    and if not why. Stored explanations keep only a summary (``inputs.points``); pages derive this list."""
    points, reasons, _kept = _classify(measurements, baseline_date, as_of)
    return [
        {
            "date": m.date.isoformat(),
            "value": float(m.value),
            "recorded_at": m.recorded_at.isoformat() if m.recorded_at is not None else None,
            "used": reason is None,
            "reason": reason,
        }
        for m, reason in zip(points, reasons, strict=True)
    ]


def _fit_line(xs: list[float], ys: list[float]) -> dict:
    """Ordinary least squares of y on x, with centred sums (stable, and exact under negation).

    The sums run as ``map`` over ``operator`` functions: the very operations of ``(x - mean_x) ** 2`` and
    ``(x - mean_x) * (y - mean_y)``, in C."""
    n = len(xs)
    if n != len(ys):
        raise ValueError("the fit needs as many y values as x values")
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    dx = list(map(sub, xs, repeat(mean_x)))
    sxx = math.fsum(map(pow, dx, repeat(2)))
    sxy = math.fsum(map(mul, dx, map(sub, ys, repeat(mean_y))))
    slope = sxy / sxx
    return {
        "n": n,
        "mean_x": mean_x,
        "mean_y": mean_y,
        "sxx": sxx,
        "sxy": sxy,
        "slope_per_day": slope,
        "intercept": mean_y - slope * mean_x,
    }


def prediction_se(x: float, *, n: int, mean_x: float, sxx: float, s: float) -> float:
    """Standard error of a new value at ``x``: ``s * sqrt(1 + 1/n + (x - mean x)^2 / Sxx)``."""
    return s * math.sqrt(1.0 + 1.0 / n + (x - mean_x) ** 2 / sxx)


def prediction_band(values: dict, xs: Iterable[float]) -> list[tuple[float, float]]:
    """``(low, high)`` of the 95% prediction interval around the fitted line at each ``x`` (days since t0).

    ``values`` are the stored ``values`` of a KPI explanation that has an interval (rule ``kpi.ratio``
    with three points or more): the charts draw the band from them without refitting.
    """
    slope, intercept, t = values["slope_per_day"], values["intercept"], values["t_quantile"]
    fit = {"n": values["n"], "mean_x": values["mean_x"], "sxx": values["sxx"], "s": values["s"]}
    band = []
    for x in xs:
        y, half = intercept + slope * x, t * prediction_se(x, **fit)
        band.append((y - half, y + half))
    return band


def _prediction_interval(fit: dict, xs: list[float], ys: list[float], x0: float, forecast: float) -> dict:
    """95% prediction interval at ``x0``: ``F ± t(0.975, n-2) * prediction_se(x0)``."""
    n, mean_x, mean_y, slope = fit["n"], fit["mean_x"], fit["mean_y"], fit["slope_per_day"]
    # (y - (mean_y + slope * (x - mean_x))) ** 2, operation by operation, in C.
    fitted = map(add, repeat(mean_y), map(mul, repeat(slope), map(sub, xs, repeat(mean_x))))
    sse = math.fsum(map(pow, map(sub, ys, fitted), repeat(2)))
    df = n - 2
    s = math.sqrt(sse / df)
    se = prediction_se(x0, n=n, mean_x=mean_x, sxx=fit["sxx"], s=s)
    t = student_t_ppf(0.5 + PREDICTION_LEVEL / 2.0, df)
    return {
        "sse": sse,
        "df": df,
        "s": s,
        "t_quantile": t,
        "prediction_se": se,
        "half_width": t * se,
        "forecast_low": forecast - t * se,
        "forecast_high": forecast + t * se,
    }


def _forecast(xs: list[float], ys: list[float], t0: datetime.date, target_date: datetime.date) -> dict:
    """Line through the points ``(xs, ys)`` (the baseline ``(0, b0)`` and the kept measurements, x in days
    since ``t0``), read at ``x0 = target date - baseline date``."""
    x0 = float((target_date - t0).days)
    fit = _fit_line(xs, ys)
    forecast = fit["mean_y"] + fit["slope_per_day"] * (x0 - fit["mean_x"])
    values = {"x0": x0, **fit, "forecast": forecast}
    if len(xs) >= 3:
        values.update(_prediction_interval(fit, xs, ys, x0, forecast))
    return values


def _ratio_score(ratio: float) -> float:
    if ratio >= KPI_AT_RISK_RATIO:
        return min((ratio - KPI_AT_RISK_RATIO) * KPI_SLOPE_ABOVE, MAX_SCORE)
    return max((ratio - KPI_AT_RISK_RATIO) * KPI_SLOPE_BELOW, MIN_SCORE)


def _ratio_status(ratio: float) -> Status:
    if ratio >= KPI_ON_TRACK_RATIO:
        return Status.ON_TRACK
    if ratio >= KPI_AT_RISK_RATIO:
        return Status.AT_RISK
    return Status.OFF_TRACK


def _kpi_progress(status: Status, hold_the_line: bool, vc: float, b0: float, target: float) -> float:
    if status == Status.ACHIEVED:
        return 1.0
    if hold_the_line:
        return 0.0
    return _clamp((vc - b0) / (target - b0), 0.0, 1.0)


def final_figure_due_by(target_date: datetime.date, frequency: str) -> datetime.date:
    """KPI rule 8: the last day a KPI's final figure may come in while its forecast still stands in for it, its target
    date plus the frequency's allowance; past it without a figure dated on or after the target date, it is overdue."""
    return target_date + datetime.timedelta(days=ALLOWANCE_DAYS[frequency])


def kpi_stale_reasons(
    *, as_of: datetime.date, latest_date: datetime.date, target_date: datetime.date, frequency: str
) -> list[str]:
    """Why a KPI that is neither achieved nor missed is stale at ``as_of`` (KPI rule 10); empty when it is not.

    The latest measurement is older than the frequency's allowance (``STALE_OLDER_THAN_FREQUENCY``),
    or the target date has passed without a measurement on or after it (``STALE_NO_FINAL_FIGURE``).
    """
    reasons = []
    if (as_of - latest_date).days > ALLOWANCE_DAYS[frequency]:
        reasons.append(STALE_OLDER_THAN_FREQUENCY)
    if as_of > target_date and latest_date < target_date:
        reasons.append(STALE_NO_FINAL_FIGURE)
    return reasons


def _kpi_thresholds(frequency: str) -> dict:
    return {
        "on_track_ratio": KPI_ON_TRACK_RATIO,
        "at_risk_ratio": KPI_AT_RISK_RATIO,
        "score_slope_above_at_risk_ratio": KPI_SLOPE_ABOVE,
        "score_slope_below_at_risk_ratio": KPI_SLOPE_BELOW,
        "score_range": [MIN_SCORE, MAX_SCORE],
        "achieved_score": KPI_ACHIEVED_SCORE,
        "missed_score_slope": KPI_MISSED_SLOPE,
        "missed_score": KPI_MISSED_SCORE,
        "overdue_final_figure_max_score": KPI_OVERDUE_FINAL_MAX_SCORE,
        "hold_the_line_score": KPI_HOLD_THE_LINE_SCORE,
        "prediction_level": PREDICTION_LEVEL,
        "stale_after_days": ALLOWANCE_DAYS[frequency],  # the frequency's allowance, also rule 8's
    }


def _missed_score(final_ratio: float | None) -> float:
    """Rule 3: ``max(5 * (Rf - 1), -5)``; a hold-the-line target (no ``Rf``) that is missed scores -5."""
    if final_ratio is None:
        return KPI_MISSED_SCORE
    return max(KPI_MISSED_SLOPE * (final_ratio - 1.0), KPI_MISSED_SCORE)


def _kpi_summary(rule: str, v: dict, inputs: dict) -> str:
    target, target_date = _fmt(inputs["target_value"]), inputs["target_date"]
    if rule == "kpi.no_data":
        return (
            f"No measurement dated after the baseline date {inputs['baseline_date']} and up to the as-of date, "
            "so there is no status yet."
        )
    latest = f"Latest value {_fmt(v['latest_value'])} ({v['latest_date']})"
    stale = f" (the data is stale: last figure {v['latest_date']})" if v.get("stale") else ""
    if rule == "kpi.achieved":
        return f"{latest} meets the target of {target}."
    if rule == "kpi.missed":
        made = "" if v["final_ratio"] is None else f"; it made {_pct(v['final_ratio'])} of the required change"
        return f"{latest} is the final figure and falls short of the target of {target} due {target_date}{made}."
    if rule == "kpi.hold_the_line":
        return f"{latest} falls short of the target of {target}, which asks to hold the line{stale}."
    head = f"Forecast {_fmt(v['forecast'])} by {target_date} covers {_pct(v['ratio'])} of the required change"
    if rule == "kpi.final_figure_overdue":
        return (
            f"{head}, but the final figure was due by {v['final_figure_due_by']} ({v['allowance_days']} days "
            "after the target date) and has not come in, so the forecast cannot stand in for it: at risk."
        )
    return f"{head}; {_pct(KPI_ON_TRACK_RATIO)} is needed to be on track{stale}."


def kpi_status(
    *,
    as_of: datetime.date,
    baseline_value: float,
    baseline_date: datetime.date,
    target_value: float,
    target_date: datetime.date,
    direction: str,
    frequency: str,
    measurements: Iterable[MeasurementPoint] | MeasurementSeries,
) -> Result:
    """Status of a KPI at ``as_of`` (METHOD.md, "KPI status").

    ``measurements`` are the KPI's points, or the same as a ``MeasurementSeries`` (the same result, faster
    when one series is evaluated at many dates).

    Choices where METHOD.md is silent:
    - ``direction`` must be "increase" or "decrease" and ``frequency`` "monthly", "quarterly"
      or "annual"; baseline, target and values must be finite numbers (Decimal is accepted and
      converted to float). Anything else raises ValueError.
    - Several measurements on one date: the one with the latest ``recorded_at`` counts; rows
      without ``recorded_at`` count as recorded before any timed row; ties go to the later row
      in input order. Aware times are compared in UTC, naive ones are taken as UTC.
    - The fit always includes the baseline at x = 0 and every kept point has x > 0 (they are
      dated after the baseline date, one per date), so Sxx > 0 and the line is always defined;
      "several points on the same day" cannot reach the fit.
    - Target date on or before the baseline date: every kept measurement is then on or after
      the target date, so the KPI is achieved or missed (or no_data); no forecast is needed.
    - Achieved: score +5, progress 1, no forecast. Missed: score ``max(5 * (Rf - 1), -5)``
      (``Rf`` is stored as ``final_ratio``; none and -5 for a hold-the-line target, whose
      ``T - b0`` may be 0), progress by the progress formula (0 for a hold-the-line target), no
      forecast. A target date on or before the baseline date is missed in the same way.
    - Final figure overdue (rule 8, ``kpi.final_figure_overdue``): strictly after ``tT`` plus
      the allowance. It applies to a forecast only: a hold-the-line KPI is off track already,
      and off track stays off track (rule ``kpi.ratio``, with ``final_figure_overdue`` true).
      Since ``R >= 0.60`` scores 0 or more, ``min(score, 0)`` is 0; the ratio's own status and
      score are kept as ``ratio_status`` and ``ratio_score``. The forecast and its interval
      are still reported.
    - Hold-the-line target not met (``d * (T - b0) <= 0``): off_track, -2.5, progress 0, no
      forecast; the stale flag follows rule 10 as for any other unmet KPI. A hold-the-line KPI
      without data is no_data like any other.
    - The ratio formula is used as written for both directions: ``(F - b0) / (T - b0)``
      already carries the sign, so a decrease target gives the same ratio as the mirrored
      increase target.
    - The prediction interval needs three points or more (the baseline plus two kept
      measurements); with a perfect fit it has zero width.
    - Stale: "older than the frequency allows" means more than 31/92/366 days between the
      latest measurement and ``as_of``. No data: stale is False (the no_data status already
      says that figures are missing). Achieved and missed: never stale.
    """
    d = DIRECTION_SIGNS.get(direction)
    if d is None:
        raise ValueError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    if frequency not in ALLOWANCE_DAYS:
        raise ValueError(f"frequency must be one of {sorted(str(f) for f in Frequency)}, got {frequency!r}")
    b0 = _finite("baseline_value", baseline_value)
    target = _finite("target_value", target_value)
    if isinstance(measurements, MeasurementSeries):
        kept = _KeptSeries(measurements, baseline_date, as_of)
    else:
        kept = _KeptPoints(measurements, baseline_date, as_of)
    inputs = {
        "baseline_value": b0,
        "baseline_date": baseline_date.isoformat(),
        "target_value": target,
        "target_date": target_date.isoformat(),
        "direction": direction,
        "frequency": frequency,
        "points": kept.summary,
    }
    thresholds = _kpi_thresholds(frequency)
    values: dict = {"direction_sign": d, "kept_measurements": kept.count, "required_change": target - b0}

    def finish(status, score, progress, rule, **extra):
        values.update(status=str(status), score=score, progress=progress)
        summary = _kpi_summary(rule, values, inputs)
        explanation = _explanation("kpi", as_of, inputs, values, thresholds, rule, summary)
        return Result(status=status, score=score, progress=progress, explanation=explanation, **extra)

    if not kept.count:
        values["stale"] = False
        return finish(Status.NO_DATA, None, None, "kpi.no_data")

    tc, vc = kept.latest
    latest = {"latest_value": vc, "latest_date": tc}
    values.update(latest_value=vc, latest_date=tc.isoformat(), days_since_latest=(as_of - tc).days)
    hold_the_line = d * (target - b0) <= 0
    values["hold_the_line"] = hold_the_line

    if d * (vc - target) >= 0:
        values["stale"] = False
        return finish(Status.ACHIEVED, KPI_ACHIEVED_SCORE, 1.0, "kpi.achieved", **latest)
    if tc >= target_date:
        final_ratio = None if hold_the_line else (vc - b0) / (target - b0)
        values.update(stale=False, final_ratio=final_ratio)
        progress = _kpi_progress(Status.MISSED, hold_the_line, vc, b0, target)
        return finish(Status.MISSED, _missed_score(final_ratio), progress, "kpi.missed", **latest)

    reasons = kpi_stale_reasons(as_of=as_of, latest_date=tc, target_date=target_date, frequency=frequency)
    values.update(stale=bool(reasons), stale_reasons=reasons)
    if hold_the_line:
        return finish(
            Status.OFF_TRACK, KPI_HOLD_THE_LINE_SCORE, 0.0, "kpi.hold_the_line", stale=bool(reasons), **latest
        )

    values.update(_forecast(*kept.columns(b0), baseline_date, target_date))
    ratio = (values["forecast"] - b0) / (target - b0)
    status, score, rule = _ratio_status(ratio), _ratio_score(ratio), "kpi.ratio"
    # Reaching here, no kept figure is dated on or after the target date (rule 3 returned otherwise).
    due_by = final_figure_due_by(target_date, frequency)
    overdue = as_of > due_by
    values.update(
        ratio=ratio,
        ratio_status=str(status),
        ratio_score=score,
        allowance_days=ALLOWANCE_DAYS[frequency],
        final_figure_due_by=due_by.isoformat(),
        final_figure_overdue=overdue,
    )
    if overdue and status in (Status.ON_TRACK, Status.AT_RISK):
        status, score, rule = Status.AT_RISK, min(score, KPI_OVERDUE_FINAL_MAX_SCORE), "kpi.final_figure_overdue"
    return finish(
        status,
        score,
        _kpi_progress(status, False, vc, b0, target),
        rule,
        forecast_value=values["forecast"],
        forecast_low=values.get("forecast_low"),
        forecast_high=values.get("forecast_high"),
        stale=bool(reasons),
        **latest,
    )


# --- milestone --------------------------------------------------------------------------


def _planned_share(as_of: datetime.date, start: datetime.date, due: datetime.date) -> tuple[int, int, float]:
    """``(elapsed days, duration days, clamp(elapsed / duration, 0, 1))``.

    A milestone whose start is on or after its due date has no span to spread the plan over:
    its planned share is 0 before the due date and 1 from the due date on.
    """
    elapsed, duration = (as_of - start).days, (due - start).days
    if duration <= 0:
        return elapsed, duration, 1.0 if as_of >= due else 0.0
    return elapsed, duration, _clamp(elapsed / duration, 0.0, 1.0)


def _spi_status(spi: float) -> Status:
    if spi >= MILESTONE_SPI_ON_TRACK:
        return Status.ON_TRACK
    if spi >= MILESTONE_SPI_AT_RISK:
        return Status.AT_RISK
    return Status.OFF_TRACK


def _variance_status(sv: float) -> Status:
    if sv >= MILESTONE_SV_ON_TRACK - MILESTONE_SV_TOLERANCE:
        return Status.ON_TRACK
    if sv >= MILESTONE_SV_AT_RISK - MILESTONE_SV_TOLERANCE:
        return Status.AT_RISK
    return Status.OFF_TRACK


_BAND_ORDER = (Status.OFF_TRACK, Status.AT_RISK, Status.ON_TRACK)
_MILESTONE_STATES = frozenset(MilestoneState)
_MILESTONE_SCORES_BY_NAME = {str(k): v for k, v in MILESTONE_SCORES.items()}  # copied into each explanation


def _milestone_summary(rule: str, v: dict, inputs: dict) -> str:
    pct, due = _fmt(inputs["percent_complete"]), inputs["due_date"]
    if rule == "milestone.cancelled":
        return "The milestone is cancelled and is left out of roll-ups."
    if rule == "milestone.complete":
        return "The milestone is complete."
    if rule == "milestone.not_started":
        return f"The milestone starts on {inputs['start_date']} and has not started yet."
    if rule == "milestone.overdue":
        return f"The milestone was due on {due} and is only {pct}% complete."
    head = (
        f"The milestone is {pct}% complete against {_pct(v['planned_share'])} planned by now "
        f"(SPI {v['spi']:.2f}, schedule variance {v['schedule_variance'] * 100:+.0f} points; on track needs "
        f"SPI {MILESTONE_SPI_ON_TRACK:.2f} or a variance of {MILESTONE_SV_ON_TRACK * 100:+.0f} points)"
    )
    if rule == "milestone.blocked_cap":
        return head + ", but it is blocked, so it is at best at risk."
    return head + "."


def milestone_status(
    *, as_of: datetime.date, start_date: datetime.date, due_date: datetime.date, percent_complete: float, state: str
) -> Result:
    """Status of a milestone at ``as_of`` (METHOD.md, "Milestone status").

    The caller resolves an empty start date to the goal's or plan's start before calling.

    Choices where METHOD.md is silent:
    - ``state`` must be one of planned, in_progress, blocked, done, cancelled and
      ``percent_complete`` a finite number in [0, 100]; anything else raises ValueError.
    - Cancelled: score none, progress percent/100 (what was done before cancelling); roll-ups
      leave it out anyway.
    - Complete (done or 100%): progress 1 even when a "done" milestone's percent was not
      updated. Complete wins over overdue; cancelled wins over everything.
    - Not started (before the start date, 0%): progress 0, score none. Before the start date
      with some work done: planned share 0, so SPI = 1 (on track, or at risk when blocked).
    - Start on or after the due date: planned share 0 before the due date, 1 on it (after it
      the milestone is overdue).
    - Blocked: an on-track result becomes at_risk (+1.25, rule ``milestone.blocked_cap``);
      at_risk, off_track and overdue stay as they are; a blocked milestone can still be
      complete or not started.
    - Overdue means strictly after the due date; on the due date the planned share is 1.
    - Rule 6 compares the SPI band and the schedule-variance band and keeps the better; the
      rule is ``milestone.variance`` when the variance band is strictly better, else
      ``milestone.spi``. The variance bands allow ``MILESTONE_SV_TOLERANCE`` for binary
      rounding, so exactly ten (twenty) points behind plan is on track (at risk).
    """
    if state not in _MILESTONE_STATES:
        raise ValueError(f"state must be one of {tuple(str(s) for s in MilestoneState)}, got {state!r}")
    percent = _finite("percent_complete", percent_complete)
    if not 0.0 <= percent <= MILESTONE_COMPLETE_PERCENT:
        raise ValueError(f"percent_complete must be within 0..100, got {percent_complete!r}")
    inputs = {
        "start_date": start_date.isoformat(),
        "due_date": due_date.isoformat(),
        "percent_complete": percent,
        "state": state,
    }
    thresholds = {
        "spi_on_track": MILESTONE_SPI_ON_TRACK,
        "spi_at_risk": MILESTONE_SPI_AT_RISK,
        "sv_on_track": MILESTONE_SV_ON_TRACK,
        "sv_at_risk": MILESTONE_SV_AT_RISK,
        "sv_tolerance": MILESTONE_SV_TOLERANCE,
        "scores": dict(_MILESTONE_SCORES_BY_NAME),
    }
    earned = percent / MILESTONE_COMPLETE_PERCENT
    values: dict = {"earned_share": earned}

    def finish(status, progress, rule):
        score = MILESTONE_SCORES.get(status)
        values.update(status=str(status), score=score, progress=progress)
        summary = _milestone_summary(rule, values, inputs)
        explanation = _explanation("milestone", as_of, inputs, values, thresholds, rule, summary)
        return Result(status=status, score=score, progress=progress, explanation=explanation)

    if state == MilestoneState.CANCELLED:
        return finish(Status.CANCELLED, earned, "milestone.cancelled")
    if percent >= MILESTONE_COMPLETE_PERCENT or state == MilestoneState.DONE:
        return finish(Status.COMPLETE, 1.0, "milestone.complete")
    if as_of < start_date and percent == 0.0:
        return finish(Status.NOT_STARTED, 0.0, "milestone.not_started")
    if as_of > due_date:
        values["days_overdue"] = (as_of - due_date).days
        return finish(Status.OVERDUE, earned, "milestone.overdue")
    elapsed, duration, planned = _planned_share(as_of, start_date, due_date)
    spi = earned / planned if planned > 0 else 1.0
    sv = earned - planned
    spi_band, sv_band = _spi_status(spi), _variance_status(sv)
    status = max(spi_band, sv_band, key=_BAND_ORDER.index)
    values.update(
        elapsed_days=elapsed,
        duration_days=duration,
        planned_share=planned,
        spi=spi,
        schedule_variance=sv,
        spi_status=str(spi_band),
        variance_status=str(sv_band),
    )
    if state == MilestoneState.BLOCKED and status == Status.ON_TRACK:
        return finish(Status.AT_RISK, earned, "milestone.blocked_cap")
    if _BAND_ORDER.index(sv_band) > _BAND_ORDER.index(spi_band):
        return finish(status, earned, "milestone.variance")
    return finish(status, earned, "milestone.spi")


# --- roll-up ----------------------------------------------------------------------------


def _child_row(child: Child) -> dict:
    status = Status(child.status)
    weight = _finite(f"weight of {child.key}", child.weight)
    if weight < 0:
        raise ValueError(f"weight of {child.key} must not be negative, got {child.weight!r}")
    score = None if child.score is None else _finite(f"score of {child.key}", child.score)
    progress = None if child.progress is None else _finite(f"progress of {child.key}", child.progress)
    excluded = "cancelled" if status == Status.CANCELLED else "zero_weight" if weight == 0 else None
    return {
        "key": str(child.key),
        "label": str(child.label),
        "weight": weight,
        "status": str(status),
        "score": score,
        "progress": progress,
        "included": excluded is None,
        "excluded_reason": excluded,
        "scored": excluded is None and score is not None,
        "contribution": None,
        "pull": None,
    }


def _weighted_mean(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """``(sum w*x / sum w, sum w)``, clamped into [min x, max x] to drop rounding noise."""
    total = math.fsum(w for w, _ in pairs)
    mean = math.fsum(w * x for w, x in pairs) / total
    return _clamp(mean, min(x for _, x in pairs), max(x for _, x in pairs)), total


def _rollup_progress(rows: list[dict]) -> tuple[float | None, float]:
    pairs = [(r["weight"], r["progress"]) for r in rows if r["included"] and r["progress"] is not None]
    if not pairs:
        return None, 0.0
    return _weighted_mean(pairs)


def _sort_rows(rows: list[dict]) -> list[dict]:
    """Scored children by pull (most negative first, then lower score), then unscored, then left out."""

    def key(item):
        index, r = item
        if r["scored"]:
            return (0, r["pull"], r["score"], index)
        return (1 if r["included"] else 2, 0.0, 0.0, index)

    return [r for _, r in sorted(enumerate(rows), key=key)]


def _rollup_status(score: float, worst_share: float) -> tuple[Status, str]:
    if score >= ROLLUP_ON_TRACK_SCORE:
        if worst_share >= WORST_CHILD_SHARE:
            return Status.AT_RISK, "rollup.worst_child_guard"
        return Status.ON_TRACK, "rollup.weighted"
    if score >= ROLLUP_AT_RISK_SCORE:
        return Status.AT_RISK, "rollup.weighted"
    return Status.OFF_TRACK, "rollup.weighted"


def _rollup_summary(rule: str, v: dict, rows: list[dict]) -> str:
    if rule == "rollup.no_data":
        return "No child has a score yet, so there is no status."
    if rule == "rollup.all_achieved":
        return "Every child that counts is achieved or complete."
    head = (
        f"Weighted score {_fmt(v['score'])} from children carrying {_pct(v['coverage'])} of the weight "
        f"({_fmt(ROLLUP_ON_TRACK_SCORE)} is needed to be on track)"
    )
    drag = next((r for r in rows if r["scored"] and r["pull"] < 0), None)
    drag_text = f"; largest drag: {drag['label']} ({drag['status'].replace('_', ' ')})" if drag else ""
    if rule == "rollup.worst_child_guard":
        return (
            f"{head}, but off-track, overdue or missed children carry {_pct(v['worst_child_share'])} "
            f"of the scored weight ({_pct(WORST_CHILD_SHARE)} triggers the guard), so it is at risk{drag_text}."
        )
    return f"{head}: {v['status'].replace('_', ' ')}{drag_text}."


def rollup_status(*, as_of: datetime.date, children: Sequence[Child]) -> Result:
    """Status of a goal, focus area or plan from its children (METHOD.md, "Roll-up").

    Choices where METHOD.md is silent:
    - ``status`` may be a ``Status`` or its string value; weights must be finite and >= 0,
      scores and progress finite; anything else raises ValueError.
    - A child of weight 0 is listed in the explanation but counts nowhere (not in "remaining",
      coverage, score, guard or progress), as a cancelled child.
    - Score: the weighted mean, clamped into [lowest, highest scored child] so rounding noise
      can never leave that range. The guard never changes the score, only the status.
    - The worst-child share counts off_track, overdue and missed children among the scored
      children; the guard only downgrades on_track to at_risk.
    - Progress (rule 7) is computed for every outcome, including no_data (e.g. a goal whose
      milestones have not started has progress 0) and achieved.
    - Coverage for no_data is 0 (None when nothing remains at all).
    - Rows: ``contribution = w * score / scored weight`` (the contributions sum to the score)
      and ``pull = w * (score - roll-up score) / scored weight`` (how far the child moves the
      score away from the average of the others: negative pulls down; the pulls sum to 0).
      Rows are sorted by pull, most negative first, then scored-but-neutral, then unscored
      children, then children left out (cancelled or weight 0); ties keep input order.
    """
    rows = [_child_row(c) for c in children]
    remaining = [r for r in rows if r["included"]]
    scored = [r for r in remaining if r["scored"]]
    remaining_weight = math.fsum(r["weight"] for r in remaining)
    progress, progress_weight = _rollup_progress(rows)
    values: dict = {
        "children_count": len(rows),
        "remaining_count": len(remaining),
        "scored_count": len(scored),
        "remaining_weight": remaining_weight,
        "progress_weight": progress_weight,
    }
    thresholds = {
        "on_track_score": ROLLUP_ON_TRACK_SCORE,
        "at_risk_score": ROLLUP_AT_RISK_SCORE,
        "achieved_score": ROLLUP_ACHIEVED_SCORE,
        "worst_child_share": WORST_CHILD_SHARE,
        "worst_statuses": [str(s) for s in WORST_STATUSES],
    }

    def finish(status, score, rule):
        values.update(status=str(status), score=score, progress=progress)
        ordered = _sort_rows(rows)
        summary = _rollup_summary(rule, values, ordered)
        explanation = _explanation("rollup", as_of, {"children": ordered}, values, thresholds, rule, summary)
        return Result(status=status, score=score, progress=progress, explanation=explanation)

    if not scored:
        values.update(scored_weight=0.0, coverage=0.0 if remaining_weight > 0 else None)
        return finish(Status.NO_DATA, None, "rollup.no_data")

    mean, scored_weight = _weighted_mean([(r["weight"], r["score"]) for r in scored])
    worst = [r for r in scored if r["status"] in WORST_STATUSES]
    worst_weight = math.fsum(r["weight"] for r in worst)
    for r in scored:
        r["contribution"] = r["weight"] * r["score"] / scored_weight
        r["pull"] = r["weight"] * (r["score"] - mean) / scored_weight
    values.update(
        scored_weight=scored_weight,
        weighted_score_sum=math.fsum(r["weight"] * r["score"] for r in scored),
        weighted_mean_score=mean,
        coverage=scored_weight / remaining_weight,
        worst_children=[r["key"] for r in worst],
        worst_child_weight=worst_weight,
        worst_child_share=worst_weight / scored_weight,
    )
    if all(Status(r["status"]) in DONE_STATUSES for r in remaining):
        return finish(Status.ACHIEVED, ROLLUP_ACHIEVED_SCORE, "rollup.all_achieved")
    status, rule = _rollup_status(mean, values["worst_child_share"])
    return finish(status, mean, rule)
