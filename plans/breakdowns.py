"""The zone pages' reads: a KPI's breakdown by province and zone, the zone x KPI heat map, a unit's KPIs.

Each read issues a fixed number of queries whatever the number of zones (the register, the aggregates,
the zones' rows of two periods, the statuses), then assembles rows in Python. The values shown are the
ones ``plans.aggregation`` derived (``UnitAggregate``, ``UnitStatus``) and the zones' own measurements;
nothing is aggregated here. ``visible`` is the set of unit ids the viewer may see
(``plans.permissions.visible_units``), None for every unit.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from .charts import TREND_ORDER
from .choices import Aggregation, MeasurementSource, NationalSource, UnitLevel
from .dates import MONTHS_PER_PERIOD, ONE_DAY, month_end, period_end_on_or_before
from .explain import explain, fmt_number, fmt_percent
from .models import KPI, Measurement, ReportingUnit, UnitAggregate, UnitStatus

# Worst first, as the status trend stacks them: sorting by status puts the units that need attention on top.
STATUS_ORDER = [str(status) for status in TREND_ORDER]
SORT_KEYS = ("name", "value", "change", "share", "per_unit", "status")
DEFAULT_SORT = "-value"


def _visible(unit_id: int, visible) -> bool:
    return visible is None or unit_id in visible


def unit_register(*, visible=None) -> list[ReportingUnit]:
    """Every unit of the register (nation, provinces, zones) the viewer may see, in register order, one query."""
    units = ReportingUnit.objects.select_related("parent").order_by("level", "order", "code")
    return [u for u in units if u.level == UnitLevel.NATION or _visible(u.pk, visible)]


def province_groups(units: list[ReportingUnit]) -> list[tuple[ReportingUnit, list[ReportingUnit]]]:
    """Provinces (shown, or parents of a shown zone) with their shown zones, in register order."""
    provinces = {u.pk: u for u in units if u.level == UnitLevel.PROVINCE}
    zones: dict[int, list[ReportingUnit]] = defaultdict(list)
    for unit in units:
        if unit.level == UnitLevel.ZONE:
            provinces.setdefault(unit.parent_id, unit.parent)
            zones[unit.parent_id].append(unit)
    ordered = sorted(provinces.values(), key=lambda p: (p.order, p.code))
    return [(province, zones.get(province.pk, [])) for province in ordered]


def period_label(frequency: str, day: datetime.date | None) -> str:
    """``2025 Q3`` for a quarter, ``2025-09`` for a month, ``2025`` for a year."""
    if day is None:
        return ""
    if frequency == "quarterly":
        return _("%(year)d Q%(quarter)d") % {"year": day.year, "quarter": (day.month - 1) // 3 + 1}
    if frequency == "annual":
        return str(day.year)
    return f"{day.year}-{day.month:02d}"


def _year_earlier(day: datetime.date) -> datetime.date:
    return month_end(datetime.date(day.year - 1, day.month, 1))


# As plans.aggregation reads the zones' rows: a value dated within a period is the value of the period's end
# (the latest by date, then as recorded), and a zone is expected in a period its active dates overlap.
def period_end_of(frequency: str, day: datetime.date) -> datetime.date:
    step = MONTHS_PER_PERIOD[str(frequency)]
    return month_end(datetime.date(day.year, ((day.month - 1) // step + 1) * step, 1))


def period_start_of(frequency: str, end: datetime.date) -> datetime.date:
    return period_end_on_or_before(frequency, end - ONE_DAY) + ONE_DAY


def active_in(unit: ReportingUnit, frequency: str, end: datetime.date) -> bool:
    start = period_start_of(frequency, end)
    return (unit.active_from is None or unit.active_from <= end) and (
        unit.active_until is None or unit.active_until >= start
    )


# --- the KPI page's breakdown -------------------------------------------------------------------------------


@dataclass
class UnitRow:
    """One province or zone of the breakdown."""

    unit: ReportingUnit
    value: float | None = None
    previous: float | None = None
    share: float | None = None
    per_unit: float | None = None
    status: str = ""
    reported: bool = False
    reported_zones: int | None = None
    expected_zones: int | None = None
    shown: bool = True  # a reporter sees the province of its zones by name only, not its aggregate
    zones: list[UnitRow] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_share(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        return self.change / abs(self.previous)


@dataclass
class Breakdown:
    kpi: KPI
    period: datetime.date | None
    period_text: str
    compared_to: datetime.date | None
    compared_text: str
    national: UnitAggregate | None
    national_value: float | None
    reported_value: float | None
    coverage: str
    gap: str
    aggregation: str
    provinces: list[UnitRow]
    missing: list[ReportingUnit]
    sort: str
    has_share: bool
    has_per_unit: bool
    per_unit_label: str
    restricted: bool
    nation: UnitRow | None = None  # the derived national figure as a row of the table (its total)

    @property
    def zones(self) -> list[UnitRow]:
        return [zone for province in self.provinces for zone in province.zones]

    @property
    def missing_zones(self) -> int:
        """How many zones the units that have not reported stand for (an "other zones" unit counts for its N)."""
        return sum(unit.zone_count for unit in self.missing)

    @property
    def ranking(self) -> dict:
        return ranking_chart(self.zones, unit=self.kpi.unit)


def aggregation_text(kpi: KPI) -> str:
    """How the zones' values make the national one, in words."""
    kind = kpi.aggregation
    if kind == Aggregation.SUM:
        return _("The national figure is the sum of the zones' figures.")
    if kind == Aggregation.RATIO:
        return _(
            "The national figure is a ratio of sums: the zones' numerators added up over their denominators "
            "added up, times %(scale)s (never an average of the zones' ratios)."
        ) % {"scale": fmt_number(kpi.ratio_scale)}
    if kind == Aggregation.MEAN:
        weight = kpi.weight_kpi.tr.name if kpi.weight_kpi_id and kpi.weight_kpi else _("a declared weight")
        return _("The national figure is the mean of the zones' figures, each weighted by %(weight)s.") % {
            "weight": weight
        }
    if kind == Aggregation.GROWTH:
        base = kpi.base_kpi.tr.name if kpi.base_kpi_id and kpi.base_kpi else _("another KPI")
        text = _("The national figure is the growth of the sum of %(base)s, derived from two sums (never averaged).")
        return text % {"base": base}
    return _("This KPI is reported for the nation directly; it is not derived from the zones.")


