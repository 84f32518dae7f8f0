"""The aggregation engine: the zones' figures make the provinces' and the nation's, with coverage.

``aggregates_refresh(plan)`` reads, in one query each, the plan's KPIs, the unit register, every
reporting unit's rows of the aggregating KPIs (and of the KPIs they draw on), their national rows and
the unit targets, computes everything in memory and writes only what changed, one statement per kind
of write: a fixed number of queries whatever the number of zones, KPIs and periods (never a query per
zone or per KPI). It derives:

- ``UnitAggregate`` per (KPI, province or nation, period end), with coverage: ``reported_zones`` of
  ``expected_zones`` (sums of ``zone_count``, so an "other zones" unit counts for the zones it stands
  for), ``weight_coverage`` (the reporting zones' share of the weight the expected zones carried a year
  earlier) and ``reported_value`` (the value reported directly for that unit, to show the gap);
- the national series of record: a ``Measurement(unit=None, source=DERIVED)`` at each period end where
  the derived value counts, rewritten only when its value changes (derived rows keep no revisions: they
  are recomputed from the zones' rows, whose own revisions are kept);
- ``UnitStatus`` per (KPI, zone or province) on the unit's own series by the rules of METHOD.md.

Periods are the KPI's frequency periods (calendar months, quarters, years); a value dated within a
period belongs to that period's end, and a unit's latest value in a period (by date, then as recorded)
is its value for the period. A zone counts for a period only while it is active in it (its active
period overlaps the period): an inactive zone is neither expected nor summed, so coverage never
exceeds 100%. Rows of province units are those provinces' directly reported values (``reported_value``);
the national figure is the row without a unit.

Aggregation kinds (``KPI.aggregation``), over the zones active in the period that reported:
- ``sum``: the sum of their values.
- ``ratio``: the sum of numerators over the sum of denominators, times ``ratio_scale``, never a mean of
  shares. A zone's denominator is its own, else ``denominator_kpi``'s value for that zone; its
  numerator is its own, else its value times its denominator over the scale. When a reporting zone has
  no denominator of its own, the total has none either: the denominator is then the nation's value of
  record of ``denominator_kpi`` for the period ("the zones' share of the national count").
- ``mean``: weighted by ``weight_kpi``'s value of each zone for the period (else its latest earlier
  one); without a weight KPI every zone weighs its ``zone_count``. A zone without a weight is left out.
- ``growth``: the year-on-year change in percent of ``base_kpi``'s sums, ``(S(P) / S(P - 1 year) - 1) x
  100``, over the zones that reported the base in both periods (a like-for-like pair of sums; a zone
  that reported in one year only would fake growth). Never an average of the zones' rates.

Weight coverage: the weight of a zone is ``weight_kpi``'s value when the KPI names one, else its own
value (sum), its denominator or else its numerator (ratio), its base value (growth), its zone count
(mean), each taken a year before the period.

Precedence (``KPI.national_source``): ``reported`` (the default): where a national value is reported
directly within a period, it is the period's figure and no derived row is written; elsewhere the derived
one stands in. ``derived``: the derived row is written for every period, and where a reported row shares
its date it is recorded after it. That is the one rule every reader of the series already applies
("several on one date: the latest recorded counts", METHOD.md KPI rule 1), so the status, the forecast,
the explanation, the latest value and the exports read the derived figure without a rule of their own.
A reported row dated within a period but not on its end stays a point of the series of its own date.

Unit statuses (zones and provinces; the nation's status is the KPI's own, so no row mirrors it): the
unit's series is its own rows (a zone; for a growth KPI without rows of its own, the growth of its base
values) or its aggregates (a province), judged at today's date against its ``UnitTarget`` when it has
one. Otherwise a ``sum`` KPI's national baseline and target are scaled by the unit's share of the
baseline (its value over the nation's in the period of the baseline date, else in the first period
where both are known); a ``ratio``, ``mean`` or ``growth`` KPI is a rate, so every unit is held to the
national baseline and target as they are. The explanation's ``unit`` entry names the rule applied.
"""

