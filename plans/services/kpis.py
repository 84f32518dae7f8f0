"""Writes of KPIs and their measurements: create, update, delete, ``measurement_record`` and the bulk upsert."""

import bisect
import datetime
import itertools
import math
import operator
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, Q
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from ..choices import ChangeChannel, MeasurementSource, SubmissionState
from ..dates import period_end_containing
from ..exceptions import MeasurementRowsInvalid, PeriodLocked
from ..incremental import Changes
from ..models import KPI, Measurement, MeasurementRevision, PeriodReopening, Submission
from ..models.base import MAX_ABS_VALUE
from ..models.kpis import kpi_default_range
from ..setwrites import bulk_set, copy_rows, copy_within, insert_returning_ids
from .history import author_split
from .plans import plan_mark_changed
from .rows import goal_child_fill, row_create, row_delete, row_lock, row_update
from .sync import _tombstones_create, _tombstones_for_kpis


@dataclass(frozen=True)
class MeasurementResult:
    measurement: Measurement
    outcome: str  # "created" | "updated" | "unchanged"


def _kpis_series_changed(kpi_ids, *, now: datetime.datetime) -> None:
    """A KPI's version covers its measurements: a caller holding an older version sees its series changed."""
    KPI.objects.filter(pk__in=kpi_ids).update(version=F("version") + 1, updated_at=now)


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


class _SeriesIndex:
    """A KPI's series (one value per date) with its consecutive changes kept sorted, so that the jump basis
    of the series without one date (``_jump_basis``) costs a bisection and a few list moves per row,
    not a sort of the whole series. Gives exactly what ``_jump_basis`` gives (same floats, same median)."""

    def __init__(self, kpi: KPI, series: dict[datetime.date, float]):
        self.kpi = kpi
        self.dates = sorted(series)
        self.values = list(map(series.__getitem__, self.dates))
        self.changes = sorted(map(abs, map(operator.sub, self.values[1:], self.values[:-1])))  # later - earlier

    def without(self, date: datetime.date) -> tuple[float, float | None]:
        dates, values, changes = self.dates, self.values, self.changes
        i = bisect.bisect_left(dates, date)
        previous = values[i - 1] if i > 0 else self.kpi.baseline_value
        present = i < len(dates) and dates[i] == date
        if len(dates) - present < 3:
            rest = [v for d, v in zip(dates, values, strict=True) if d != date]
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


def kpi_series(kpi_ids) -> dict[int, dict[datetime.date, float]]:
    """Each KPI's values by date, one per date (the latest recorded, as the status method counts them)."""
    series: dict[int, dict[datetime.date, float]] = {kpi_id: {} for kpi_id in kpi_ids}
    if not series:
        return series
    query = (
        Measurement.objects.filter(kpi_id__in=list(kpi_ids))
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
    value: float,
    note: str = "",
    source: str = MeasurementSource.MANUAL,
    recorded_by=None,
    external_id: str = "",
    expected_version: int | None = None,
    unit=None,
    provisional: bool = False,
    now: datetime.datetime | None = None,
) -> MeasurementResult:
    """Create or revise the KPI's value on ``date`` from ``source``; every change is kept as a revision.

    ``recorded_by`` is the author: a user or an API token.
    The value must meet ``measurement_check`` (ValidationError by field, nothing written).
    A period whose submission is approved is locked (PeriodLocked, nothing written) unless a manager
    reopened it; a write under a reopening is kept as a restatement. ``provisional``: a submitted figure
    that counts until it is reviewed (Plan.counting "submitted").

    ``expected_version`` is the KPI's version when the caller read it: a newer one raises
    StaleVersionError and writes nothing.
    """
    kpi = row_lock(
        kpi,
        expected_version,
        last_change=lambda row: (
            MeasurementRevision.objects.filter(measurement__kpi=row).select_related("author").first()
        ),
    )
    restatement = measurement_lock_check(kpi=kpi, unit=unit, date=date, now=now)
    measurement = Measurement.objects.select_for_update().filter(kpi=kpi, unit=unit, date=date, source=source).first()
    note = note.strip()
    if (
        measurement
        and measurement.value == value
        and measurement.note == note
        and measurement.provisional == provisional
    ):
        return MeasurementResult(measurement, "unchanged")
    # Only the jump rule reads the series, and a note settles it: no query then.
    series = {} if note else kpi_series([kpi.pk])[kpi.pk]
    series.pop(date, None)
    value = measurement_check(kpi=kpi, date=date, value=value, note=note, series=series)
    previous_value = measurement.value if measurement else None
    outcome = "updated" if measurement else "created"
    if measurement is None:
        measurement = Measurement(kpi=kpi, unit=unit, date=date, source=source)
    else:
        measurement.version += 1
    measurement.value = value
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