def coverage_sentence(kpi: KPI, period: datetime.date | None, national: UnitAggregate | None) -> str:
    """``GDP 2025 Q3: 19.9 trillion yuan from 162 of 178 zones (96% of last year's weight)``."""
    if period is None:
        return _("No zone has reported %(kpi)s yet.") % {"kpi": kpi.tr.name}
    values = {"kpi": kpi.tr.name, "period": period_label(kpi.frequency, period), "unit": kpi.tr.unit}
    if national is None:
        return _("%(kpi)s %(period)s: the national figure has not been derived from the zones yet.") % values
    if national.value is None:
        values |= {"reported": national.reported_zones, "expected": national.expected_zones}
        return (
            _(
                "%(kpi)s %(period)s: %(reported)d of %(expected)d zones reported, but no national figure could be "
                "derived from them (a denominator or weight is missing)."
            )
            % values
        )
    values |= {
        "value": fmt_number(national.value),
        "reported": national.reported_zones,
        "expected": national.expected_zones,
    }
    if national.weight_coverage is None:
        return _("%(kpi)s %(period)s: %(value)s %(unit)s from %(reported)d of %(expected)d zones") % values
    values["weight"] = fmt_percent(national.weight_coverage)
    text = _(
        "%(kpi)s %(period)s: %(value)s %(unit)s from %(reported)d of %(expected)d zones "
        "(%(weight)s of last year's weight)"
    )
    return text % values


def gap_sentence(kpi: KPI, derived: float | None, reported: float | None) -> str:
    """The gap between the derived national figure and one reported directly, and which one counts."""
    if derived is None or reported is None:
        return ""
    values = {"reported": fmt_number(reported), "derived": fmt_number(derived), "unit": kpi.unit}
    values["gap"] = fmt_number(abs(derived - reported))
    values["share"] = fmt_percent(abs(derived - reported) / abs(reported)) if reported else "—"
    if derived == reported:
        text = _("The figure reported directly for the nation, %(reported)s %(unit)s, equals the derived one.") % values
    elif derived < reported:
        text = (
            _(
                "Reported directly for the nation: %(reported)s %(unit)s; the zones' figures add up to %(gap)s "
                "%(unit)s (%(share)s) less."
            )
            % values
        )
    else:
        text = (
            _(
                "Reported directly for the nation: %(reported)s %(unit)s; the zones' figures add up to %(gap)s "
                "%(unit)s (%(share)s) more."
            )
            % values
        )
    wins = (
        _("The status uses the reported figure.")
        if kpi.national_source == NationalSource.REPORTED
        else _("The status uses the derived figure.")
    )
    return f"{text} {wins}"