import bisect
import datetime
import functools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from . import rollup
from .choices import Aggregation, MeasurementSource, NationalSource, UnitLevel
from .dates import MONTHS_PER_PERIOD, ONE_DAY, month_end, period_end_on_or_before
from .models import KPI, Measurement, ReportingUnit, Tombstone, UnitAggregate, UnitStatus, UnitTarget
from .setwrites import bulk_insert, bulk_set

GROWTH_SCALE = 100.0  # growth is stated in percent
# A derived row that must count over a reported row of its date is recorded this much after it.
AFTER = datetime.timedelta(microseconds=1)

AGGREGATE_FIELDS = [
    "value",
    "numerator",
    "denominator",
    "reported_zones",
    "expected_zones",
    "weight_coverage",
    "reported_value",
]
STATUS_FIELDS = ["status", "score", "progress", "latest_value", "latest_date", "forecast_value", "explanation"]
DERIVED_COLUMNS = [
    "kpi",
    "unit",
    "date",
    "value",
    "numerator",
    "denominator",
    "note",
    "source",
    "recorded_by",
    "recorded_by_token",
    "recorded_at",
    "external_id",
    "version",
    "created_at",
    "updated_at",
]
KPI_COLUMNS = (
    "id", "aggregation", "national_source", "frequency", "weight_kpi_id", "denominator_kpi_id", "base_kpi_id",
    "ratio_scale", "baseline_value", "baseline_date", "target_value", "target_date", "direction",
)  # fmt: skip
DEPENDENCIES = {
    Aggregation.RATIO: "denominator_kpi_id",
    Aggregation.MEAN: "weight_kpi_id",
    Aggregation.GROWTH: "base_kpi_id",
}


# --- periods ------------------------------------------------------------------------------


