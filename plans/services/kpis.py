"""Writes of KPIs and their measurements: create, update, delete, ``measurement_record`` and the bulk upsert."""

import bisect
import datetime
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, Q
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from ..choices import Aggregation, ChangeChannel, MeasurementSource, SubmissionState, UnitLevel
from ..dates import period_end_containing
from ..exceptions import MeasurementRowsInvalid, PeriodLocked, PlanClosed
from ..incremental import Changes
from ..models import KPI, Measurement, MeasurementRevision, PeriodReopening, ReportingUnit, Submission
from ..models.base import MAX_ABS_VALUE
from ..models.kpis import kpi_default_range
from ..series import series_arrays, series_by_date, series_packed, series_packed_aside
from ..setwrites import bulk_set, copy_rows, copy_within, insert_returning_ids, statements_overlapped
from .history import author_split
from .plans import plan_mark_changed, plan_open_check
from .rows import goal_child_fill, row_create, row_delete, row_lock, row_update
from .sync import _tombstones_create, _tombstones_for_kpis


@dataclass(frozen=True)
class MeasurementResult:
    measurement: Measurement
    outcome: str  # "created" | "updated" | "unchanged"


def _kpis_series_changed(kpi_ids, *, now: datetime.datetime) -> None:
    """A KPI's version covers its measurements: a caller holding an older version sees its series changed."""
    if kpi_ids:
        KPI.objects.filter(pk__any=kpi_ids).update(version=F("version") + 1, updated_at=now)


# Reporting periods per year of each frequency, to spread a KPI's planned change over its periods.
PERIODS_PER_YEAR = {"monthly": 12, "quarterly": 4, "annual": 1}


def kpi_typical_change(*, kpi: KPI, values: list[float]) -> float | None:
    """The KPI's typical period-on-period change, the yardstick of a jump (``measurement_check``).

    ``values`` are the KPI's measurements in date order, one per date. With three or more, it is the
    median of the absolute changes between consecutive ones: a median, so one earlier jump does not
    widen the yardstick. With fewer there is no history to learn from, so it is the planned change
    spread over the KPI's reporting periods, ``|target - baseline| / periods``, where periods are the
    frequency's periods between the baseline and the target date (at least one). A hold-the-line
    target (target = baseline) plans no change; then the baseline's own size spread over the periods
    stands in, so any real change is not a "jump". None (no yardstick, no jump rule) when all are zero.
    """
    if len(values) >= 3:
        typical = statistics.median(abs(later - earlier) for earlier, later in itertools.pairwise(values))
        if typical > 0:
            return typical
    return _planned_change(kpi)


def _planned_change(kpi: KPI) -> float | None:
    """The fallback of ``kpi_typical_change``: the planned change spread over the reporting periods."""
    years = (kpi.target_date - kpi.baseline_date).days / 365.25
    periods = max(1, round(years * PERIODS_PER_YEAR.get(kpi.frequency, 1)))
    planned = abs(kpi.target_value - kpi.baseline_value) or abs(kpi.baseline_value)
    return planned / periods if planned > 0 else None


def _is_real(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: float) -> str:
    value = round(value, 6)
    return formats.number_format(int(value) if value.is_integer() else value, use_l10n=True)