def _sort_key(name: str):
    if name == "name":
        return lambda row: (0, row.unit.name.casefold())
    if name == "status":
        order = STATUS_ORDER
        return lambda row: (0, order.index(row.status) if row.status in order else len(order))
    return lambda row: (0, getattr(row, name)) if getattr(row, name) is not None else (1, 0)


def sort_rows(rows: list[UnitRow], sort: str) -> list[UnitRow]:
    """Sorted by ``sort`` (a SORT_KEYS name, ``-`` first for descending); rows without the value stay last."""
    name = sort.lstrip("-")
    key = _sort_key(name)
    if not sort.startswith("-"):
        return sorted(rows, key=key)
    present = [row for row in rows if key(row)[0] == 0]
    absent = [row for row in rows if key(row)[0] != 0]
    return sorted(present, key=key, reverse=True) + absent


def sort_read(raw: str) -> str:
    return raw if raw.lstrip("-") in SORT_KEYS and raw.count("-") <= 1 else DEFAULT_SORT


def _latest_rows(rows, frequency: str) -> dict:
    """(kpi, unit, period end) -> (value, numerator): the period's latest row by date, then as recorded, wins
    (rows come in that order)."""
    kept = {}
    for kpi_id, unit_id, day, value, numerator in rows:
        kept[(kpi_id, unit_id, period_end_of(frequency, day))] = (value, numerator)
    return kept