@functools.cache
def period_end(frequency: str, day: datetime.date) -> datetime.date:
    """The end of the ``frequency`` period that ``day`` falls in."""
    step = MONTHS_PER_PERIOD[str(frequency)]
    return month_end(datetime.date(day.year, ((day.month - 1) // step + 1) * step, 1))


def period_start(frequency: str, end: datetime.date) -> datetime.date:
    return period_end_on_or_before(frequency, end - ONE_DAY) + ONE_DAY


@functools.cache
def year_before(end: datetime.date) -> datetime.date:
    """The same period end a year earlier (29 February gives 28 February)."""
    return month_end(datetime.date(end.year - 1, end.month, 1))


# --- reading ------------------------------------------------------------------------------


@dataclass
class _Register:
    """The reporting units: zones with the groups (province, nation) they add up into."""

    zones: dict[int, SimpleNamespace] = field(default_factory=dict)
    provinces: set[int] = field(default_factory=set)
    nation: int | None = None
    levels: dict[int, str] = field(default_factory=dict)
    _active: dict = field(default_factory=dict)

    @classmethod
    def load(cls) -> "_Register":
        register, parents = cls(), {}
        rows = ReportingUnit.objects.values_list(
            "id", "level", "parent_id", "zone_count", "active_from", "active_until"
        )
        for pk, level, parent_id, zone_count, active_from, active_until in rows:
            register.levels[pk] = level
            parents[pk] = parent_id
            if level == UnitLevel.NATION and register.nation is None:
                register.nation = pk
            elif level == UnitLevel.PROVINCE:
                register.provinces.add(pk)
            elif level == UnitLevel.ZONE:
                register.zones[pk] = SimpleNamespace(
                    zone_count=zone_count, active_from=active_from, active_until=active_until, groups=()
                )
        for pk, zone in register.zones.items():
            province = parents[pk] if parents[pk] in register.provinces else None
            zone.groups = tuple(g for g in (province, register.nation) if g is not None)
        return register

    def active_zones(self, start: datetime.date, end: datetime.date) -> list[tuple[int, SimpleNamespace]]:
        """The zones active at some time from ``start`` to ``end``, by id."""
        key = (start, end)
        if key not in self._active:
            self._active[key] = [
                (pk, zone)
                for pk, zone in sorted(self.zones.items())
                if (zone.active_from is None or zone.active_from <= end)
                and (zone.active_until is None or zone.active_until >= start)
            ]
        return self._active[key]


class _Rows:
    """Every unit row and national row read, by KPI, mapped to the periods of the frequency asked for."""

    def __init__(self, unit_rows, national_rows):
        # kpi -> [(unit, date, value, numerator, denominator)], by unit, date, then as recorded: the order alone
        # says which of several rows on one date counts (the last), so their times are not read.
        self.unit_rows = defaultdict(list)
        for kpi_id, *rest in unit_rows:
            self.unit_rows[kpi_id].append(tuple(rest))
        self.reported = defaultdict(list)  # kpi -> [(date, value, recorded_at)], national rows not derived
        self.derived = {}  # (kpi, date) -> stored derived row
        for pk, kpi_id, date, value, numerator, denominator, source, recorded_at, version in national_rows:
            if source == MeasurementSource.DERIVED:
                self.derived[(kpi_id, date)] = SimpleNamespace(
                    id=pk,
                    value=value,
                    numerator=numerator,
                    denominator=denominator,
                    recorded_at=recorded_at,
                    version=version,
                )
            else:
                self.reported[kpi_id].append((date, value, recorded_at))
        self._cache = {}

    def by_period(self, kpi_id, frequency) -> dict[tuple[int, datetime.date], tuple]:
        """(unit, period end) -> (value, numerator, denominator) of the unit's latest row in the period."""
        key = (kpi_id, frequency)
        if key not in self._cache:
            # Rows come ordered by unit, date, recorded_at and id: the last one of a period wins.
            self._cache[key] = {
                (unit, period_end(frequency, date)): (value, numerator, denominator)
                for unit, date, value, numerator, denominator in self.unit_rows.get(kpi_id, ())
            }
        return self._cache[key]

    def reported_by_period(self, kpi_id, frequency) -> dict[datetime.date, float]:
        """Period end -> the latest national value reported directly within the period."""
        return {period_end(frequency, date): value for date, value, _recorded in self.reported.get(kpi_id, ())}


# --- computing ----------------------------------------------------------------------------


def _contributions(kpi, rows: _Rows, register: _Register) -> dict:
    """(zone, period end) -> the zone's part of the totals: a tuple whose meaning depends on the kind."""
    frequency, kind = kpi.frequency, kpi.aggregation
    own = {key: v for key, v in rows.by_period(kpi.id, frequency).items() if key[0] in register.zones}
    if kind == Aggregation.SUM:
        return {key: (value,) for key, (value, _n, _d) in own.items()}
    if kind == Aggregation.MEAN:
        weights = None
        if kpi.weight_kpi_id:
            weights = defaultdict(list)
            for (zone, end), (weight, _n, _d) in sorted(rows.by_period(kpi.weight_kpi_id, frequency).items()):
                weights[zone].append((end, weight))
        parts = {}
        for (zone, end), (value, _n, _d) in own.items():
            weight = register.zones[zone].zone_count if weights is None else _latest_weight(weights, zone, end)
            if weight is not None:
                parts[(zone, end)] = (weight * value, weight)
        return parts
    if kind == Aggregation.RATIO:
        denominators = rows.by_period(kpi.denominator_kpi_id, frequency) if kpi.denominator_kpi_id else {}
        parts = {}
        for key, (value, numerator, denominator) in own.items():
            if denominator is None and key in denominators:
                denominator = denominators[key][0] or None  # a zero denominator is no denominator
            if numerator is None and denominator is not None:
                numerator = value * denominator / kpi.ratio_scale
            if numerator is not None:
                parts[key] = (numerator, denominator)
        return parts
    if kind == Aggregation.GROWTH and kpi.base_kpi_id:
        base = {key: v[0] for key, v in rows.by_period(kpi.base_kpi_id, frequency).items() if key[0] in register.zones}
        return {
            (zone, end): (value, base[(zone, year_before(end))])
            for (zone, end), value in base.items()
            if (zone, year_before(end)) in base
        }
    return {}


def _latest_weight(weights: dict, zone: int, end: datetime.date):
    """The zone's weight for the period ending ``end``, else its latest earlier one (``weights``: zone ->
    sorted [(period end, weight)])."""
    series = weights.get(zone, ())
    at = bisect.bisect_right(series, (end, float("inf")))
    return series[at - 1][1] if at else None


def _weights(kpi, rows: _Rows, register: _Register, parts: dict) -> dict:
    """(zone, period end) -> the zone's weight for coverage (see the module's docstring)."""
    if kpi.weight_kpi_id:
        return {key: v[0] for key, v in rows.by_period(kpi.weight_kpi_id, kpi.frequency).items()}
    if kpi.aggregation == Aggregation.MEAN:
        return {(zone, end): register.zones[zone].zone_count for (zone, end) in parts}
    if kpi.aggregation == Aggregation.RATIO:
        return {key: (d if d is not None else n) for key, (n, d) in parts.items()}
    if kpi.aggregation == Aggregation.GROWTH:
        return {key: v[0] for key, v in rows.by_period(kpi.base_kpi_id, kpi.frequency).items()}
    return {key: v[0] for key, v in parts.items()}


def _total(kpi, parts: list[tuple], national_denominator):
    """(value, numerator, denominator) of the parts of the reporting zones."""
    if not parts:
        return None, None, None
    kind = kpi.aggregation
    if kind == Aggregation.SUM:
        return sum(p[0] for p in parts), None, None
    numerator = sum(p[0] for p in parts)
    if kind == Aggregation.RATIO and any(p[1] is None for p in parts):
        denominator = national_denominator
    else:
        denominator = sum(p[1] for p in parts)
    if not denominator:
        return None, numerator, denominator
    if kind == Aggregation.MEAN:
        return numerator / denominator, numerator, denominator
    if kind == Aggregation.RATIO:
        return numerator / denominator * kpi.ratio_scale, numerator, denominator
    return (numerator / denominator - 1) * GROWTH_SCALE, numerator, denominator


def _aggregates(kpi, rows: _Rows, register: _Register, national_value) -> tuple[dict, dict]:
    """The KPI's aggregates, {(unit, period end): SimpleNamespace}, and its zones' parts."""
    parts = _contributions(kpi, rows, register)
    weights = _weights(kpi, rows, register, parts)
    province_reports = {
        key: v[0] for key, v in rows.by_period(kpi.id, kpi.frequency).items() if key[0] in register.provinces
    }
    national_reports = rows.reported_by_period(kpi.id, kpi.frequency)
    ends = {end for _zone, end in parts} | {end for _unit, end in province_reports} | set(national_reports)
    groups = [*sorted(register.provinces), *([register.nation] if register.nation else [])]
    denominator_of = None
    if kpi.aggregation == Aggregation.RATIO and kpi.denominator_kpi_id:
        denominator_of = kpi.denominator_kpi_id
    result = {}
    for end in sorted(ends):
        last_year = year_before(end)
        # One pass over the zones active in the period, in id order (the order of every sum).
        totals = {}  # group -> [parts, reported zones, expected zones, reporting weight, expected weight]
        for zone_id, zone in register.active_zones(period_start(kpi.frequency, end), end):
            part = parts.get((zone_id, end))
            weight = weights.get((zone_id, last_year)) or 0
            for group in zone.groups:
                total = totals.setdefault(group, [[], 0, 0, 0, 0])
                total[2] += zone.zone_count
                total[4] += weight
                if part is not None:
                    total[0].append(part)
                    total[1] += zone.zone_count
                    total[3] += weight
        national_denominator = national_value(denominator_of, end, kpi.frequency) if denominator_of else None
        for group in groups:
            reported = province_reports.get((group, end)) if group != register.nation else national_reports.get(end)
            if group not in totals and reported is None:
                continue
            group_parts, reported_zones, expected_zones, reporting_weight, expected_weight = totals.get(
                group, [[], 0, 0, 0, 0]
            )
            value, numerator, denominator = _total(kpi, group_parts, national_denominator)
            result[(group, end)] = SimpleNamespace(
                value=value,
                numerator=numerator,
                denominator=denominator,
                reported_zones=reported_zones,
                expected_zones=expected_zones,
                weight_coverage=reporting_weight / expected_weight if group_parts and expected_weight else None,
                reported_value=reported,
            )
    return result, parts


# --- unit statuses ------------------------------------------------------------------------


def _unit_series(kpi, rows: _Rows, parts: dict, aggregates: dict, register: _Register) -> dict[int, list]:
    """Each unit's own points: a zone's rows (a growth KPI's zone without rows: the growth of its base
    values), a province's aggregates."""
    series = defaultdict(list)
    for unit, date, value, _n, _d in rows.unit_rows.get(kpi.id, ()):
        if unit in register.zones:
            # Untimed points in the order recorded: of several on one date the method keeps the last.
            series[unit].append(rollup.MeasurementPoint(date=date, value=value))
    if kpi.aggregation == Aggregation.GROWTH:
        own = set(series)
        for (zone, end), (now, before) in sorted(parts.items(), key=lambda item: item[0][1]):
            if zone not in own and before:
                series[zone].append(rollup.MeasurementPoint(date=end, value=(now / before - 1) * GROWTH_SCALE))
    for (unit, end), row in sorted(aggregates.items(), key=lambda item: item[0][1]):
        if unit in register.provinces and row.value is not None:
            series[unit].append(rollup.MeasurementPoint(date=end, value=row.value))
    return series


def _unit_target(kpi, unit_values: dict, nation_values: list, target) -> dict:
    """The baseline and target a unit is judged against, and the rule that gave them (``unit_values``:
    period end -> the unit's value; ``nation_values``: [(period end, the nation's derived value)])."""
    national = {"national_baseline": kpi.baseline_value, "national_target": kpi.target_value}
    if target is not None:
        return {"rule": "unit_target", "baseline": target[0], "target": target[1], **national}
    if kpi.aggregation != Aggregation.SUM:
        return {"rule": "national", "baseline": kpi.baseline_value, "target": kpi.target_value, **national}
    baseline_end = period_end(kpi.frequency, kpi.baseline_date)
    for end, nation_value in [(baseline_end, kpi.baseline_value), *nation_values]:
        unit_value = unit_values.get(end)
        if unit_value is not None and nation_value:
            share = unit_value / nation_value
            return {
                "rule": "scaled",
                "share": share,
                "share_period": end.isoformat(),
                "baseline": kpi.baseline_value * share,
                "target": kpi.target_value * share,
                **national,
            }
    return {"rule": "no_share", "baseline": None, "target": None, **national}


def _unit_status(kpi, unit_id, level, points, rule: dict, today: datetime.date) -> SimpleNamespace:
    result = rollup.kpi_status(
        as_of=today,
        baseline_value=rule["baseline"] if rule["baseline"] is not None else kpi.baseline_value,
        baseline_date=kpi.baseline_date,
        target_value=rule["target"] if rule["target"] is not None else kpi.target_value,
        target_date=kpi.target_date,
        direction=kpi.direction,
        frequency=kpi.frequency,
        # Without a share, a sum's unit has no baseline of its own to be judged from.
        measurements=points if rule["rule"] != "no_share" else (),
    )
    unit = {"id": unit_id, "level": level, "aggregation": kpi.aggregation, **rule}
    return SimpleNamespace(
        status=str(result.status),
        score=result.score,
        progress=result.progress,
        latest_value=result.latest_value,
        latest_date=result.latest_date,
        forecast_value=result.forecast_value,
        explanation={**result.explanation, "unit": unit},
    )


def _unit_statuses(kpi, rows: _Rows, parts: dict, aggregates: dict, register: _Register, targets, today) -> dict:
    """(KPI, unit) -> status of every zone with figures and every province with a derived value."""
    series = _unit_series(kpi, rows, parts, aggregates, register)
    values = defaultdict(dict)  # unit -> period end -> value
    for (unit, end), (value, _n, _d) in rows.by_period(kpi.id, kpi.frequency).items():
        if unit in register.zones:
            values[unit][end] = value
    nation_values = []
    for (unit, end), row in sorted(aggregates.items(), key=lambda item: item[0][1]):
        if unit in register.provinces and row.value is not None:
            values[unit][end] = row.value
        elif unit == register.nation and row.value is not None:
            nation_values.append((end, row.value))
    units = set(series) | {unit for kpi_id, unit in targets if kpi_id == kpi.id and unit != register.nation}
    return {
        (kpi.id, unit): _unit_status(
            kpi,
            unit,
            register.levels.get(unit),
            series.get(unit, []),
            _unit_target(kpi, values[unit], nation_values, targets.get((kpi.id, unit))),
            today,
        )
        for unit in sorted(units)
    }


# --- writing ------------------------------------------------------------------------------


def _same(name: str, stored, value) -> bool:
    # An explanation reads back as JSON types: compare it as such only when it differs as built.
    return stored == value or (name == "explanation" and stored == json.loads(json.dumps(value, allow_nan=False)))


def _sync(model, stored: dict, wanted: dict, fields: list[str], key_fields: tuple[str, ...], now) -> None:
    """Bring ``model``'s rows from ``stored`` (key -> (id, values of ``fields``)) to ``wanted`` (key -> row):
    insert, update what changed, delete what is no longer wanted; one statement each."""
    new, changed = [], []
    for key, row in wanted.items():
        old = stored.get(key)
        if old is None:
            new.append(SimpleNamespace(**dict(zip(key_fields, key, strict=True)), **vars(row), computed_at=now))
        elif old[1] != tuple(getattr(row, name) for name in fields) and not all(
            _same(name, value, getattr(row, name)) for name, value in zip(fields, old[1], strict=True)
        ):
            changed.append(SimpleNamespace(id=old[0], **vars(row), computed_at=now))
    bulk_insert(model, new, [*(name.removesuffix("_id") for name in key_fields), *fields, "computed_at"])
    bulk_set(model, changed, [*fields, "computed_at"])
    gone = [old[0] for key, old in stored.items() if key not in wanted]
    if gone:
        model.objects.filter(pk__in=gone).delete()


def _stored(model, kpi_ids, key_fields, fields) -> dict:
    rows = model.objects.filter(kpi_id__any=kpi_ids).order_by().values_list(*key_fields, "id", *fields)
    width = len(key_fields)
    return {row[:width]: (row[width], row[width + 1 :]) for row in rows}


def _derived_delete(rows) -> None:
    """Delete stored derived rows, leaving the tombstones the sync feed lists (``rows``: (id, plan id))."""
    if not rows:
        return
    Tombstone.objects.bulk_create(
        [
            Tombstone(resource="measurements", item_id=pk, plan_id=plan_id, source=MeasurementSource.DERIVED)
            for pk, plan_id in rows
        ]
    )
    Measurement.objects.filter(pk__in=[pk for pk, _plan in rows]).delete()


def _derived_sync(plan, kpis: dict, aggregates: dict, rows: _Rows, register: _Register, now) -> None:
    """Write the national derived rows where they count (see the module's docstring), only those whose
    value changed or that must be recorded after a reported row of their date; delete the rest."""
    wanted = {}
    for kpi_id, by_unit in aggregates.items():
        kpi = kpis[kpi_id]
        reported = rows.reported_by_period(kpi_id, kpi.frequency)
        for (unit, end), row in by_unit.items():
            if unit != register.nation or row.value is None:
                continue
            if kpi.national_source != NationalSource.DERIVED and end in reported:
                continue
            latest = max((r for d, _v, r in rows.reported.get(kpi_id, ()) if d == end and r is not None), default=None)
            wanted[(kpi_id, end)] = (row, latest)
    created, changed = [], []
    ratio = {pk for pk, kpi in kpis.items() if kpi.aggregation == Aggregation.RATIO}
    for (kpi_id, end), (row, latest) in wanted.items():
        numerator, denominator = (row.numerator, row.denominator) if kpi_id in ratio else (None, None)
        recorded_at = max(now, latest + AFTER) if latest else now
        old = rows.derived.get((kpi_id, end))
        if old is None:
            created.append(
                SimpleNamespace(
                    kpi_id=kpi_id,
                    unit_id=None,
                    date=end,
                    value=row.value,
                    numerator=numerator,
                    denominator=denominator,
                    note="",
                    source=MeasurementSource.DERIVED,
                    recorded_by_id=None,
                    recorded_by_token_id=None,
                    recorded_at=recorded_at,
                    external_id="",
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif (old.value, old.numerator, old.denominator) != (row.value, numerator, denominator) or (
            latest is not None and old.recorded_at <= latest
        ):
            changed.append(
                SimpleNamespace(
                    id=old.id,
                    value=row.value,
                    numerator=numerator,
                    denominator=denominator,
                    recorded_at=recorded_at,
                    version=old.version + 1,
                    updated_at=now,
                )
            )
    bulk_insert(Measurement, created, DERIVED_COLUMNS)
    bulk_set(Measurement, changed, ["value", "numerator", "denominator", "recorded_at", "version", "updated_at"])
    _derived_delete(
        [(old.id, plan.pk) for key, old in rows.derived.items() if key[0] in aggregates and key not in wanted]
    )


# --- the refresh --------------------------------------------------------------------------


def _scope(kpis: dict, kpi_ids) -> set[int]:
    """``kpi_ids`` and every aggregating KPI that draws on one of them, transitively."""
    scope = set(kpis) if kpi_ids is None else set(kpi_ids)
    grew = True
    while grew:
        more = {pk for pk, kpi in kpis.items() if pk not in scope and _drawn_on(kpi) in scope}
        scope |= more
        grew = bool(more)
    return scope


def _drawn_on(kpi) -> int | None:
    """The KPI whose figures ``kpi``'s aggregation draws on: a ratio's denominator, a mean's weight, a
    growth's base."""
    name = DEPENDENCIES.get(kpi.aggregation)
    return getattr(kpi, name) if name else None


def _forget(plan, kpi_ids) -> None:
    """Delete what the refresh derived for KPIs that no longer aggregate."""
    if not kpi_ids:
        return
    derived = Measurement.objects.filter(kpi_id__in=kpi_ids, source=MeasurementSource.DERIVED)
    _derived_delete([(pk, plan.pk) for pk in derived.values_list("pk", flat=True)])
    UnitAggregate.objects.filter(kpi_id__in=kpi_ids).delete()
    UnitStatus.objects.filter(kpi_id__in=kpi_ids).delete()


def _kpis(plan, kpi_ids) -> dict[int, SimpleNamespace]:
    """The plan's aggregating KPIs and the KPIs that keep something derived, with whether they do (``derived``):
    one query. Given ``kpi_ids`` (every write's refresh), it reads the aggregating KPIs through their partial index
    and, of the others, those ``kpi_ids`` that keep something derived (``_forget`` deletes it): a KPI that neither
    aggregates nor keeps anything plays no part (``_scope`` starts from ``kpi_ids`` themselves), and a bulk upload's
    10,000 such KPIs at national scale 10 cost 0.1 s to read and keep."""
    aggregating = ~Q(aggregation=Aggregation.NONE)
    rows = (
        KPI.objects.filter(plan=plan)
        .order_by()
        .annotate(  # a dict: no order, no join for the default one
            has_aggregates=Exists(UnitAggregate.objects.filter(kpi=OuterRef("pk"))),
            has_statuses=Exists(UnitStatus.objects.filter(kpi=OuterRef("pk"))),
        )
    )
    columns = (*KPI_COLUMNS, "has_aggregates", "has_statuses")
    if kpi_ids is None:
        rows = rows.filter(aggregating | Q(has_aggregates=True) | Q(has_statuses=True)).values_list(*columns)
    else:
        given = (
            rows.filter(pk__any=kpi_ids, aggregation=Aggregation.NONE)
            .filter(Q(has_aggregates=True) | Q(has_statuses=True))
            .values_list(*columns)
        )
        rows = rows.filter(aggregating).values_list(*columns).union(given, all=True)
    return {
        row[0]: SimpleNamespace(**dict(zip(KPI_COLUMNS, row[:-2], strict=True)), derived=row[-2] or row[-1])
        for row in rows
    }


KIND_ORDER = {Aggregation.SUM: 0, Aggregation.MEAN: 1, Aggregation.GROWTH: 2, Aggregation.RATIO: 3}


def aggregates_refresh(plan, kpi_ids=None, *, today: datetime.date | None = None) -> set[int]:
    """Derive the plan's aggregates, national derived rows and unit statuses: all of them, or those of
    ``kpi_ids`` and of the KPIs that draw on them (a ratio's denominator, a mean's weight, a growth's base).

    Returns ``kpi_ids`` with the plan's KPIs that draw on them (their national series may have changed
    too); for the whole plan, its aggregating KPIs. A fixed number of queries whatever the number of
    zones, KPIs and periods (one for a plan without aggregating KPIs); none for an empty ``kpi_ids``.
    """
    if kpi_ids is not None and not kpi_ids:
        return set()
    today = today or timezone.localdate()
    kpis = _kpis(plan, kpi_ids)
    scope = _scope(kpis, kpi_ids)
    refreshed = sorted(
        (pk for pk in scope if pk in kpis and kpis[pk].aggregation != Aggregation.NONE),
        key=lambda pk: (KIND_ORDER.get(kpis[pk].aggregation, 9), pk),
    )
    _forget(plan, sorted(pk for pk in scope - set(refreshed) if pk in kpis and kpis[pk].derived))
    if not refreshed:
        return scope
    sources = set(refreshed) | {_drawn_on(kpis[pk]) for pk in refreshed} - {None}
    register = _Register.load()
    rows = _Rows(
        Measurement.objects.of_units()
        .filter(kpi_id__any=sources)
        .order_by("kpi_id", "unit_id", "date", "recorded_at", "id")
        .values_list("kpi_id", "unit_id", "date", "value", "numerator", "denominator"),
        Measurement.objects.national()
        .filter(kpi_id__any=sources)
        .order_by("kpi_id", "date", "recorded_at", "id")
        .values_list("id", "kpi_id", "date", "value", "numerator", "denominator", "source", "recorded_at", "version"),
    )
    aggregates: dict[int, dict] = {}
    parts: dict[int, dict] = {}

    def national_value(kpi_id, end, frequency):
        """The nation's value of record of ``kpi_id`` in the ``frequency`` period ending ``end``."""
        derived = aggregates.get(kpi_id, {}).get((register.nation, end))
        derived = derived.value if derived is not None else getattr(rows.derived.get((kpi_id, end)), "value", None)
        reported = rows.reported_by_period(kpi_id, frequency).get(end)
        kpi = kpis.get(kpi_id)
        if kpi is not None and kpi.national_source == NationalSource.DERIVED and derived is not None:
            return derived
        return reported if reported is not None else derived

    for pk in refreshed:
        aggregates[pk], parts[pk] = _aggregates(kpis[pk], rows, register, national_value)
    now = timezone.now()
    _sync(
        UnitAggregate,
        _stored(UnitAggregate, refreshed, ("kpi_id", "unit_id", "period_end"), AGGREGATE_FIELDS),
        {(pk, unit, end): row for pk in refreshed for (unit, end), row in aggregates[pk].items()},
        AGGREGATE_FIELDS,
        ("kpi_id", "unit_id", "period_end"),
        now,
    )
    _derived_sync(plan, {pk: kpis[pk] for pk in refreshed}, aggregates, rows, register, now)
    targets = {
        (kpi_id, unit_id): (baseline, target)
        for kpi_id, unit_id, baseline, target in UnitTarget.objects.filter(kpi_id__any=refreshed).values_list(
            "kpi_id", "unit_id", "baseline_value", "target_value"
        )
    }
    statuses = {}
    for pk in refreshed:
        statuses.update(_unit_statuses(kpis[pk], rows, parts[pk], aggregates[pk], register, targets, today))
    _sync(
        UnitStatus,
        _stored(UnitStatus, refreshed, ("kpi_id", "unit_id"), STATUS_FIELDS),
        statuses,
        STATUS_FIELDS,
        ("kpi_id", "unit_id"),
        now,
    )
    return scope