def measurement_check(
    *,
    kpi: KPI,
    date: datetime.date,
    value: Any,
    note: str,
    series: dict[datetime.date, float] | None = None,
    jump_basis: Callable[[], tuple[float, float | None]] | None = None,
    today: datetime.date | None = None,
) -> float:
    """Every rule a measurement must meet; returns the value as a float or raises ValidationError by field.

    ``series`` is the KPI's other values by date (one per date: the latest recorded). The rules:
    - the date lies after the KPI's baseline date and not after today (``timezone.localdate()``, in the
      plan's time zone);
    - the value is a real number (not a boolean, text, NaN or infinity) within the KPI's plausible range;
    - a change from the previous value (by date; the baseline before the first) larger than
      ``TRACKER_JUMP_NOTE_MULTIPLE`` times the typical change (``kpi_typical_change``) needs a note.

    ``jump_basis``, when given, returns that (previous value, typical change) instead of ``series``:
    the bulk upsert answers it from an index of the series rather than re-reading it for every row,
    and gives ``today`` once for all its rows.
    """
    errors: dict[str, ValidationError] = {}
    today = today or timezone.localdate()
    if date <= kpi.baseline_date:
        errors["date"] = ValidationError(
            _("The date must be after the KPI's baseline date, %(date)s."),
            code="not_after_baseline",
            params={"date": formats.date_format(kpi.baseline_date, "DATE_FORMAT")},
        )
    elif date > today:
        errors["date"] = ValidationError(
            _("The date cannot be in the future (today is %(today)s)."),
            code="future",
            params={"today": formats.date_format(today, "DATE_FORMAT")},
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors["value"] = ValidationError(_("Enter a number, such as 12.5."), code="invalid")
        raise ValidationError(errors)
    value = float(value)
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        errors["value"] = ValidationError(
            _("Enter a real number between -1e15 and 1e15: NaN and infinity are not allowed."), code="not_finite"
        )
    elif not kpi.value_in_range(value):
        errors["value"] = ValidationError(
            _("%(value)s is outside this KPI's plausible range, %(range)s."),
            code="out_of_range",
            params={"value": _number(value), "range": kpi.range_display()},
        )
    elif not note.strip() and "date" not in errors:
        previous, typical = jump_basis() if jump_basis else _jump_basis(kpi, series or {}, date)
        multiple = settings.TRACKER_JUMP_NOTE_MULTIPLE
        if typical is not None and abs(value - previous) > multiple * typical:
            errors["note"] = ValidationError(
                _(
                    "This is a jump of more than %(multiple)s times the KPI's typical change (%(typical)s). "
                    "Confirm with a note: %(previous)s -> %(value)s"
                ),
                code="jump_needs_note",
                params={
                    "multiple": _number(multiple),
                    "typical": _number(typical),
                    "previous": _number(previous),
                    "value": _number(value),
                },
            )
    if errors:
        raise ValidationError(errors)
    return value


def _jump_basis(kpi: KPI, series: dict[datetime.date, float], date: datetime.date) -> tuple[float, float | None]:
    earlier = [d for d in series if d < date]
    previous = series[max(earlier)] if earlier else kpi.baseline_value
    return previous, kpi_typical_change(kpi=kpi, values=[series[d] for d in sorted(series)])


def _unit_jump_basis(series: dict[datetime.date, float], date: datetime.date) -> tuple[float, float | None]:
    """The jump rule's basis for a reporting unit's own figure: its previous figure and the median change of its
    other figures (three or more). Before that there is no yardstick: the KPI's baseline and target are the
    nation's, no measure of one zone's figures."""
    others = {d: v for d, v in series.items() if d != date}
    earlier = [d for d in others if d < date]
    if not earlier or len(others) < 3:
        return 0.0, None
    values = [others[d] for d in sorted(others)]
    typical = statistics.median(abs(later - earlier) for earlier, later in itertools.pairwise(values))
    return others[max(earlier)], (typical if typical > 0 else None)


class _SeriesIndex:
    """A KPI's series (one value per date) with its consecutive changes kept sorted, so that the jump basis
    of the series without one date (``_jump_basis``) costs a bisection and a few element moves per row,
    not a sort of the whole series. Gives exactly what ``_jump_basis`` gives (same floats, same median).
    Dates are held as day ordinals: built from a packed series (``plans.series``), no date is made. numpy
    unpacks, merges and sorts (the same float operations: later - earlier, its absolute value): a bulk upload at
    national scale 10 indexes 10,000 series of 200 values, 0.9 s in Python lists, 0.4 s this way."""

    def __init__(self, kpi: KPI, days, values):
        self.kpi = kpi
        values = np.asarray(values, dtype=np.float64)
        # Lists, for the bisections of ``without``: on 200 values a list's are several times faster than numpy's.
        self.dates, self.values = np.asarray(days, dtype=np.int64).tolist(), values.tolist()  # ascending days
        self.changes = np.sort(np.abs(np.diff(values))).tolist()  # |later - earlier|, in order

    @classmethod
    def of(cls, kpi: KPI, series: dict[datetime.date, float]) -> "_SeriesIndex":
        days = sorted(series)
        return cls(kpi, [day.toordinal() for day in days], [series[day] for day in days])

    @classmethod
    def packed(
        cls, kpi: KPI, packed: bytes | None, payload: dict[datetime.date, float]
    ) -> "_SeriesIndex | _AppendedOne":
        """The stored series (packed; the last row of a date counts) with the payload's values written over it."""
        days, values = series_arrays(packed)
        if len(days) > 1 and not (days[1:] > days[:-1]).all():  # of a repeated date the last row counts
            last = np.append(days[1:] != days[:-1], True)
            days, values = days[last], values[last]
        written = sorted((day.toordinal(), value) for day, value in payload.items())
        if len(written) == 1 and (not len(days) or written[0][0] > days[-1]):
            return _AppendedOne(kpi, days, values, *written[0])
        if written and (not len(days) or written[0][0] > days[-1]):  # the usual upload: later dates, appended
            more_days, more_values = zip(*written, strict=True)
            return cls(kpi, np.concatenate((days, more_days)), np.concatenate((values, more_values)))
        by_day = dict(zip(days.tolist(), values.tolist(), strict=True))
        by_day.update(written)
        ordered = sorted(by_day)
        return cls(kpi, ordered, [by_day[day] for day in ordered])

    def without(self, date: datetime.date) -> tuple[float, float | None]:
        dates, values, changes = self.dates, self.values, self.changes
        day = date.toordinal()
        i = bisect.bisect_left(dates, day)
        previous = values[i - 1] if i > 0 else self.kpi.baseline_value
        present = i < len(dates) and dates[i] == day
        if len(dates) - present < 3:
            rest = [v for d, v in zip(dates, values, strict=True) if d != day]
            return previous, kpi_typical_change(kpi=self.kpi, values=rest)
        removed, added = [], []
        if present:
            if i > 0:
                removed.append(abs(values[i] - values[i - 1]))
            if i < len(dates) - 1:
                removed.append(abs(values[i + 1] - values[i]))
            if 0 < i < len(dates) - 1:
                added.append(abs(values[i + 1] - values[i - 1]))
        for change in removed:
            del changes[bisect.bisect_left(changes, change)]
        for change in added:
            bisect.insort(changes, change)
        middle = len(changes) // 2
        median = changes[middle] if len(changes) % 2 else (changes[middle - 1] + changes[middle]) / 2
        for change in added:
            del changes[bisect.bisect_left(changes, change)]
        for change in removed:
            bisect.insort(changes, change)
        return previous, median if median > 0 else _planned_change(self.kpi)


class _AppendedOne:
    """The usual upload's KPI: one row, after every stored date. Its jump basis is the stored series' own (last
    value, median change), read off the stored arrays as ``_SeriesIndex.without`` reads it (the same floats, the
    same elements: ``tests/test_bulk_fast_paths.py``) without building the index: a bulk upload at national scale
    10 judges 10,000 such KPIs, whose indexes cost 0.5 s. Another date (no row of the payload has one) asks the
    whole index."""

    def __init__(self, kpi: KPI, days: np.ndarray, values: np.ndarray, day: int, value: float):
        self.kpi, self.days, self.stored, self.day, self.value = kpi, days, values, day, value

    def without(self, date: datetime.date) -> tuple[float, float | None]:
        if date.toordinal() != self.day:
            days, values = np.append(self.days, self.day), np.append(self.stored, self.value)
            return _SeriesIndex(self.kpi, days, values).without(date)
        stored = self.stored
        previous = float(stored[-1]) if len(stored) else self.kpi.baseline_value
        if len(stored) < 3:
            return previous, kpi_typical_change(kpi=self.kpi, values=stored.tolist())
        changes = np.sort(np.abs(np.diff(stored)))  # |later - earlier|, as the index holds them
        middle = len(changes) // 2
        median = (
            float(changes[middle]) if len(changes) % 2 else (float(changes[middle - 1]) + float(changes[middle])) / 2
        )
        return previous, median if median > 0 else _planned_change(self.kpi)


def kpi_series(kpi_ids, *, unit_id: int | None = None) -> dict[int, dict[datetime.date, float]]:
    """Each KPI's values by date, one per date (the latest recorded, as the status method counts them):
    the national series, or with ``unit_id`` that reporting unit's own."""
    series: dict[int, dict[datetime.date, float]] = {kpi_id: {} for kpi_id in kpi_ids}
    if not series:
        return series
    if unit_id is None and connection.vendor == "postgresql":
        # One packed value per KPI (plans.series): a bulk upsert reads every series of a plan (240,000 rows for
        # 1,200 KPIs at national scale), which as rows cost a third of its time.
        series.update((kpi_id, series_by_date(values)) for kpi_id, values in series_packed(series).items())
        return series
    query = (
        Measurement.objects.filter(kpi_id__any=list(kpi_ids), unit_id=unit_id)
        .order_by("kpi_id", "date", "recorded_at", "id")
        .values_list("kpi_id", "date", "value")
    )
    # A plain cursor: the bulk upsert reads whole series (200,000 rows for 1,000 KPIs), and the ORM's
    # per-row conversion would cost most of its time. The database gives dates and floats as they are.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(10_000):
            for kpi_id, date, value in rows:
                series[kpi_id][date] = value
    return series


def _unit_label(unit: ReportingUnit) -> str:
    return f"{unit.code} {unit.name}"


def measurement_parts_check(
    *,
    kpi: KPI,
    unit: ReportingUnit | None,
    date: datetime.date | None,
    value: Any,
    numerator: Any = None,
    denominator: Any = None,
    source: str = "",
) -> Any:
    """The rules of a figure's reporting unit and ratio parts, before ``measurement_check``'s; returns the value
    (for a ratio KPI given both parts: numerator / denominator x the KPI's ratio scale) or raises ValidationError
    by field.

    - Derived values (source "derived") are computed from the units by plans.aggregation: never written here.
    - A unit's figure needs a KPI that aggregates over units (not "none"), a unit that is not the nation
      (the national figure has no unit) and is active on the date.
    - Only ratio KPIs take a numerator and a denominator (not zero); a unit's figure of one needs its numerator.
      Given both, the value is theirs: a value sent too must agree with it.
    """
    if source == MeasurementSource.DERIVED:
        raise ValidationError(
            {"source": ValidationError(_("Values derived from the zones' figures cannot be written."), code="derived")}
        )
    errors: dict[str, ValidationError] = {}
    if unit is not None:
        if unit.level == UnitLevel.NATION:
            errors["unit"] = ValidationError(
                _("The national figure is recorded without a unit: leave the unit out."), code="nation"
            )
        elif kpi.aggregation == Aggregation.NONE:
            errors["unit"] = ValidationError(
                _(
                    "This KPI is reported for the nation only (it does not aggregate over units): "
                    "it takes no unit's figure."
                ),
                code="not_aggregated",
            )
        elif date is not None and not unit.active_on(date):
            errors["unit"] = ValidationError(
                _("%(unit)s is not an active reporting unit on %(date)s."),
                code="inactive",
                params={"unit": _unit_label(unit), "date": formats.date_format(date, "DATE_FORMAT")},
            )
    is_ratio = kpi.aggregation == Aggregation.RATIO
    for name, part in (("numerator", numerator), ("denominator", denominator)):
        if part is not None and (not _is_real(part) or abs(part) > MAX_ABS_VALUE):
            errors[name] = ValidationError(
                _("Enter a real number between -1e15 and 1e15: NaN and infinity are not allowed."), code="not_finite"
            )
    if not is_ratio and (numerator is not None or denominator is not None):
        errors["numerator" if numerator is not None else "denominator"] = ValidationError(
            _("Only a ratio KPI takes a numerator and a denominator."), code="not_ratio"
        )
    elif is_ratio and numerator is None and (unit is not None or denominator is not None):
        errors["numerator"] = ValidationError(
            _("A unit's figure of a ratio KPI needs its numerator.")
            if unit is not None
            else _("A denominator needs its numerator."),
            code="numerator_required",
        )
    if denominator is not None and "denominator" not in errors and denominator == 0:
        errors["denominator"] = ValidationError(_("A denominator cannot be zero."), code="zero")
    if not errors and is_ratio and numerator is not None and denominator is not None:
        computed = float(numerator) / float(denominator) * kpi.ratio_scale
        if value is None:
            value = computed
        elif not _is_real(value) or not math.isclose(float(value), computed, rel_tol=1e-9, abs_tol=1e-12):
            errors["value"] = ValidationError(
                _(
                    "The value is the numerator over the denominator times %(scale)s, %(computed)s: "
                    "leave it out or send that."
                ),
                code="parts_mismatch",
                params={"scale": _number(kpi.ratio_scale), "computed": _number(computed)},
            )
    if value is None and "value" not in errors:
        errors["value"] = ValidationError(_("This field is required."), code="required")
    if errors:
        raise ValidationError(errors)
    return value


# A period's lock state for one (KPI, unit or national): see ``period_lock_state``.
PERIOD_OPEN, PERIOD_LOCKED, PERIOD_REOPENED = "open", "locked", "reopened"
# Approved once is locked for good: a restatement being edited under a reopening (back to draft) does not
# leave its period open once the reopening expires.
_EVER_APPROVED = Q(state=SubmissionState.APPROVED) | Q(transitions__to_state=SubmissionState.APPROVED)


def period_lock_state(*, kpi: KPI, unit=None, period_end: datetime.date, now: datetime.datetime | None = None) -> str:
    """Whether figures of ``kpi`` for ``unit`` (None: national) in the period ending ``period_end`` may be written.

    "reopened" while a live PeriodReopening exists for (plan, unit, period_end): a write is then a restatement;
    else "locked" once the period's submission is approved; else "open". A reopening that has expired no
    longer counts, so the period locks again by itself.
    """
    now = now or timezone.now()
    unit_id = getattr(unit, "pk", unit)
    # One query for both: every measurement write asks.
    reopened, approved = (
        KPI.objects.filter(pk=kpi.pk)
        .annotate(
            reopened=Exists(
                PeriodReopening.objects.filter(
                    plan_id=kpi.plan_id, unit_id=unit_id, period_end=period_end, expires_at__gt=now
                )
            ),
            approved=Exists(
                Submission.objects.filter(_EVER_APPROVED, kpi_id=kpi.pk, unit_id=unit_id, period_end=period_end)
            ),
        )
        .values_list("reopened", "approved")
        .get()
    )
    if reopened:
        return PERIOD_REOPENED
    return PERIOD_LOCKED if approved else PERIOD_OPEN


def measurement_lock_check(*, kpi: KPI, unit=None, date: datetime.date, now=None) -> bool:
    """Refuse (PeriodLocked) a write into a locked period; True when the write is a restatement."""
    period_end = period_end_containing(kpi.frequency, date)
    state = period_lock_state(kpi=kpi, unit=unit, period_end=period_end, now=now)
    if state == PERIOD_LOCKED:
        raise PeriodLocked(kpi=kpi, unit=unit, period_end=period_end)
    return state == PERIOD_REOPENED


@transaction.atomic
def measurement_record(
    *,
    kpi: KPI,
    date: datetime.date,
    value: float | None,
    note: str = "",
    source: str = MeasurementSource.MANUAL,
    recorded_by=None,
    external_id: str = "",
    expected_version: int | None = None,
    unit: ReportingUnit | None = None,
    numerator: float | None = None,
    denominator: float | None = None,
    provisional: bool = False,
    now: datetime.datetime | None = None,
) -> MeasurementResult:
    """Create or revise the KPI's value on ``date`` for ``unit`` (None: the nation) from ``source``; every change
    is kept as a revision.

    ``recorded_by`` is the author: a user or an API token. Who may write which unit's figure is the caller's
    check (plans.permissions.measurement_write_refusal).
    The figure must meet ``measurement_parts_check`` (its unit; a ratio KPI's numerator and denominator, which
    give the value when both are sent) and ``measurement_check`` (ValidationError by field, nothing written);
    the jump rule reads the unit's own series.
    A period whose submission is approved is locked (PeriodLocked, nothing written) unless a manager
    reopened it; a write under a reopening is kept as a restatement. ``provisional``: a submitted figure
    that counts until it is reviewed (Plan.counting "submitted").

    ``expected_version`` is the KPI's version when the caller read it: a newer one raises
    StaleVersionError and writes nothing.
    """
    kpi = row_lock(
        kpi,
        expected_version,
        related=("plan",),
        last_change=lambda row: (
            MeasurementRevision.objects.filter(measurement__kpi=row).select_related("author").first()
        ),
    )
    if kpi.plan.is_closed:  # said before the figure is judged; read with the row, no query more
        raise PlanClosed(kpi.plan)
    value = measurement_parts_check(
        kpi=kpi, unit=unit, date=date, value=value, numerator=numerator, denominator=denominator, source=source
    )
    restatement = measurement_lock_check(kpi=kpi, unit=unit, date=date, now=now)
    unit_id = unit.pk if unit is not None else None
    measurement = (
        Measurement.objects.select_for_update().filter(kpi=kpi, unit_id=unit_id, date=date, source=source).first()
    )
    note = note.strip()
    if (
        measurement
        and measurement.value == value
        and measurement.note == note
        and (measurement.numerator, measurement.denominator) == (numerator, denominator)
        and measurement.provisional == provisional
    ):
        return MeasurementResult(measurement, "unchanged")
    # Only the jump rule reads the series, and a note settles it: no query then.
    series = {} if note else kpi_series([kpi.pk], unit_id=unit_id)[kpi.pk]
    series.pop(date, None)
    value = measurement_check(
        kpi=kpi,
        date=date,
        value=value,
        note=note,
        series=series,
        jump_basis=(lambda: _unit_jump_basis(series, date)) if unit_id is not None else None,
    )
    previous_value = measurement.value if measurement else None
    outcome = "updated" if measurement else "created"
    if measurement is None:
        measurement = Measurement(kpi=kpi, unit=unit, date=date, source=source)
    else:
        measurement.version += 1
    measurement.value = value
    measurement.numerator, measurement.denominator = numerator, denominator
    measurement.note = note
    measurement.provisional = provisional
    measurement.restatement = measurement.restatement or restatement
    user, token = author_split(recorded_by)
    measurement.recorded_by, measurement.recorded_by_token = user, token
    measurement.recorded_at = timezone.now()
    measurement.external_id = external_id or measurement.external_id
    measurement.full_clean()
    measurement.save()
    MeasurementRevision.objects.create(
        measurement=measurement,
        previous_value=previous_value,
        value=value,
        note=note,
        author=user,
        author_token=token,
    )
    _kpis_series_changed([kpi.pk], now=timezone.now())
    plan_mark_changed(plan_id=kpi.plan_id, changes=Changes.measured([kpi.pk], date))
    return MeasurementResult(measurement, outcome)


@transaction.atomic
def kpi_create(*, data: dict[str, Any], author=None, channel: str = ChangeChannel.WEB) -> KPI:
    """Create a KPI; without a range (neither bound given) it gets its unit's default (``kpi_default_range``)."""
    if data.get("min_value") is None and data.get("max_value") is None:
        low, high = kpi_default_range(unit=data.get("unit", ""), name=data.get("name", ""))
        data = {**data, "min_value": low, "max_value": high}
    kpi = KPI(**data)
    goal_child_fill(kpi)
    row_create(kpi, author=author, channel=channel)
    return kpi


@transaction.atomic
def kpi_update(
    *,
    kpi: KPI,
    data: dict[str, Any],
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.WEB,
) -> KPI:
    return row_update(
        kpi, data, expected_version=expected_version, fill=goal_child_fill, author=author, channel=channel
    )


@transaction.atomic
def kpi_delete(
    *, kpi: KPI, expected_version: int | None = None, deleted_by=None, channel: str = ChangeChannel.WEB
) -> None:
    """Delete a KPI with its measurements, leaving a tombstone for each."""
    row_delete(
        kpi, expected_version=expected_version, tombstones=_tombstones_for_kpis, deleted_by=deleted_by, channel=channel
    )


KEEP = object()  # measurement_update: keep the stored numerator or denominator


@transaction.atomic
def measurement_update(
    *,
    measurement: Measurement,
    value: float,
    note: str | None = None,
    external_id: str = "",
    recorded_by=None,
    expected_version: int | None = None,
    numerator: Any = KEEP,
    denominator: Any = KEEP,
) -> MeasurementResult:
    """Revise one measurement's value (and note; a ratio's parts) in place, keeping its KPI, unit, date and source.

    ``numerator`` and ``denominator``: ``KEEP`` (the default) keeps the stored ones."""
    current = row_lock(measurement, expected_version, related=["kpi"])
    return measurement_record(
        kpi=current.kpi,
        date=current.date,
        value=value,
        note=current.note if note is None else note,
        source=current.source,
        recorded_by=recorded_by,
        external_id=external_id,
        unit=current.unit,
        numerator=current.numerator if numerator is KEEP else numerator,
        denominator=current.denominator if denominator is KEEP else denominator,
    )


@transaction.atomic
def measurement_delete(*, measurement: Measurement, expected_version: int | None = None, deleted_by=None) -> None:
    measurement = row_lock(measurement, expected_version, related=["kpi"])
    if measurement.source == MeasurementSource.DERIVED:
        raise ValidationError(
            {"source": ValidationError(_("Values derived from the zones' figures cannot be deleted."), code="derived")}
        )
    kpi = measurement.kpi
    measurement_lock_check(kpi=kpi, unit=measurement.unit_id, date=measurement.date)
    _tombstones_create(
        "measurements",
        [(measurement.pk, kpi.plan_id, measurement.source, measurement.external_id)],
        deleted_by=deleted_by,
    )
    measurement.delete()
    _kpis_series_changed([kpi.pk], now=timezone.now())
    plan_mark_changed(plan_id=kpi.plan_id, changes=Changes.measured([kpi.pk], measurement.date))


# What the bulk upsert reads of a KPI (measurement_check's rules and the plan to mark).
BULK_KPI_FIELDS = (
    "id", "plan_id", "baseline_value", "baseline_date", "target_value", "target_date", "frequency", "min_value",
    "max_value", "aggregation", "ratio_scale",
)  # fmt: skip
BULK_MEASUREMENT_COLUMNS = [
    "kpi_id", "date", "value", "note", "source", "recorded_by_id", "recorded_by_token_id", "recorded_at",
    "external_id", "version", "created_at", "updated_at", "unit_id", "numerator", "denominator",
    "provisional", "restatement",
]  # fmt: skip


@dataclass(frozen=True)
class MeasurementRow:
    """One row of the bulk upsert; ``unit_id`` None is the national figure; ``value`` None only for a ratio
    KPI's row giving both its numerator and denominator (the value is theirs)."""

    kpi_id: int
    date: datetime.date
    value: float | None
    note: str = ""
    external_id: str = ""
    unit_id: int | None = None
    numerator: float | None = None
    denominator: float | None = None

    @property
    def key(self) -> tuple:
        """What the row is the figure of, with the source: (KPI, unit, date)."""
        return (self.kpi_id, self.unit_id, self.date)


def _unchanged(row: MeasurementRow, stored) -> bool:
    """The row gives the value, note and parts already stored (``stored``: the existing row's fields, or None)."""
    return (
        stored is not None
        and _is_real(row.value)
        and stored[1] == float(row.value)
        and stored[2] == row.note.strip()
        and tuple(stored[5:7]) == (row.numerator, row.denominator)
    )


# Reporting units in the bulk upsert: the rows' units are read in one query, their rules checked and a ratio's
# value resolved from its parts before the rules of measurement_check run (kept apart from the fast path above).


def _bulk_parts_resolve(
    rows: list[MeasurementRow], kpis: dict, source: str
) -> tuple[list[MeasurementRow], dict[int, dict[str, list[str]]]]:
    """The rows with a ratio's value filled in from its parts, and the errors of ``measurement_parts_check``
    by row index. Rows without a unit or parts (the national fast path) are passed through untouched."""
    unit_ids = {row.unit_id for row in rows if row.unit_id is not None}
    units = {unit.pk: unit for unit in ReportingUnit.objects.filter(pk__in=unit_ids)} if unit_ids else {}
    errors: dict[int, dict[str, list[str]]] = {}
    resolved = []
    for index, row in enumerate(rows):
        plain = row.unit_id is None and row.numerator is None and row.denominator is None and row.value is not None
        if plain or row.kpi_id not in kpis:
            resolved.append(row)
            continue
        try:
            if row.unit_id is not None and row.unit_id not in units:
                raise ValidationError({"unit": ValidationError(_("Unknown reporting unit."), code="unknown")})
            value = measurement_parts_check(
                kpi=kpis[row.kpi_id],
                unit=units.get(row.unit_id),
                date=row.date,
                value=row.value,
                numerator=row.numerator,
                denominator=row.denominator,
                source=source,
            )
        except ValidationError as exc:
            errors[index] = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
            resolved.append(row)
            continue
        resolved.append(replace(row, value=value))
    return resolved, errors


def _series_for(keys) -> dict[tuple[int, int | None], dict[datetime.date, float]]:
    """``kpi_series`` of each (KPI, unit) in ``keys``: one query for the national ones, one per unit otherwise."""
    by_unit: dict[int | None, set[int]] = defaultdict(set)
    for kpi_id, unit_id in keys:
        by_unit[unit_id].add(kpi_id)
    series = {}
    for unit_id, kpi_ids in by_unit.items():
        series.update({(kpi_id, unit_id): values for kpi_id, values in kpi_series(kpi_ids, unit_id=unit_id).items()})
    return series


def _bulk_rows_check(
    rows: list[MeasurementRow],
    kpis: dict,
    source: str,
    unchanged: list[bool],
    meanwhile: Callable[[], None] = lambda: None,
) -> dict[int, dict[str, list[str]]]:
    """Errors by row index and field. A row equal to the stored one (``unchanged``, by row) is not judged again (as
    ``measurement_record`` returns "unchanged" first), so only the KPIs with a changed row the jump rule
    judges (no note) have their series read. ``meanwhile`` is called once those series are being read: what the
    caller sends then runs on the database while the rows are judged."""
    errors: dict[int, dict[str, list[str]]] = {}
    first_by_key: dict[tuple, int] = {}
    first_by_external_id: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.kpi_id not in kpis:
            errors.setdefault(index, {})["kpi"] = [str(_("Unknown KPI."))]
        first = first_by_key.setdefault(row.key, index)
        if first != index:
            message = _("Row %(row)d already gives this KPI's value on this date.") % {"row": first}
            errors.setdefault(index, {})["date"] = [str(message)]
        if row.external_id:
            first = first_by_external_id.setdefault(row.external_id, index)
            if first != index:
                message = _("Row %(row)d already uses this external id.") % {"row": first}
                errors.setdefault(index, {})["external_id"] = [str(message)]
    # Series are per KPI and unit (None: the nation): a zone's figure jumps against the zone's own.
    judged = {
        (row.kpi_id, row.unit_id)
        for row, same in zip(rows, unchanged, strict=True)
        if not same and not row.note.strip() and row.kpi_id in kpis
    }
    payload: dict[tuple[int, int | None], dict[datetime.date, float]] = {}
    for row in rows:
        # A row with no real value is refused below and is no yardstick for the others.
        if (row.kpi_id, row.unit_id) in judged and _is_real(row.value):
            payload.setdefault((row.kpi_id, row.unit_id), {})[row.date] = row.value
    # The series each row will sit in once the payload is written: stored values, then the payload's.
    national = [kpi_id for kpi_id, unit_id in payload if unit_id is None]
    if connection.vendor == "postgresql":
        # A national batch's series on connections of their own, in parts on as many cores (0.7 s for 10,000 at
        # scale 10 on this one). Nothing here has written a measurement yet, and each statement sees the rows
        # committed when it starts (READ COMMITTED) on any connection: the read aside sees what a read here would.
        aside = series_packed_aside(national)
        meanwhile()
        packed = aside.result() if aside is not None else series_packed(national)
        indexes: dict = {
            (kpi_id, None): _SeriesIndex.packed(kpis[kpi_id], packed.get(kpi_id), payload[(kpi_id, None)])
            for kpi_id in national
        }
    else:
        meanwhile()
        stored = kpi_series(national)
        indexes = {
            (kpi_id, None): _SeriesIndex.of(kpis[kpi_id], {**stored[kpi_id], **payload[(kpi_id, None)]})
            for kpi_id in national
        }
    units = [series_key for series_key in payload if series_key[1] is not None]
    stored_units = _series_for(units)
    indexes.update({key: {**stored_units[key], **payload[key]} for key in units})  # a unit's own: _unit_jump_basis

    def jump_basis(row: MeasurementRow) -> tuple[float, float | None]:
        index = indexes[(row.kpi_id, row.unit_id)]
        return index.without(row.date) if row.unit_id is None else _unit_jump_basis(index, row.date)

    external_id_field = Measurement._meta.get_field("external_id")
    today = timezone.localdate()
    for index, row in enumerate(rows):
        if row.kpi_id not in kpis:
            continue
        try:
            if row.external_id:
                external_id_field.run_validators(row.external_id)
            if unchanged[index]:
                continue
            measurement_check(
                kpi=kpis[row.kpi_id],
                date=row.date,
                value=row.value,
                note=row.note,
                jump_basis=lambda row=row: jump_basis(row),
                today=today,
            )
        except ValidationError as exc:
            for field, messages in (
                exc.message_dict if hasattr(exc, "error_dict") else {"external_id": exc.messages}
            ).items():
                errors.setdefault(index, {}).setdefault(field, []).extend(messages)
    used = Measurement.objects.filter(source=source, external_id__any=list(first_by_external_id)).values_list(
        "external_id", "kpi_id", "unit_id", "date"
    )
    for external_id, kpi_id, unit_id, date in used:
        index = first_by_external_id[external_id]
        if rows[index].key != (kpi_id, unit_id, date):
            errors.setdefault(index, {})["external_id"] = [str(_("This external id is used by another measurement."))]
    return errors


def _bulk_period_locks(rows: list[MeasurementRow], kpis: dict, unchanged: list[bool], errors: dict) -> set[tuple]:
    """Refuse the rows that change a locked period (an error by row index, as ``measurement_lock_check``;
    a replayed row equal to its stored one is no change) and return the keys (kpi, unit, date) of those
    written under a live reopening: restatements. Two queries."""
    period_ends = {
        index: period_end_containing(kpis[row.kpi_id].frequency, row.date)
        for index, (row, same) in enumerate(zip(rows, unchanged, strict=True))
        if row.kpi_id in kpis and not same
    }
    if not period_ends:
        return set()
    ends = set(period_ends.values())
    approved = set(
        Submission.objects.filter(_EVER_APPROVED, kpi_id__any=list(kpis), period_end__in=ends)
        .values_list("kpi_id", "unit_id", "period_end")
        .distinct()
    )
    reopened = set(
        PeriodReopening.objects.filter(
            plan_id__in={kpi.plan_id for kpi in kpis.values()}, period_end__in=ends, expires_at__gt=timezone.now()
        ).values_list("plan_id", "unit_id", "period_end")
    )
    restated = set()
    for index, period_end in period_ends.items():
        row = rows[index]
        if (kpis[row.kpi_id].plan_id, row.unit_id, period_end) in reopened:
            restated.add(row.key)
        elif (row.kpi_id, row.unit_id, period_end) in approved:
            locked = PeriodLocked(kpi=kpis[row.kpi_id], unit=row.unit_id, period_end=period_end)
            errors.setdefault(index, {}).setdefault("date", []).append(str(locked))
    return restated


@transaction.atomic
def measurements_bulk_upsert(
    *, rows: list[MeasurementRow], source: str = MeasurementSource.API, recorded_by=None
) -> dict[str, int]:
    """Create or revise many measurements on (kpi, unit, date, source) in a few queries, all or nothing.

    A row with a ``unit_id`` is that reporting unit's own figure (``measurement_parts_check``'s rules,
    its jump judged against the unit's series); without, the national figure as before.

    Every row that changes a stored one (or is new) must meet the rules of ``measurement_check``, judged
    against the series as it will be once the whole payload is written. Raises MeasurementRowsInvalid,
    writing nothing, when any row is invalid (its errors by row index and field). Rows whose value and
    note are already stored count as unchanged, so replaying a payload creates nothing. Each affected
    KPI's version is bumped once and each affected plan marked changed once.
    """
    kpi_ids = sorted({row.kpi_id for row in rows})
    Measurement._meta.get_field("source").clean(source, None)
    if source == MeasurementSource.DERIVED:
        raise ValidationError(_("Values derived from the zones' figures cannot be written."), code="derived")
    # Locked in id order, like measurement_record locks its KPI, so concurrent writers queue instead of deadlocking.
    # Only what the rules read: the stored explanations are large and play no part here.
    kpis = {
        kpi.pk: kpi
        for kpi in KPI.objects.select_for_update().filter(pk__any=kpi_ids).order_by("pk").only(*BULK_KPI_FIELDS)
    }
    for plan_id in sorted({kpi.plan_id for kpi in kpis.values()}):
        plan_open_check(plan_id=plan_id)  # a closed plan says so before any row is judged
    # The stored rows the payload revises, read first: a row equal to its stored one is not judged again.
    dates = [row.date for row in rows] or [datetime.date.min]
    # The nation's rows, and those of the payload's units: each side answered by its own unique index, where
    # without the unit condition PostgreSQL scanned the table (25 ms against 4 ms at national scale).
    units = Q(unit__isnull=True) | Q(unit_id__in={row.unit_id for row in rows if row.unit_id is not None})
    existing = {
        (kpi_id, unit_id, date): rest
        for kpi_id, unit_id, date, *rest in Measurement.objects.filter(
            units, kpi_id__any=kpi_ids, source=source, date__gte=min(dates), date__lte=max(dates)
        ).values_list(
            *("kpi_id", "unit_id", "date", "id", "value", "note", "version", "external_id", "numerator"),
            *("denominator", "restatement"),
        )
    }
    rows, part_errors = _bulk_parts_resolve(rows, kpis, source)
    now = timezone.now()
    unchanged = [_unchanged(row, existing.get(row.key)) for row in rows]  # by row: read by every step below
    # Each KPI with a new or changed row has its version bumped (``_kpis_series_changed``): sent while the rows are
    # judged, in a pipeline (10,000 KPI rows at national scale 10 take the database 0.45 s), and undone with the
    # rest should any row be refused.
    affected = sorted({row.kpi_id for row, same in zip(rows, unchanged, strict=True) if not same} & kpis.keys())
    with statements_overlapped():
        errors = _bulk_rows_check(
            rows, kpis, source, unchanged, meanwhile=lambda: _kpis_series_changed(affected, now=now)
        )
    for index, fields in part_errors.items():  # a unit's or a ratio's error says more than the value's that follows
        errors[index] = {**errors.get(index, {}), **fields}
    restated = _bulk_period_locks(rows, kpis, unchanged, errors)
    if errors:
        raise MeasurementRowsInvalid(dict(sorted(errors.items())))
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if not rows:
        return counts
    user, token = author_split(recorded_by)
    user_id, token_id = (user.pk if user else None), (token.pk if token else None)
    # Field rules were settled above for all rows at once (and the database constraints stay behind them).
    # revisions of updated measurements: (measurement id, previous value, value, note)
    created, updated, revisions, written = [], [], [], {}  # written: KPI -> earliest date written
    for row, same in zip(rows, unchanged, strict=True):
        value, note = float(row.value), row.note.strip()
        found = existing.get(row.key)
        if found is None:
            created.append(
                (row.kpi_id, row.date, value, note, source, user_id, token_id, now, row.external_id, 1, now, now)
                + (row.unit_id, row.numerator, row.denominator)
                + (False, row.key in restated)
            )
            written[row.kpi_id] = min(written.get(row.kpi_id, row.date), row.date)
            continue
        pk, stored_value, _note, version, external_id, *_parts, stored_restatement = found
        if same:
            counts["unchanged"] += 1
            continue
        updated.append(
            SimpleNamespace(
                id=pk,
                value=value,
                note=note,
                version=version + 1,
                recorded_by_id=user_id,
                recorded_by_token_id=token_id,
                recorded_at=now,
                external_id=row.external_id or external_id,
                updated_at=now,
                numerator=row.numerator,
                denominator=row.denominator,
                restatement=row.key in restated or stored_restatement,
            )
        )
        revisions.append((pk, stored_value, value, note))
        written[row.kpi_id] = min(written.get(row.kpi_id, row.date), row.date)
    new_ids = insert_returning_ids(Measurement, BULK_MEASUREMENT_COLUMNS, created)
    bulk_set(
        Measurement,
        updated,
        ["value", "note", "version", "recorded_by", "recorded_by_token", "recorded_at", "external_id", "updated_at"]
        + ["numerator", "denominator", "restatement"],
    )
    revision_columns = [
        "measurement_id",
        "previous_value",
        "value",
        "note",
        "author_id",
        "author_token_id",
        "created_at",
    ]
    # A new measurement's first revision repeats its own row: copied inside the database, not sent again.
    copy_within(
        MeasurementRevision,
        revision_columns,
        Measurement,
        ["id", None, "value", "note", "recorded_by_id", "recorded_by_token_id", "recorded_at"],
        new_ids,
    )
    copy_rows(
        MeasurementRevision,
        revision_columns,
        ((pk, previous, value, note, user_id, token_id, now) for pk, previous, value, note in revisions),
    )
    counts["created"], counts["updated"] = len(created), len(updated)
    by_plan = defaultdict(dict)  # plan -> KPI -> earliest date written
    for kpi_id, date in written.items():
        by_plan[kpis[kpi_id].plan_id][kpi_id] = date
    for plan_id, dates in sorted(by_plan.items()):
        plan_mark_changed(plan_id=plan_id, changes=Changes.measured(dates, min(dates.values())))
    return counts