def kpi_breakdown(kpi: KPI, *, as_of: datetime.date | None = None, visible=None, sort: str = DEFAULT_SORT) -> Breakdown:
    """The breakdown of ``kpi``'s latest period (on or before ``as_of``) by province and zone.

    Seven queries at most, whatever the number of zones: the nation's periods (else the zones'), the
    aggregates of two periods, the register, the zones' rows of two periods (with the comparison KPI's
    and a directly reported national figure), the statuses.
    """
    sort = sort_read(sort)
    kind = kpi.aggregation
    dates = UnitAggregate.objects.filter(kpi=kpi, unit__level=UnitLevel.NATION)
    if as_of:
        dates = dates.filter(period_end__lte=as_of)
    periods = sorted(set(dates.order_by().values_list("period_end", flat=True)))
    if not periods:
        reported = Measurement.objects.filter(kpi=kpi, unit__isnull=False)
        if as_of:
            reported = reported.filter(date__lte=as_of)
        days_reported = reported.order_by().values_list("date", flat=True).distinct()
        periods = sorted({period_end_of(kpi.frequency, day) for day in days_reported})
    period = periods[-1] if periods else None
    compared_to, compared_text = None, ""
    if period is not None:
        if _year_earlier(period) in periods:
            compared_to, compared_text = _year_earlier(period), _("against the same period a year earlier")
        elif len(periods) > 1:
            compared_to, compared_text = periods[-2], _("against the previous period")
    days = [d for d in (period, compared_to) if d is not None]

    aggregates = {
        (a.unit_id, a.period_end): a for a in UnitAggregate.objects.filter(kpi=kpi, period_end__in=days).order_by()
    }
    units = unit_register(visible=visible)
    nation = next((u for u in units if u.level == UnitLevel.NATION), None)
    # A growth KPI's zones report its base KPI: a zone's growth is its own base value over its value a year
    # earlier, as the national growth is of two sums.
    growth = kind == Aggregation.GROWTH and kpi.base_kpi_id is not None
    source = kpi.base_kpi_id if growth else kpi.pk
    kpis = {kpi.pk, source, *([kpi.comparison_kpi_id] if kpi.comparison_kpi_id else [])}
    within = Q()
    for end in {*days, *([_year_earlier(d) for d in days] if growth else [])}:
        within |= Q(date__range=(period_start_of(kpi.frequency, end), end))
    rows = (
        Measurement.objects.filter(within, kpi_id__in=kpis)
        .filter(Q(unit__isnull=False) | ~Q(source=MeasurementSource.DERIVED))
        .order_by("date", "recorded_at", "id")
        .values_list("kpi_id", "unit_id", "date", "value", "numerator")
    )
    figures = _latest_rows(rows, kpi.frequency) if days else {}
    statuses = dict(UnitStatus.objects.filter(kpi=kpi).order_by().values_list("unit_id", "status"))

    national = aggregates.get((nation.pk, period)) if nation else None
    national_value = national.value if national else None
    reported_value = national.reported_value if national and national.reported_value is not None else None
    if reported_value is None and (kpi.pk, None, period) in figures:
        reported_value = figures[(kpi.pk, None, period)][0]
    national_numerator = national.numerator if national else None
    # A share of the national figure: of the sum, or of the numerators' sum (a ratio's zones are its numerators).
    has_share = bool(national_numerator if kind == Aggregation.RATIO else kind == Aggregation.SUM and national_value)

    def share_of(value, numerator):
        if kind == Aggregation.SUM and national_value and value is not None:
            return value / national_value
        if kind == Aggregation.RATIO and national_numerator and numerator is not None:
            return numerator / national_numerator
        return None

    def zone_figure(unit_id, day) -> tuple:
        """(value, numerator) of a zone for the period ending ``day``."""
        if not growth:
            return figures.get((kpi.pk, unit_id, day), (None, None))
        now = figures.get((source, unit_id, day), (None, None))[0]
        before = figures.get((source, unit_id, _year_earlier(day)), (None, None))[0] if day else None
        return ((now / before - 1) * 100 if now is not None and before else None), None

    def per_unit(unit_id, value):
        if not kpi.comparison_kpi_id or value is None:
            return None
        denominator = figures.get((kpi.comparison_kpi_id, unit_id, period), (None, None))[0]
        return value / denominator * kpi.comparison_scale if denominator else None

    missing = []
    provinces = []
    for province, zones in province_groups(units):
        shown = _visible(province.pk, visible)
        aggregate = aggregates.get((province.pk, period)) if shown else None
        before = aggregates.get((province.pk, compared_to)) if shown else None
        province_row = UnitRow(
            unit=province,
            value=aggregate.value if aggregate else None,
            previous=before.value if before else None,
            share=share_of(aggregate.value, aggregate.numerator) if aggregate else None,
            per_unit=None,
            status=statuses.get(province.pk, "") if shown else "",
            reported_zones=aggregate.reported_zones if aggregate else None,
            expected_zones=aggregate.expected_zones if aggregate else None,
            shown=shown,
        )
        zone_rows = []
        for zone in zones:
            value, numerator = zone_figure(zone.pk, period)
            reported = (source, zone.pk, period) in figures
            if period and not reported:
                if not active_in(zone, kpi.frequency, period):
                    continue  # not designated yet, or merged away: neither expected nor shown
                missing.append(zone)
            zone_rows.append(
                UnitRow(
                    unit=zone,
                    value=value,
                    previous=zone_figure(zone.pk, compared_to)[0],
                    share=share_of(value, numerator),
                    per_unit=per_unit(zone.pk, value),
                    status=statuses.get(zone.pk, ""),
                    reported=reported,
                )
            )
        province_row.zones = sort_rows(zone_rows, sort)
        provinces.append(province_row)
    return Breakdown(
        kpi=kpi,
        period=period,
        period_text=period_label(kpi.frequency, period),
        compared_to=compared_to,
        compared_text=compared_text,
        national=national,
        national_value=national_value,
        reported_value=reported_value,
        coverage=coverage_sentence(kpi, period, national),
        gap=gap_sentence(kpi, national_value, reported_value),
        aggregation=aggregation_text(kpi),
        provinces=sort_rows(provinces, sort),
        missing=missing,
        sort=sort,
        has_share=has_share,
        has_per_unit=bool(kpi.comparison_kpi_id),
        per_unit_label=_per_unit_label(kpi),
        restricted=visible is not None,
        nation=_nation_row(nation, national, aggregates.get((nation.pk, compared_to)) if nation else None, has_share),
    )


