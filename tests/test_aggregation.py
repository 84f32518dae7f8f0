"""plans.aggregation: the zones' figures make the provinces' and the nation's, with coverage and precedence."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans import aggregation, services
from plans.aggregation import aggregates_refresh
from plans.choices import Aggregation, ItemType, MeasurementSource, NationalSource
from plans.dates import month_end
from plans.explain import explain
from plans.incremental import Changes
from plans.models import KPI, Measurement, Plan, StatusSnapshot, Tombstone, UnitAggregate, UnitStatus, UnitTarget
from plans.recompute import plan_recompute
from tests.factories import KPIFactory, NationFactory, ProvinceFactory, ZoneFactory

pytestmark = pytest.mark.django_db

Q4_2024 = datetime.date(2024, 12, 31)
Q1_2024 = datetime.date(2024, 3, 31)
Q1 = datetime.date(2025, 3, 31)
Q2 = datetime.date(2025, 6, 30)
TODAY = datetime.date(2025, 7, 15)


def zone_write(kpi: KPI, unit, date: datetime.date, value: float, **parts) -> Measurement:
    """A zone's figure created or revised as a unit write records it: the row, and the KPI's change on the
    plan (the zone-reporter service of the API and forms does the same)."""
    with transaction.atomic():
        row, _created = Measurement.objects.update_or_create(
            kpi=kpi, unit=unit, date=date, source=MeasurementSource.MANUAL, defaults={"value": value, **parts}
        )
        services.plan_mark_changed(plan_id=kpi.plan_id, changes=Changes.measured([kpi.pk], date))
    return row


def aggregate(kpi: KPI, unit, end: datetime.date = Q1) -> UnitAggregate:
    return UnitAggregate.objects.get(kpi=kpi, unit=unit, period_end=end)


def derived(kpi: KPI) -> dict:
    return dict(Measurement.objects.filter(kpi=kpi, source=MeasurementSource.DERIVED).values_list("date", "value"))


@pytest.fixture
def tree():
    """The nation, two provinces, and three zones: two in the first province, one in the second."""
    nation = NationFactory()
    north, south = ProvinceFactory(parent=nation), ProvinceFactory(parent=nation)
    return nation, north, south, [ZoneFactory(parent=north), ZoneFactory(parent=north), ZoneFactory(parent=south)]


def test_a_sum_adds_the_zones_up_by_province_and_for_the_nation(tree):
    nation, north, south, (a, b, c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM)
    for zone, value in ((a, 10), (b, 20), (c, 30)):
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q1, value=value)
    # A zone's later figure in the same quarter is its value for the quarter.
    Measurement.objects.create(kpi=kpi, unit=c, date=datetime.date(2025, 2, 28), value=999)

    aggregates_refresh(kpi.plan, today=TODAY)

    assert (aggregate(kpi, north).value, aggregate(kpi, south).value, aggregate(kpi, nation).value) == (30, 30, 60)
    assert (aggregate(kpi, nation).reported_zones, aggregate(kpi, nation).expected_zones) == (3, 3)
    assert derived(kpi) == {Q1: 60}


def test_a_ratio_is_the_sum_of_numerators_over_the_sum_of_denominators_not_a_mean_of_shares(tree):
    nation, north, _south, (a, b, _c) = tree
    kpi = KPIFactory(aggregation=Aggregation.RATIO, ratio_scale=100)
    # 1 of 10 is 10%, 90 of 100 is 90%: the mean of the shares, 50%, is the classic error.
    Measurement.objects.create(kpi=kpi, unit=a, date=Q1, value=10, numerator=1, denominator=10)
    Measurement.objects.create(kpi=kpi, unit=b, date=Q1, value=90, numerator=90, denominator=100)

    aggregates_refresh(kpi.plan, today=TODAY)

    row = aggregate(kpi, nation)
    assert (row.numerator, row.denominator) == (91, 110)
    assert row.value == pytest.approx(91 / 110 * 100)  # 82.73%
    assert row.value != pytest.approx(50)
    assert aggregate(kpi, north).value == pytest.approx(82.727, abs=1e-3)
    assert derived(kpi) == {Q1: pytest.approx(82.727, abs=1e-3)}
    stored = Measurement.objects.get(kpi=kpi, source=MeasurementSource.DERIVED)
    assert (stored.numerator, stored.denominator) == (91, 110)


def test_a_ratio_without_the_zones_denominators_takes_the_nations_value_of_the_denominator_kpi(tree):
    nation, north, _south, (a, b, c) = tree
    enterprises = KPIFactory()  # the national count, reported directly
    share = KPIFactory(goal=enterprises.goal, aggregation=Aggregation.RATIO, denominator_kpi=enterprises)
    Measurement.objects.create(kpi=enterprises, date=Q1, value=1000)
    Measurement.objects.create(kpi=share, unit=a, date=Q1, value=10, numerator=100)
    Measurement.objects.create(kpi=share, unit=b, date=Q1, value=23, numerator=230)

    aggregates_refresh(share.plan, today=TODAY)

    assert aggregate(share, nation).value == pytest.approx(33.0)  # 330 of the nation's 1,000
    assert aggregate(share, north).value == pytest.approx(33.0)
    assert (aggregate(share, nation).reported_zones, aggregate(share, nation).expected_zones) == (2, 3)


def test_a_ratio_takes_a_zones_missing_denominator_from_the_denominator_kpis_value_for_that_zone(tree):
    nation, _north, _south, (a, b, _c) = tree
    gdp = KPIFactory(aggregation=Aggregation.SUM)
    intensity = KPIFactory(goal=gdp.goal, aggregation=Aggregation.RATIO, denominator_kpi=gdp, ratio_scale=100)
    Measurement.objects.create(kpi=gdp, unit=a, date=Q1, value=200)
    Measurement.objects.create(kpi=gdp, unit=b, date=Q1, value=800)
    Measurement.objects.create(kpi=intensity, unit=a, date=Q1, value=5, numerator=10)  # 10 of its GDP of 200
    Measurement.objects.create(kpi=intensity, unit=b, date=Q1, value=2.5)  # 2.5% of 800: a numerator of 20

    aggregates_refresh(intensity.plan, today=TODAY)

    row = aggregate(intensity, nation)
    assert (row.numerator, row.denominator) == (pytest.approx(30), 1000)
    assert row.value == pytest.approx(3.0)


def test_a_mean_is_weighted_by_the_weight_kpis_zone_values(tree):
    nation, _north, south, (a, b, c) = tree
    gdp = KPIFactory(aggregation=Aggregation.SUM)
    rate = KPIFactory(goal=gdp.goal, aggregation=Aggregation.MEAN, weight_kpi=gdp)
    Measurement.objects.create(kpi=gdp, unit=a, date=Q1, value=100)
    Measurement.objects.create(kpi=gdp, unit=b, date=Q4_2024, value=300)  # no Q1 GDP yet: its latest earlier one
    Measurement.objects.create(kpi=rate, unit=a, date=Q1, value=5)
    Measurement.objects.create(kpi=rate, unit=b, date=Q1, value=10)
    Measurement.objects.create(kpi=rate, unit=c, date=Q1, value=40)  # no weight at all: left out

    aggregates_refresh(rate.plan, today=TODAY)

    assert aggregate(rate, nation).value == pytest.approx((5 * 100 + 10 * 300) / 400)  # 8.75, not 18.33
    assert aggregate(rate, nation).reported_zones == 2
    assert aggregate(rate, south).value is None


def test_growth_is_derived_from_two_sums_of_the_zones_that_reported_both_years(tree):
    nation, north, _south, (a, b, c) = tree
    gdp = KPIFactory(aggregation=Aggregation.SUM)
    growth = KPIFactory(goal=gdp.goal, aggregation=Aggregation.GROWTH, base_kpi=gdp)
    for zone, before, now in ((a, 100, 110), (b, 200, 230)):
        Measurement.objects.create(kpi=gdp, unit=zone, date=Q1_2024, value=before)
        Measurement.objects.create(kpi=gdp, unit=zone, date=Q1, value=now)
    Measurement.objects.create(kpi=gdp, unit=c, date=Q1, value=50)  # new this year: no growth to speak of

    aggregates_refresh(growth.plan, today=TODAY)

    row = aggregate(growth, nation)
    assert (row.numerator, row.denominator) == (340, 300)
    assert row.value == pytest.approx((340 / 300 - 1) * 100)  # 13.33%, the mean of 10% and 15% is 12.5%
    assert aggregate(growth, north).value == pytest.approx(row.value)
    assert (row.reported_zones, row.expected_zones) == (2, 3)
    assert derived(growth) == {Q1: pytest.approx(13.333, abs=1e-3)}


def test_coverage_counts_the_zones_an_other_zones_unit_stands_for_and_leaves_out_inactive_zones():
    nation = NationFactory()
    province = ProvinceFactory(parent=nation)
    a, b = ZoneFactory(parent=province), ZoneFactory(parent=province)
    others = ZoneFactory(parent=province, zone_count=5, name_en="Other zones")
    revoked = ZoneFactory(parent=province, active_until=datetime.date(2024, 12, 31))
    later = ZoneFactory(parent=province, active_from=datetime.date(2025, 5, 1))
    kpi = KPIFactory(aggregation=Aggregation.SUM)
    for zone, value in ((a, 100), (b, 50), (others, 250), (revoked, 100)):
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q1_2024, value=value)
    for zone, value in ((a, 120), (others, 260), (revoked, 999), (later, 7)):
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q1, value=value)

    aggregates_refresh(kpi.plan, today=TODAY)

    row = aggregate(kpi, nation)
    assert row.value == 380  # neither the revoked zone nor the one designated in May counts for Q1
    assert (row.reported_zones, row.expected_zones) == (6, 7)  # "6 of 7 zones"
    assert row.weight_coverage == pytest.approx(350 / 400)  # the share of last year's Q1 of the expected zones
    assert aggregate(kpi, nation, Q1_2024).expected_zones == 8


def test_a_directly_reported_national_value_wins_by_default_and_the_gap_is_kept(tree):
    nation, _north, _south, (a, b, c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM, baseline_value=50, target_value=70)
    for zone, value in ((a, 10), (b, 20), (c, 30)):
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q1, value=value)
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q2, value=value + 2)
    Measurement.objects.create(kpi=kpi, date=Q1, value=62)  # the statistics bureau's figure

    plan_recompute(plan_id=kpi.plan_id)

    assert (aggregate(kpi, nation).value, aggregate(kpi, nation).reported_value) == (60, 62)
    assert derived(kpi) == {Q2: 66}  # Q1's national figure is the reported one; Q2 has only the derived
    kpi.refresh_from_db()
    assert (kpi.latest_date, kpi.latest_value) == (Q2, 66)
    assert kpi.explanation["inputs"]["points"]["count"] == 2


def test_a_kpi_whose_derived_value_counts_reads_it_over_a_reported_one_of_the_same_date(
    tree, django_capture_on_commit_callbacks
):
    nation, _north, _south, (a, b, c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM, national_source=NationalSource.DERIVED)
    for zone, value in ((a, 10), (b, 20), (c, 30)):
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q1, value=value)
    Measurement.objects.create(kpi=kpi, date=Q1, value=62)
    plan_recompute(plan_id=kpi.plan_id)
    kpi.refresh_from_db()
    assert (kpi.latest_value, aggregate(kpi, nation).reported_value) == (60, 62)

    # A newer reported figure of the same date does not take over: the derived one is recorded after it.
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_record(kpi=kpi, date=Q1, value=64, note="bureau revision")
    kpi.refresh_from_db()
    assert (kpi.latest_value, aggregate(kpi, nation).reported_value) == (60, 64)
    assert derived(kpi) == {Q1: 60}


def test_derived_rows_are_rewritten_only_when_their_value_changes_and_deleted_when_stale(tree):
    _nation, _north, _south, (a, b, _c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM)
    Measurement.objects.create(kpi=kpi, unit=a, date=Q1, value=10)
    second = Measurement.objects.create(kpi=kpi, unit=b, date=Q2, value=20)
    aggregates_refresh(kpi.plan, today=TODAY)
    first = Measurement.objects.get(kpi=kpi, source=MeasurementSource.DERIVED, date=Q1)

    with CaptureQueriesContext(connection) as queries:
        aggregates_refresh(kpi.plan, today=TODAY)
    assert not [q["sql"] for q in queries if not q["sql"].startswith(("SELECT", "(SELECT"))]  # nothing written
    again = Measurement.objects.get(pk=first.pk)
    assert (again.version, again.updated_at, again.recorded_at) == (first.version, first.updated_at, first.recorded_at)

    Measurement.objects.filter(kpi=kpi, unit=a).update(value=11)
    second.delete()
    aggregates_refresh(kpi.plan, today=TODAY)
    assert derived(kpi) == {Q1: 11}
    assert Measurement.objects.get(pk=first.pk).version == first.version + 1
    assert Tombstone.objects.filter(resource="measurements", source=MeasurementSource.DERIVED).count() == 1
    assert not UnitAggregate.objects.filter(kpi=kpi, period_end=Q2).exists()


def test_a_kpi_that_stops_aggregating_loses_what_was_derived_for_it(tree):
    _nation, _north, _south, (a, _b, _c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM)
    Measurement.objects.create(kpi=kpi, unit=a, date=Q1, value=10)
    plan_recompute(plan_id=kpi.plan_id)
    assert derived(kpi) and UnitStatus.objects.filter(kpi=kpi).exists()

    KPI.objects.filter(pk=kpi.pk).update(aggregation=Aggregation.NONE)
    plan_recompute(plan_id=kpi.plan_id)

    assert not derived(kpi)
    assert not UnitAggregate.objects.filter(kpi=kpi).exists() and not UnitStatus.objects.filter(kpi=kpi).exists()
    assert KPI.objects.get(pk=kpi.pk).status == "no_data"


def test_a_write_to_a_kpi_that_stopped_aggregating_forgets_what_was_derived_for_it(tree):
    """A write's refresh (given its KPIs) reads, of the KPIs that do not aggregate, those that keep something
    derived: the one that stopped aggregating is among them, its written neighbour is not needed."""
    _nation, _north, _south, (a, _b, _c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM)
    neighbour = KPIFactory(plan=kpi.plan, goal=kpi.goal)
    Measurement.objects.create(kpi=kpi, unit=a, date=Q1, value=10)
    aggregates_refresh(kpi.plan, kpi_ids=[kpi.pk])
    assert derived(kpi) and UnitStatus.objects.filter(kpi=kpi).exists()

    KPI.objects.filter(pk=kpi.pk).update(aggregation=Aggregation.NONE)
    assert set(aggregation._kpis(kpi.plan, [kpi.pk, neighbour.pk])) == {kpi.pk}  # the neighbour is not read
    assert aggregates_refresh(kpi.plan, kpi_ids=[kpi.pk, neighbour.pk]) == {kpi.pk, neighbour.pk}

    assert not derived(kpi)
    assert not UnitAggregate.objects.filter(kpi=kpi).exists() and not UnitStatus.objects.filter(kpi=kpi).exists()


def test_unit_statuses_use_the_units_target_else_the_national_one_scaled_by_its_baseline_share(tree):
    nation, north, south, (a, b, c) = tree
    kpi = KPIFactory(aggregation=Aggregation.SUM, baseline_value=100, target_value=120)
    for zone, before, now in ((a, 25, 40), (b, 25, 26), (c, 50, 60)):
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q4_2024, value=before)
        Measurement.objects.create(kpi=kpi, unit=zone, date=Q2, value=now)
    UnitTarget.objects.create(kpi=kpi, unit=c, baseline_value=50, target_value=70)

    aggregates_refresh(kpi.plan, today=TODAY)

    statuses = {s.unit_id: s for s in UnitStatus.objects.filter(kpi=kpi)}
    assert set(statuses) == {a.pk, b.pk, c.pk, north.pk, south.pk}  # the nation's status is the KPI's own
    unit_a = statuses[a.pk].explanation
    assert unit_a["unit"]["rule"] == "scaled" and unit_a["unit"]["share"] == pytest.approx(0.25)
    assert (unit_a["inputs"]["baseline_value"], unit_a["inputs"]["target_value"]) == (25, 30)
    assert statuses[a.pk].status == "achieved"  # 40 against its share of the target, 30
    assert statuses[b.pk].status in ("at_risk", "off_track")
    assert statuses[c.pk].explanation["unit"]["rule"] == "unit_target"
    assert statuses[c.pk].explanation["inputs"]["target_value"] == 70
    assert statuses[north.pk].latest_value == 66  # the province's own series: its aggregates
    assert statuses[north.pk].explanation["unit"]["share"] == pytest.approx(0.5)
    why = explain(statuses[a.pk].explanation).sentences
    assert why[0] == (
        "This unit is judged against the national baseline 100 and target 120 scaled by its share of the "
        "national figure in the period ending 2024-12-31, 25%: a baseline of 25 and a target of 30."
    )
    assert "its own baseline, 50, and target, 70" in explain(statuses[c.pk].explanation).sentences[0]


def test_a_rate_holds_every_unit_to_the_national_target(tree):
    _nation, _north, _south, (a, _b, _c) = tree
    kpi = KPIFactory(aggregation=Aggregation.RATIO, baseline_value=30, target_value=40)
    Measurement.objects.create(kpi=kpi, unit=a, date=Q2, value=41, numerator=41, denominator=100)

    aggregates_refresh(kpi.plan, today=TODAY)

    status = UnitStatus.objects.get(kpi=kpi, unit=a)
    assert status.explanation["unit"]["rule"] == "national"
    assert (status.status, status.explanation["inputs"]["target_value"]) == ("achieved", 40)


def national_state(plan: Plan) -> dict:
    """What a zone's write can change: the KPIs' statuses and snapshots, and everything derived."""
    state = {
        ("kpi", row.pop("pk")): row
        for row in KPI.objects.filter(plan=plan).values(
            "pk", "status", "score", "progress", "latest_value", "latest_date", "forecast_value", "explanation"
        )
    }
    state["snapshots"] = sorted(
        StatusSnapshot.objects.filter(plan=plan, item_type=ItemType.KPI).values_list(
            "item_id", "as_of", "status", "score"
        )
    )
    state["derived"] = sorted(
        Measurement.objects.filter(kpi__plan=plan, source=MeasurementSource.DERIVED).values_list(
            "kpi_id", "date", "value"
        )
    )
    state["aggregates"] = sorted(
        UnitAggregate.objects.filter(kpi__plan=plan).values_list(
            "kpi_id", "unit_id", "period_end", "value", "reported_zones", "expected_zones", "weight_coverage"
        )
    )
    state["unit_statuses"] = sorted(
        UnitStatus.objects.filter(kpi__plan=plan).values_list("kpi_id", "unit_id", "status", "score", "latest_value")
    )
    return state


@pytest.mark.django_db(transaction=True)
def test_a_zones_write_moves_the_national_status_in_process_as_the_whole_plan_recompute_does(tree):
    # Real commits: each write's incremental update runs once it commits, as in production.
    nation, _north, _south, (a, b, c) = tree
    gdp = KPIFactory(aggregation=Aggregation.SUM, baseline_value=60, target_value=80)
    growth = KPIFactory(goal=gdp.goal, aggregation=Aggregation.GROWTH, base_kpi=gdp, baseline_value=5, target_value=8)
    for zone, before, now in ((a, 10, 11), (b, 20, 21), (c, 30, 31)):
        Measurement.objects.create(kpi=gdp, unit=zone, date=Q1_2024, value=before)
        Measurement.objects.create(kpi=gdp, unit=zone, date=Q1, value=now)
    plan_recompute(plan_id=gdp.plan_id)
    gdp.refresh_from_db()
    assert (gdp.latest_value, gdp.status) == (63, "at_risk")  # 63 of 80, the final figure overdue

    zone_write(gdp, a, Q2, 40)
    zone_write(gdp, b, Q2, 25)
    plan = Plan.objects.get(pk=gdp.plan_id)
    assert plan.computed_revision == plan.data_revision  # the incremental path applied, no fallback
    gdp.refresh_from_db()
    assert (gdp.latest_date, gdp.latest_value, gdp.status) == (Q2, 65, "off_track")  # the fit now heads for 70
    assert aggregate(gdp, nation, Q2).reported_zones == 2
    zone_write(gdp, c, datetime.date(2025, 12, 31), 95)
    gdp.refresh_from_db()
    assert (gdp.latest_value, gdp.status) == (95, "achieved")
    # The growth KPI draws on the GDP figures: the zone's write refreshed it too.
    assert KPI.objects.get(pk=growth.pk).latest_value == pytest.approx((63 / 60 - 1) * 100)
    incremental = national_state(plan)

    plan_recompute(plan_id=plan.pk, backfill=True)

    assert national_state(plan) == incremental


def zoned_plan(zones: int) -> Plan:
    nation = NationFactory()
    provinces = [ProvinceFactory(parent=nation) for _ in range(3)]
    gdp = KPIFactory(aggregation=Aggregation.SUM)
    kinds = [
        KPIFactory(goal=gdp.goal, aggregation=Aggregation.RATIO, denominator_kpi=gdp),
        KPIFactory(goal=gdp.goal, aggregation=Aggregation.MEAN, weight_kpi=gdp),
        KPIFactory(goal=gdp.goal, aggregation=Aggregation.GROWTH, base_kpi=gdp),
    ]
    UnitTarget.objects.create(kpi=gdp, unit=provinces[0], baseline_value=10, target_value=20)
    rows = []
    for index in range(zones):
        zone = ZoneFactory(parent=provinces[index % 3])
        for date in (Q1_2024, Q1, Q2):
            rows.append(Measurement(kpi=gdp, unit=zone, date=date, value=100 + index))
            rows += [Measurement(kpi=k, unit=zone, date=date, value=5, numerator=5) for k in kinds[:2]]
    Measurement.objects.bulk_create(rows)
    return gdp.plan


def refresh_queries(plan: Plan) -> int:
    with CaptureQueriesContext(connection) as queries:
        aggregates_refresh(plan, today=TODAY)
    return len(queries)


def test_the_refresh_costs_the_same_queries_for_5_and_50_zones():
    small, large = zoned_plan(5), zoned_plan(50)
    first = refresh_queries(small), refresh_queries(large)
    assert first[0] == first[1] <= 16
    # Four KPIs: each zone's status (growth's from its GDP), each of the three provinces'.
    assert UnitStatus.objects.filter(kpi__plan=small).count() == 4 * (5 + 3)
    assert UnitStatus.objects.filter(kpi__plan=large).count() == 4 * (50 + 3)
    Measurement.objects.filter(kpi__plan__in=[small, large], unit__isnull=False, date=Q2).update(value=7)
    again = refresh_queries(small), refresh_queries(large)
    assert again[0] == again[1] <= 16


def test_a_plan_without_aggregating_kpis_costs_the_refresh_one_query():
    kpi = KPIFactory()
    Measurement.objects.create(kpi=kpi, date=Q1, value=70)
    assert refresh_queries(kpi.plan) == 1
    with CaptureQueriesContext(connection) as queries:
        aggregates_refresh(kpi.plan, kpi_ids=set())
    assert not queries


@pytest.mark.django_db(transaction=True)
def test_the_recomputes_series_read_uses_the_national_partial_index(requires_postgres):
    # One plan among others, national rows and zone rows side by side, vacuumed and analysed as in production.
    zone = ZoneFactory()
    plan = KPIFactory().plan
    other = KPIFactory().goal
    kpis = list(KPI.objects.filter(plan=plan)) + [KPIFactory(goal=other) for _ in range(60)]
    days = [Q4_2024 + datetime.timedelta(days=d) for d in range(1, 101)]
    Measurement.objects.bulk_create(
        [Measurement(kpi=kpi, date=day, value=1, unit=unit) for kpi in kpis for day in days for unit in (None, zone)]
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE plans_measurement")
        cursor.execute("ANALYZE plans_kpi")
    with CaptureQueriesContext(connection) as queries:
        plan_recompute(plan_id=plan.pk)
    # The KPIs with their packed series (recompute.SERIES_SQL), read through a server-side cursor
    # ("DECLARE ... CURSOR FOR SELECT ...").
    series = [q["sql"] for q in queries if "FROM plans_measurement m" in q["sql"]]
    assert len(series) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + series[0][series[0].index("SELECT") :])
        explained = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using plans_measurement_series" in explained, explained


ZONE_KINDS = st.sampled_from(["zone", "zone", "zone", "national", "unzone"])
zone_ops = st.lists(
    st.tuples(ZONE_KINDS, st.integers(0, 3), st.integers(0, 3), st.integers(0, 11), st.integers(1, 90)),
    min_size=1,
    max_size=6,
)


def zone_op(kpis: list[KPI], zones: list, op: tuple) -> None:
    """One write as a zone reporter or the statistics bureau makes it (each commits)."""
    kind, kpi_index, zone_index, month, number = op
    kpi, zone = kpis[kpi_index % len(kpis)], zones[zone_index % len(zones)]
    day = month_end(datetime.date(2025, month + 1, 1))
    if kind == "zone":
        zone_write(kpi, zone, day, number, **({"numerator": number} if kpi.aggregation == Aggregation.RATIO else {}))
    elif kind == "national":
        services.measurement_record(kpi=kpi, date=day, value=number, note="bureau")
    else:
        row = Measurement.objects.filter(kpi=kpi, unit=zone).order_by("date").first()
        if row:
            with transaction.atomic():
                row.delete()
                services.plan_mark_changed(plan_id=kpi.plan_id, changes=Changes.measured([kpi.pk], row.date))


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=12,
    print_blob=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sources=st.lists(st.sampled_from(list(NationalSource)), min_size=4, max_size=4), writes=zone_ops)
def test_zone_writes_applied_in_process_equal_a_whole_plan_recompute(sources, writes):
    nation = NationFactory()
    zones = [ZoneFactory(parent=ProvinceFactory(parent=nation)) for _ in range(3)]
    gdp = KPIFactory(aggregation=Aggregation.SUM, national_source=sources[0], frequency="quarterly")
    goal = gdp.goal
    kpis = [
        gdp,
        KPIFactory(goal=goal, aggregation=Aggregation.RATIO, denominator_kpi=gdp, national_source=sources[1]),
        KPIFactory(goal=goal, aggregation=Aggregation.MEAN, weight_kpi=gdp, national_source=sources[2]),
        KPIFactory(goal=goal, aggregation=Aggregation.GROWTH, base_kpi=gdp, national_source=sources[3]),
    ]
    for zone in zones:
        Measurement.objects.create(kpi=gdp, unit=zone, date=Q1_2024, value=20)
    plan_recompute(plan_id=gdp.plan_id)
    for op in writes:
        zone_op(kpis, zones, op)
    plan = Plan.objects.get(pk=gdp.plan_id)
    assert plan.computed_revision == plan.data_revision
    incremental = national_state(plan)

    plan_recompute(plan_id=plan.pk, backfill=True)

    assert national_state(plan) == incremental


@pytest.mark.postgres
def test_a_writes_aggregates_read_finds_the_aggregating_kpis_by_index_not_by_reading_the_plan(requires_postgres):
    """Every write's refresh reads the plan's aggregating KPIs: through the partial index, PostgreSQL reads those
    and the written KPI's row, however many KPIs the plan holds (a bitmap scan of the plan read every row)."""
    kpi = KPIFactory()
    for _ in range(30):
        KPIFactory(goal=kpi.goal)
    with CaptureQueriesContext(connection) as queries:
        aggregates_refresh(kpi.plan, kpi_ids={kpi.pk}, today=TODAY)
    captured = [q["sql"] for q in queries if 'FROM "plans_kpi"' in q["sql"]]
    assert len(captured) == 1
    with transaction.atomic(), connection.cursor() as cursor:
        # A test plan is tiny: PostgreSQL would read it whole whatever the indexes. Made to use them, it shows
        # which reach the rows: the partial index and the primary key, or only the plan's index (every row).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("ANALYZE plans_kpi")  # all 31 rows in the one plan, none aggregating
        cursor.execute(f"EXPLAIN {captured[0]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "plans_kpi_aggregating" in plan and "plans_kpi_pkey" in plan, plan