@transaction.atomic
def measurement_update(
    *,
    measurement: Measurement,
    value: float,
    note: str | None = None,
    external_id: str = "",
    recorded_by=None,
    expected_version: int | None = None,
) -> MeasurementResult:
    """Revise one measurement's value (and note) in place, keeping its KPI, date and source."""
    current = row_lock(measurement, expected_version, related=["kpi"])
    return measurement_record(
        kpi=current.kpi,
        date=current.date,
        value=value,
        note=current.note if note is None else note,
        source=current.source,
        recorded_by=recorded_by,
        external_id=external_id,
        unit=current.unit_id,
    )


@transaction.atomic
def measurement_delete(*, measurement: Measurement, expected_version: int | None = None, deleted_by=None) -> None:
    measurement = row_lock(measurement, expected_version, related=["kpi"])
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
    "max_value",
)  # fmt: skip
BULK_MEASUREMENT_COLUMNS = [
    "kpi_id", "date", "value", "note", "source", "recorded_by_id", "recorded_by_token_id", "recorded_at",
    "external_id", "version", "created_at", "updated_at", "provisional", "restatement",
]  # fmt: skip


@dataclass(frozen=True)
class MeasurementRow:
    kpi_id: int
    date: datetime.date
    value: float
    note: str = ""
    external_id: str = ""


def _unchanged(row: MeasurementRow, stored) -> bool:
    """The row gives the value and note already stored (``stored``: the existing row's fields, or None)."""
    return (
        stored is not None and _is_real(row.value) and stored[1] == float(row.value) and stored[2] == row.note.strip()
    )


def _bulk_rows_check(
    rows: list[MeasurementRow], kpis: dict, source: str, existing: dict
) -> dict[int, dict[str, list[str]]]:
    """Errors by row index and field. A row equal to the stored one is not judged again (as
    ``measurement_record`` returns "unchanged" first), so only the KPIs with a changed row the jump rule
    judges (no note) have their series read."""
    errors: dict[int, dict[str, list[str]]] = {}
    first_by_key: dict[tuple, int] = {}
    first_by_external_id: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.kpi_id not in kpis:
            errors.setdefault(index, {})["kpi"] = [str(_("Unknown KPI."))]
        first = first_by_key.setdefault((row.kpi_id, row.date), index)
        if first != index:
            message = _("Row %(row)d already gives this KPI's value on this date.") % {"row": first}
            errors.setdefault(index, {})["date"] = [str(message)]
        if row.external_id:
            first = first_by_external_id.setdefault(row.external_id, index)
            if first != index:
                message = _("Row %(row)d already uses this external id.") % {"row": first}
                errors.setdefault(index, {})["external_id"] = [str(message)]
    unchanged = [_unchanged(row, existing.get((row.kpi_id, row.date))) for row in rows]
    judged = {
        row.kpi_id for row, same in zip(rows, unchanged, strict=True) if not same and not row.note.strip()
    } & kpis.keys()
    stored = kpi_series(judged)
    payload: dict[int, dict[datetime.date, float]] = {}
    for row in rows:
        # A row with no real value is refused below and is no yardstick for the others.
        if row.kpi_id in judged and _is_real(row.value):
            payload.setdefault(row.kpi_id, {})[row.date] = row.value
    # The series each row will sit in once the payload is written: stored values, then the payload's.
    indexes = {
        kpi_id: _SeriesIndex(kpis[kpi_id], {**stored[kpi_id], **values})
        for kpi_id, values in payload.items()
        if kpi_id in kpis
    }
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
                jump_basis=lambda row=row: indexes[row.kpi_id].without(row.date),
                today=today,
            )
        except ValidationError as exc:
            for field, messages in (
                exc.message_dict if hasattr(exc, "error_dict") else {"external_id": exc.messages}
            ).items():
                errors.setdefault(index, {}).setdefault(field, []).extend(messages)
    used = Measurement.objects.filter(source=source, external_id__in=list(first_by_external_id)).values_list(
        "external_id", "kpi_id", "date"
    )
    for external_id, kpi_id, date in used:
        index = first_by_external_id[external_id]
        if (rows[index].kpi_id, rows[index].date) != (kpi_id, date):
            errors.setdefault(index, {})["external_id"] = [str(_("This external id is used by another measurement."))]
    return errors