def _nation_row(nation, national: UnitAggregate | None, before: UnitAggregate | None, has_share: bool):
    if nation is None or national is None:
        return None
    return UnitRow(
        unit=nation,
        value=national.value,
        previous=before.value if before else None,
        share=1.0 if has_share else None,
        reported_zones=national.reported_zones,
        expected_zones=national.expected_zones,
    )


def _per_unit_label(kpi: KPI) -> str:
    if not kpi.comparison_kpi_id or not kpi.comparison_kpi:
        return ""
    return _("Per %(scale)s %(unit)s of %(name)s") % {
        "scale": fmt_number(kpi.comparison_scale),
        "unit": kpi.comparison_kpi.tr.unit,
        "name": kpi.comparison_kpi.tr.name,
    }


# --- the ranking chart (server-side SVG) ---------------------------------------------------------------------

# Narrow enough to be scaled down to a phone's width and still read (plans/zones/_ranking.html).
BAR_HEIGHT = 14
BAR_GAP = 5
LABEL_WIDTH = 205
BAR_AREA = 220
VALUE_WIDTH = 70
CHART_WIDTH = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH


def ranking_chart(rows: list[UnitRow], *, unit: str) -> dict:
    """Horizontal bars of the zones that reported, largest first: geometry for ``plans/zones/_ranking.html``.

    Bars start at zero, so negative values (a fall) extend left of the axis. Units that stand for several
    zones are left out of the ranking (``left_out``) and named under it.
    """
    # A unit standing for many zones ("the other 162") is no zone to rank against one: it is named apart.
    grouped = [r.unit for r in rows if r.value is not None and r.unit.zone_count > 1]
    reported = sorted(
        (r for r in rows if r.value is not None and r.unit.zone_count == 1), key=lambda r: r.value, reverse=True
    )
    if not reported:
        return {"bars": [], "width": CHART_WIDTH, "height": 0, "left_out": grouped}
    low = min(0.0, min(r.value for r in reported))
    high = max(0.0, max(r.value for r in reported))
    span = (high - low) or 1.0
    zero = LABEL_WIDTH + (0 - low) / span * BAR_AREA
    bars = []
    for i, row in enumerate(reported):
        x_end = LABEL_WIDTH + (row.value - low) / span * BAR_AREA
        y = i * (BAR_HEIGHT + BAR_GAP)
        bars.append(
            {
                "row": row,
                "rank": i + 1,
                "y": y,
                "text_y": y + BAR_HEIGHT - 3,
                "x": round(min(zero, x_end), 1),
                "width": round(max(abs(x_end - zero), 1.0), 1),
                "label": row.unit.name,
                "value": fmt_number(row.value),
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": len(bars) * (BAR_HEIGHT + BAR_GAP),
        "zero": round(zero, 1),
        "bar_height": BAR_HEIGHT,
        "label_x": LABEL_WIDTH - 6,
        "value_x": LABEL_WIDTH + BAR_AREA + 6,
        "unit": unit,
        "left_out": grouped,
    }


# --- the heat map and the unit pages -------------------------------------------------------------------------


def _nation_latest(field_name: str):
    return Subquery(
        UnitAggregate.objects.filter(kpi=OuterRef("pk"), unit__level=UnitLevel.NATION)
        .order_by("-period_end")
        .values(field_name)[:1]
    )


def aggregating_kpis(**filters) -> QuerySet[KPI]:
    """The KPIs derived from the zones, with the coverage of the nation's latest period (one query)."""
    return (
        KPI.objects.filter(**filters)
        .exclude(aggregation=Aggregation.NONE)
        .select_related("plan")
        .annotate(
            latest_period=_nation_latest("period_end"),
            reported_zones=_nation_latest("reported_zones"),
            expected_zones=_nation_latest("expected_zones"),
        )
        .order_by("plan__name", "code")
    )


@dataclass
class HeatRow:
    unit: ReportingUnit
    cells: list[str]  # a status per KPI, in the columns' order ("" when none is stored)
    is_province: bool = False


def zone_heatmap(*, plan, visible=None, province: ReportingUnit | None = None) -> dict:
    """Zone x KPI statuses of ``plan``'s aggregating KPIs, rows grouped by province (three queries)."""
    kpis = list(aggregating_kpis(plan=plan))
    units = unit_register(visible=visible)
    if province is not None:
        units = [u for u in units if u.pk == province.pk or u.parent_id == province.pk]
    statuses = defaultdict(dict)
    rows = UnitStatus.objects.filter(kpi__plan=plan).exclude(unit__level=UnitLevel.NATION)
    for kpi_id, unit_id, status in rows.order_by().values_list("kpi_id", "unit_id", "status"):
        statuses[unit_id][kpi_id] = status
    groups = []
    for group, zones in province_groups(units):
        shown = _visible(group.pk, visible)
        head = [statuses[group.pk].get(k.pk, "") if shown else "" for k in kpis]
        groups.append(
            {
                "province": HeatRow(unit=group, cells=head, is_province=True),
                "zones": [HeatRow(unit=z, cells=[statuses[z.pk].get(k.pk, "") for k in kpis]) for z in zones],
            }
        )
    return {"kpis": kpis, "groups": groups}


def unit_for_page(*, code: str, visible=None) -> ReportingUnit:
    """A province or zone by code, with its parent; DoesNotExist when the viewer may not see it."""
    unit = ReportingUnit.objects.select_related("parent").exclude(level=UnitLevel.NATION).get(code=code)
    if not _visible(unit.pk, visible):
        raise ReportingUnit.DoesNotExist
    return unit


@dataclass
class UnitKPIRow:
    kpi: KPI
    status: str
    explanation: object  # plans.explain.Explained
    latest_value: float | None
    latest_date: datetime.date | None
    period: datetime.date | None
    reported: bool
    reported_zones: int | None = None
    expected_zones: int | None = None

    @property
    def period_text(self) -> str:
        return period_label(self.kpi.frequency, self.period)


def unit_kpi_rows(unit: ReportingUnit) -> list[UnitKPIRow]:
    """Every aggregating KPI of every plan for ``unit``: its status and explanation, its latest value (a zone's
    own figure, a province's derived one with its coverage) and whether it covers the KPI's latest period
    (two queries)."""
    if unit.level == UnitLevel.ZONE:
        rows = Measurement.objects.filter(unit=unit, kpi_id=OuterRef("pk")).order_by("-date", "-recorded_at", "-id")
        date_field, coverage = "date", {}
    else:
        rows = UnitAggregate.objects.filter(unit=unit, kpi_id=OuterRef("pk")).order_by("-period_end")
        date_field = "period_end"
        coverage = {
            "unit_reported": Subquery(rows.values("reported_zones")[:1]),
            "unit_expected": Subquery(rows.values("expected_zones")[:1]),
        }
    kpis = list(
        aggregating_kpis().annotate(
            unit_value=Subquery(rows.values("value")[:1]),
            unit_date=Subquery(rows.values(date_field)[:1]),
            **coverage,
        )
    )
    statuses = {s.kpi_id: s for s in UnitStatus.objects.filter(unit=unit, kpi__in=[k.pk for k in kpis]).order_by()}
    result = []
    for kpi in kpis:
        stored = statuses.get(kpi.pk)
        day, period, value = kpi.unit_date, kpi.latest_period, kpi.unit_value
        if unit.level == UnitLevel.ZONE and kpi.aggregation == Aggregation.GROWTH:
            # A zone reports the base KPI, not its growth: the growth of its own series is in its status.
            day, value = (stored.latest_date, stored.latest_value) if stored else (None, None)
        result.append(
            UnitKPIRow(
                kpi=kpi,
                status=stored.status if stored else "",
                explanation=explain(stored.explanation) if stored and stored.explanation else None,
                latest_value=value,
                latest_date=day,
                period=period,
                # Without a derived national period yet, any figure counts as the latest.
                reported=day is not None and (period is None or period_end_of(kpi.frequency, day) >= period),
                reported_zones=getattr(kpi, "unit_reported", None),
                expected_zones=getattr(kpi, "unit_expected", None),
            )
        )
    return result


def unit_children(unit: ReportingUnit, *, visible=None) -> list[ReportingUnit]:
    if unit.level != UnitLevel.PROVINCE:
        return []
    return [z for z in ReportingUnit.objects.filter(parent=unit).order_by("order", "code") if _visible(z.pk, visible)]


__all__ = [
    "Breakdown",
    "UnitRow",
    "aggregating_kpis",
    "kpi_breakdown",
    "province_groups",
    "ranking_chart",
    "unit_for_page",
    "unit_kpi_rows",
    "unit_register",
    "zone_heatmap",
]