def _bulk_period_locks(
    rows: list[MeasurementRow], kpis: dict, existing: dict, errors: dict
) -> set[tuple[int, datetime.date]]:
    """Refuse the rows that change a locked period (an error by row index, as ``measurement_lock_check``;
    a replayed row equal to its stored one is no change) and return the (kpi, date) of those written under
    a live reopening: restatements. Two queries."""
    period_ends = {
        index: period_end_containing(kpis[row.kpi_id].frequency, row.date)
        for index, row in enumerate(rows)
        if row.kpi_id in kpis and not _unchanged(row, existing.get((row.kpi_id, row.date)))
    }
    if not period_ends:
        return set()
    ends = set(period_ends.values())
    approved = set(
        Submission.objects.filter(_EVER_APPROVED, kpi_id__in=list(kpis), unit__isnull=True, period_end__in=ends)
        .values_list("kpi_id", "period_end")
        .distinct()
    )
    reopened = set(
        PeriodReopening.objects.filter(
            plan_id__in={kpi.plan_id for kpi in kpis.values()},
            unit__isnull=True,
            period_end__in=ends,
            expires_at__gt=timezone.now(),
        ).values_list("plan_id", "period_end")
    )
    restated = set()
    for index, period_end in period_ends.items():
        row = rows[index]
        if (kpis[row.kpi_id].plan_id, period_end) in reopened:
            restated.add((row.kpi_id, row.date))
        elif (row.kpi_id, period_end) in approved:
            locked = PeriodLocked(kpi=kpis[row.kpi_id], unit=None, period_end=period_end)
            errors.setdefault(index, {}).setdefault("date", []).append(str(locked))
    return restated


@transaction.atomic
def measurements_bulk_upsert(
    *, rows: list[MeasurementRow], source: str = MeasurementSource.API, recorded_by=None
) -> dict[str, int]:
    """Create or revise many measurements on (kpi, date, source) in a few queries, all or nothing.

    Every row that changes a stored one (or is new) must meet the rules of ``measurement_check``, judged
    against the series as it will be once the whole payload is written. Raises MeasurementRowsInvalid,
    writing nothing, when any row is invalid (its errors by row index and field). Rows whose value and
    note are already stored count as unchanged, so replaying a payload creates nothing. Each affected
    KPI's version is bumped once and each affected plan marked changed once.
    """
    kpi_ids = sorted({row.kpi_id for row in rows})
    Measurement._meta.get_field("source").clean(source, None)
    # Locked in id order, like measurement_record locks its KPI, so concurrent writers queue instead of deadlocking.
    # Only what the rules read: the stored explanations are large and play no part here.
    kpis = {
        kpi.pk: kpi
        for kpi in KPI.objects.select_for_update().filter(pk__in=kpi_ids).order_by("pk").only(*BULK_KPI_FIELDS)
    }
    # The stored rows the payload revises, read first: a row equal to its stored one is not judged again.
    dates = [row.date for row in rows] or [datetime.date.min]
    existing = {
        (kpi_id, date): rest
        for kpi_id, date, *rest in Measurement.objects.filter(
            kpi_id__in=kpi_ids, source=source, date__gte=min(dates), date__lte=max(dates)
        ).values_list("kpi_id", "date", "id", "value", "note", "version", "external_id", "restatement")
    }
    errors = _bulk_rows_check(rows, kpis, source, existing)
    restated = _bulk_period_locks(rows, kpis, existing, errors)
    if errors:
        raise MeasurementRowsInvalid(errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if not rows:
        return counts
    now = timezone.now()
    user, token = author_split(recorded_by)
    user_id, token_id = (user.pk if user else None), (token.pk if token else None)
    # Field rules were settled above for all rows at once (and the database constraints stay behind them).
    # revisions of updated measurements: (measurement id, previous value, value, note)
    created, updated, revisions, written = [], [], [], {}  # written: KPI -> earliest date written
    for row in rows:
        value, note = float(row.value), row.note.strip()
        found = existing.get((row.kpi_id, row.date))
        if found is None:
            created.append(
                (
                    *(row.kpi_id, row.date, value, note, source, user_id, token_id, now, row.external_id, 1, now, now),
                    *(False, (row.kpi_id, row.date) in restated),
                )
            )
            written[row.kpi_id] = min(written.get(row.kpi_id, row.date), row.date)
            continue
        pk, stored_value, _note, version, external_id, stored_restatement = found
        if _unchanged(row, found):
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
                restatement=(row.kpi_id, row.date) in restated or stored_restatement,
            )
        )
        revisions.append((pk, stored_value, value, note))
        written[row.kpi_id] = min(written.get(row.kpi_id, row.date), row.date)
    new_ids = insert_returning_ids(Measurement, BULK_MEASUREMENT_COLUMNS, created)
    bulk_set(
        Measurement,
        updated,
        [
            *("value", "note", "version", "recorded_by", "recorded_by_token", "recorded_at", "external_id"),
            *("updated_at", "restatement"),
        ],
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
    affected = sorted(written)
    if affected:
        _kpis_series_changed(affected, now=now)
    by_plan = defaultdict(dict)  # plan -> KPI -> earliest date written
    for kpi_id, date in written.items():
        by_plan[kpis[kpi_id].plan_id][kpi_id] = date
    for plan_id, dates in sorted(by_plan.items()):
        plan_mark_changed(plan_id=plan_id, changes=Changes.measured(dates, min(dates.values())))
    return counts
