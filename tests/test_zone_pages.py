"""The zone pages: a KPI's breakdown by province and zone (numbers, sort, coverage, non-reporters, ranking,
exports), the zone and province pages, the zones index, the dashboard's heat map, the scoping of zone
reporters, and query counts that do not grow with the number of zones.

The aggregation engine (plans.aggregation) is not run here: the derived rows it writes (UnitAggregate,
UnitStatus) are created directly, beside the zones' own measurements.
"""

import csv
import datetime
import html
import io
import re
from dataclasses import dataclass, field

import openpyxl
import pytest
from django.urls import reverse

from plans import breakdowns
from plans.choices import Aggregation, ItemType, MeasurementSource, NationalSource, Status
from plans.models import KPI, UnitAggregate, UnitStatus
from tests.factories import (
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    NationFactory,
    PlanFactory,
    ProvinceFactory,
    StatusSnapshotFactory,
    UserFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db

Q3 = datetime.date(2025, 9, 30)
Q2 = datetime.date(2025, 6, 30)
YEAR_EARLIER = datetime.date(2024, 9, 30)
STATUSES = [Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK, Status.ACHIEVED]


@dataclass
class Zones:
    plan: object
    kpi: object
    employees: object
    nation: object
    provinces: list
    zones: list
    silent: object  # the zone that has not reported Q3
    values: dict = field(default_factory=dict)  # zone code -> Q3 value


def build_zones(n: int = 5, *, aggregation: str = Aggregation.SUM) -> Zones:
    """A plan with a GDP KPI summed over ``n`` zones in two provinces (the last zone silent in Q3), employees as
    its comparison denominator, the aggregates of Q3, Q2 and a year earlier, and a status per zone."""
    plan = PlanFactory(slug=f"zones-{n}", name="Zones plan")
    goal = GoalFactory(focus_area__plan=plan, code="G1")
    employees = KPIFactory(goal=goal, code="EMP", name="Employees", unit="people", aggregation=Aggregation.SUM)
    kpi = KPIFactory(
        goal=goal,
        code="GDP",
        name="GDP",
        unit="trillion yuan",
        aggregation=aggregation,
        comparison_kpi=employees,
        comparison_scale=10000,
    )
    nation = NationFactory()
    provinces = [
        ProvinceFactory(code="PA", name_en="Anhui", order=1),
        ProvinceFactory(code="PB", name_en="Beijing", order=2),
    ]
    zones, values = [], {}
    for i in range(n):
        zone = ZoneFactory(code=f"Z{i:02}", name_en=f"Zone {i:02}", parent=provinces[i % 2], order=i)
        zones.append(zone)
        UnitStatus.objects.create(kpi=kpi, unit=zone, status=STATUSES[i % len(STATUSES)])
        MeasurementFactory(kpi=kpi, unit=zone, date=YEAR_EARLIER, value=float(i + 1))
        MeasurementFactory(kpi=kpi, unit=zone, date=Q2, value=float(i + 1) * 1.5)
        if i < n - 1:
            values[zone.code] = float(i + 1) * 2
            MeasurementFactory(kpi=kpi, unit=zone, date=Q3, value=values[zone.code], numerator=float(i + 1))
            MeasurementFactory(kpi=employees, unit=zone, date=Q3, value=1000.0 * (i + 1))
    total = sum(values.values())
    for day, value in ((Q3, total), (Q2, total * 0.75), (YEAR_EARLIER, total / 2)):
        UnitAggregate.objects.create(
            kpi=kpi,
            unit=nation,
            period_end=day,
            value=value,
            numerator=sum(range(1, n)),
            reported_zones=n - 1,
            expected_zones=n,
            weight_coverage=0.96,
        )
    for province in provinces:
        own = [v for z, v in values.items() if zones[int(z[1:])].parent_id == province.pk]
        expected = sum(1 for zone in zones if zone.parent_id == province.pk)
        UnitAggregate.objects.create(
            kpi=kpi, unit=province, period_end=Q3, value=sum(own), reported_zones=len(own), expected_zones=expected
        )
        UnitAggregate.objects.create(kpi=kpi, unit=province, period_end=YEAR_EARLIER, value=sum(own) / 2)
        UnitStatus.objects.create(kpi=kpi, unit=province, status=Status.AT_RISK)
    return Zones(plan, kpi, employees, nation, provinces, zones, zones[-1], values)


def kpi_url(z: Zones, query: str = "") -> str:
    return reverse("plans:dashboard_kpi", args=[z.plan.slug, z.kpi.code]) + query


def export_url(z: Zones, fmt: str, query: str = "") -> str:
    return reverse("plans:kpi_breakdown_export", args=[z.plan.slug, z.kpi.code, fmt]) + query


def text_of(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def zone_order(html: str, codes) -> list[str]:
    """The zone names in the order the breakdown table shows them."""
    table = html.split('class="data breakdown-table"')[1].split("</table>")[0]
    return re.findall(r'zone-name"><a href="/zones/(Z\d+)/"', table)


@pytest.fixture
def signed_in(client, manager):
    client.force_login(manager)
    return client


# --- the breakdown's numbers -----------------------------------------------------------------------------------


def test_breakdown_gives_each_zone_its_value_change_a_year_earlier_share_and_per_unit_value():
    z = build_zones(5)
    result = breakdowns.kpi_breakdown(z.kpi)
    assert result.period == Q3
    assert result.compared_to == YEAR_EARLIER  # the same quarter a year earlier exists: preferred to Q2
    rows = {row.unit.code: row for row in result.zones}
    zone = rows["Z02"]  # value 6, a year earlier 3, 3000 employees; national sum 2 + 4 + 6 + 8 = 20
    assert zone.value == 6.0
    assert zone.change == 3.0
    assert zone.change_share == pytest.approx(1.0)
    assert zone.share == pytest.approx(6.0 / 20.0)
    assert zone.per_unit == pytest.approx(6.0 / 3000.0 * 10000)
    assert zone.status == Status.OFF_TRACK
    provinces = {row.unit.code: row for row in result.provinces}
    assert provinces["PA"].value == 2.0 + 6.0  # zones 0 and 2 (zone 4 is silent)
    assert provinces["PA"].change == pytest.approx(4.0)
    assert [zone.unit.code for zone in provinces["PB"].zones] == ["Z03", "Z01"]  # largest first by default
    assert (result.nation.value, result.nation.change, result.nation.share) == (20.0, 10.0, 1.0)


def test_breakdown_compares_with_the_previous_period_when_there_is_no_year_earlier():
    z = build_zones(3)
    UnitAggregate.objects.filter(period_end=YEAR_EARLIER).delete()
    result = breakdowns.kpi_breakdown(z.kpi)
    assert result.compared_to == Q2
    assert {row.unit.code: row.change for row in result.zones}["Z01"] == pytest.approx(4.0 - 3.0)


def test_ratio_share_is_the_zone_numerator_over_the_national_numerator_not_its_ratio_over_the_national_ratio():
    z = build_zones(3, aggregation=Aggregation.RATIO)
    rows = {row.unit.code: row for row in breakdowns.kpi_breakdown(z.kpi).zones}
    assert rows["Z01"].share == pytest.approx(2.0 / 3.0)  # numerators 1 and 2 reported
    assert rows["Z00"].share == pytest.approx(1.0 / 3.0)


def test_a_value_dated_within_the_period_counts_for_it_as_the_aggregation_reads_it():
    z = build_zones(3)
    MeasurementFactory(kpi=z.kpi, unit=z.silent, date=datetime.date(2025, 8, 15), value=9.0)
    result = breakdowns.kpi_breakdown(z.kpi)
    assert {row.unit.code: row.value for row in result.zones}[z.silent.code] == 9.0
    assert result.missing == []
    MeasurementFactory(kpi=z.kpi, unit=z.silent, date=datetime.date(2025, 9, 1), value=10.0)
    assert {row.unit.code: row.value for row in breakdowns.kpi_breakdown(z.kpi).zones}[z.silent.code] == 10.0


def test_a_zone_that_closed_during_the_period_is_still_expected_in_it():
    z = build_zones(3)
    z.silent.active_until = datetime.date(2025, 8, 31)
    z.silent.save()
    assert breakdowns.kpi_breakdown(z.kpi).missing == [z.silent]
    z.silent.active_until = datetime.date(2025, 6, 30)
    z.silent.save()
    assert breakdowns.kpi_breakdown(z.kpi).missing == []


def test_a_growth_kpi_gives_each_zone_the_growth_of_its_own_base_figures(signed_in):
    z = build_zones(3)
    growth = KPIFactory(
        goal=z.kpi.goal, code="GROWTH", name="GDP growth", aggregation=Aggregation.GROWTH, base_kpi=z.kpi
    )
    UnitAggregate.objects.create(
        kpi=growth, unit=z.nation, period_end=Q3, value=100.0, reported_zones=2, expected_zones=3
    )
    UnitStatus.objects.create(kpi=growth, unit=z.zones[1], status=Status.ON_TRACK, latest_value=100.0, latest_date=Q3)
    result = breakdowns.kpi_breakdown(growth)
    rows = {row.unit.code: row for row in result.zones}
    assert rows["Z01"].value == pytest.approx((4.0 / 2.0 - 1) * 100)  # GDP 4 in Q3 2025 against 2 a year earlier
    assert rows["Z00"].value == pytest.approx(100.0)
    assert result.missing == [z.silent]  # it reported no GDP for Q3: no growth either
    assert not result.has_share
    page = text_of(signed_in.get(reverse("plans:zone", args=["Z01"])))
    assert "GROWTH GDP growth 100 % for 2025-09-30 2025 Q3 On track" in page
    assert "GDP growth" not in page.split("Not reported for the latest period")[1].split("KPIs of Zones plan")[0]


def test_a_past_as_of_date_shows_the_latest_period_on_or_before_it():
    z = build_zones(3)
    result = breakdowns.kpi_breakdown(z.kpi, as_of=datetime.date(2025, 7, 31))
    assert result.period == Q2
    assert {row.unit.code: row.value for row in result.zones}["Z01"] == 3.0


def test_rows_without_the_sorted_value_stay_last_in_both_directions():
    z = build_zones(5)
    for sort in ("value", "-value"):
        result = breakdowns.kpi_breakdown(z.kpi, sort=sort)
        anhui = next(p for p in result.provinces if p.unit.code == "PA")
        assert [row.unit.code for row in anhui.zones][-1] == z.silent.code, sort


# --- the KPI page ----------------------------------------------------------------------------------------------


def test_kpi_page_says_the_national_figure_with_its_coverage_in_one_sentence(signed_in):
    z = build_zones(5)
    UnitAggregate.objects.filter(unit=z.nation, period_end=Q3).update(
        value=19.9, reported_zones=162, expected_zones=178, weight_coverage=0.96
    )
    page = text_of(signed_in.get(kpi_url(z)))
    assert "GDP 2025 Q3: 19.9 trillion yuan from 162 of 178 zones (96% of last year's weight)" in page
    assert "sum of the zones' figures" in page
    assert "China (derived) 162 of 178 zones 19.9" in page  # the table's total row


def test_coverage_sentence_says_when_the_zones_reported_but_no_national_figure_could_be_derived():
    z = build_zones(3, aggregation=Aggregation.RATIO)
    UnitAggregate.objects.filter(unit=z.nation, period_end=Q3).update(value=None)
    result = breakdowns.kpi_breakdown(z.kpi)
    assert result.coverage == (
        "GDP 2025 Q3: 2 of 3 zones reported, but no national figure could be derived from them "
        "(a denominator or weight is missing)."
    )
    assert result.has_share  # a ratio's shares are of the numerators, which are in


def test_the_heading_says_when_every_expected_zone_has_reported(signed_in):
    z = build_zones(3)
    MeasurementFactory(kpi=z.kpi, unit=z.silent, date=Q3, value=1.0)
    assert "Every expected zone has reported 2025 Q3" in text_of(signed_in.get(kpi_url(z)))


def test_kpi_page_shows_the_gap_to_a_directly_reported_national_value_and_which_counts(signed_in):
    z = build_zones(5)  # derived 20
    MeasurementFactory(kpi=z.kpi, date=Q3, value=21.0, source=MeasurementSource.IMPORT)
    page = text_of(signed_in.get(kpi_url(z)))
    assert (
        "Reported directly for the nation: 21 trillion yuan; the zones' figures add up to 1 trillion yuan (5%) less."
        in page
    )
    assert "The status uses the reported figure." in page
    z.kpi.national_source = NationalSource.DERIVED
    z.kpi.save()
    assert "The status uses the derived figure." in text_of(signed_in.get(kpi_url(z, "?sort=name")))


def test_kpi_page_lists_the_zones_that_have_not_reported_the_latest_period(signed_in):
    z = build_zones(5)
    ZoneFactory(code="ZNEW", name_en="Designated later", parent=z.provinces[0], active_from=datetime.date(2025, 11, 1))
    html = signed_in.get(kpi_url(z)).content.decode()
    missing = html.split('class="missing-zones"')[1].split("</ul>")[0]
    assert "Zone 04" in missing
    assert "Zone 00" not in missing
    assert "Designated later" not in html  # not expected before its designation
    assert "1 zone has not reported 2025 Q3" in text_of(signed_in.get(kpi_url(z, "?sort=name")))
    z.silent.zone_count = 12  # an "other zones" unit: it stands for twelve
    z.silent.save()
    assert "12 zones have not reported 2025 Q3" in text_of(signed_in.get(kpi_url(z, "?sort=-name")))


def test_kpi_page_sorts_zones_by_the_chosen_column_with_links_that_need_no_script(signed_in):
    z = build_zones(5)
    html = signed_in.get(kpi_url(z, "?sort=value")).content.decode()
    assert zone_order(html, z.values) == ["Z00", "Z02", "Z04", "Z01", "Z03"]  # Anhui (8) before Beijing (12)
    html = signed_in.get(kpi_url(z, "?sort=-value")).content.decode()
    assert zone_order(html, z.values) == ["Z03", "Z01", "Z02", "Z00", "Z04"]
    assert 'aria-sort="descending"' in html
    assert 'href="?sort=value#breakdown"' in html  # the active column's link turns the order round
    html = signed_in.get(kpi_url(z, "?sort=status")).content.decode()
    # Worst first: off track (Z02), at risk (Z01), on track (Z00, Z04), achieved (Z03).
    assert zone_order(html, z.values) == ["Z02", "Z00", "Z04", "Z01", "Z03"]


def test_kpi_page_ranks_the_zones_in_an_svg_chart_with_a_table_alternative(signed_in):
    z = build_zones(5)
    html = signed_in.get(kpi_url(z)).content.decode()
    chart = html.split('<svg class="ranking-chart"')[1].split("</svg>")[0]
    assert re.findall(r'class="ranking-label"[^>]*>([^<]+)<', chart) == ["Zone 03", "Zone 02", "Zone 01", "Zone 00"]
    assert 'role="img"' in html.split("<svg")[1].split(">")[0]
    ranking = html.split('class="ranking-table"')[1]
    assert re.findall(r'<th scope="row">([^<]+)</th>', ranking)[:4] == ["Zone 03", "Zone 02", "Zone 01", "Zone 00"]


def test_a_unit_standing_for_many_zones_is_named_apart_from_the_ranking(signed_in):
    z = build_zones(5)
    z.zones[3].zone_count = 162
    z.zones[3].save()
    chart = breakdowns.kpi_breakdown(z.kpi).ranking
    assert [bar["label"] for bar in chart["bars"]] == ["Zone 02", "Zone 01", "Zone 00"]
    assert "Zone 03 is not ranked: it stands for 162 zones." in text_of(signed_in.get(kpi_url(z)))


def test_a_kpi_reported_nationally_has_no_zone_section(signed_in):
    z = build_zones(3)
    response = signed_in.get(reverse("plans:dashboard_kpi", args=[z.plan.slug, z.employees.code]))
    assert 'id="breakdown"' in response.content.decode()  # employees are summed too
    national = KPIFactory(goal=z.kpi.goal, code="NAT", aggregation=Aggregation.NONE)
    response = signed_in.get(reverse("plans:dashboard_kpi", args=[z.plan.slug, national.code]))
    assert 'id="breakdown"' not in response.content.decode()


# --- exports ---------------------------------------------------------------------------------------------------


def test_breakdown_csv_holds_the_nation_provinces_and_zones_in_the_page_order(signed_in):
    z = build_zones(5)
    KPI.objects.filter(pk=z.kpi.pk).update(decimals=1)  # values to one decimal, per-unit figures to two
    response = signed_in.get(export_url(z, "csv", "?sort=name"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    meta = {row[0]: row[1] for row in rows if len(row) == 2}
    assert meta["KPI"] == "GDP GDP"
    assert meta["Coverage"].startswith("GDP 2025 Q3: 20 trillion yuan from 4 of 5 zones")
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "Level")
    body = rows[header_at + 1 :]
    assert [row[0] for row in body[:3]] == ["Nation", "Province", "Zone"]
    assert body[0][8] == "20.0"
    zone = next(row for row in body if row[4] == "Z02")
    assert zone[5:11] == ["Zone 02", "", "2025-09-30", "6.0", "trillion yuan", ""]
    assert zone[11:16] == ["3.0", "3.0", "100.0", "30.0", "20.00"]
    assert zone[18] == "Off track" and zone[19] == "yes"
    assert next(row for row in body if row[4] == "Z04")[19] == "no"


def test_breakdown_xlsx_reads_back_with_typed_numbers(signed_in):
    z = build_zones(5)
    response = signed_in.get(export_url(z, "xlsx"))
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "Level")
    body = rows[header_at + 1 :]
    assert body[0][0] == "Nation" and body[0][8] == 20.0
    zone = next(row for row in body if row[4] == "Z03")
    assert (zone[8], zone[11], zone[14]) == (8.0, 4.0, 40.0)
    assert sum(1 for row in body if row[0] == "Zone") == 5


def test_export_of_a_nationally_reported_kpi_is_not_found(signed_in):
    z = build_zones(2)
    national = KPIFactory(goal=z.kpi.goal, code="NAT", aggregation=Aggregation.NONE)
    url = reverse("plans:kpi_breakdown_export", args=[z.plan.slug, national.code, "csv"])
    assert signed_in.get(url).status_code == 404


# --- zone, province and index pages ---------------------------------------------------------------------------


def test_zone_page_shows_its_kpis_latest_values_statuses_province_and_what_it_has_not_reported(signed_in):
    z = build_zones(5)
    UnitStatus.objects.filter(unit=z.silent, kpi=z.kpi).update(
        explanation={"kind": "kpi", "summary": "Zone four is behind its trajectory."}
    )
    page = text_of(signed_in.get(reverse("plans:zone", args=[z.silent.code])))
    assert "Anhui" in page
    assert "Not reported for the latest period" in page
    missing = page.split("Not reported for the latest period")[1].split("KPIs of")[0]
    assert "GDP" in missing and "2025 Q3" in missing
    assert "7.5 trillion yuan for 2025-06-30" in page  # its latest figure: Q2
    assert "Zone four is behind its trajectory." in page  # its status explained
    assert "On track" in page
    reported = text_of(signed_in.get(reverse("plans:zone", args=[z.zones[1].code])))
    assert "Every KPI has its figure for the latest period." in reported
    assert "4 trillion yuan for 2025-09-30" in reported


def test_province_page_lists_its_zones_and_its_derived_values(signed_in):
    build_zones(5)
    page = text_of(signed_in.get(reverse("plans:zone", args=["PA"])))
    assert "Zones of this province" in page
    assert all(name in page for name in ("Zone 00", "Zone 02", "Zone 04"))
    assert "Zone 01" not in page
    assert "8 trillion yuan for 2025-09-30" in page
    assert "At risk" in page


def test_zones_index_groups_zones_by_province(signed_in):
    build_zones(4)
    page = text_of(signed_in.get(reverse("plans:zones")))
    assert re.search(r"Anhui 2 zones Zone 00 Z00 Zone 02 Z02 .*Beijing 2 zones Zone 01 Z01 Zone 03 Z03", page)


def test_an_unknown_unit_and_the_nation_have_no_page(signed_in):
    build_zones(2)
    assert signed_in.get(reverse("plans:zone", args=["NOPE"])).status_code == 404
    assert signed_in.get(reverse("plans:zone", args=["CN"])).status_code == 404


# --- the heat map ----------------------------------------------------------------------------------------------


def test_heat_map_shows_each_zone_status_in_words_with_coverage_per_kpi_and_rows_by_province(signed_in):
    z = build_zones(5)
    UnitStatus.objects.create(kpi=z.employees, unit=z.zones[0], status=Status.MISSED)
    response = signed_in.get(reverse("plans:dashboard_zones", args=[z.plan.slug]))
    html = response.content.decode()
    table = html.split('class="data heatmap"')[1].split("</table>")[0]
    assert re.findall(r"<th scope=\"col\" class=\"heatmap-kpi\"><a [^>]*>(\w+)</a>", table) == ["EMP", "GDP"]
    assert "4 of 5" in text_of(response)  # GDP's coverage; employees have no aggregate yet
    rows = re.findall(r"<tr(?: class=\"province-row\")?><th scope=\"row(?:group)?\"[^>]*><a [^>]*>([^<]+)</a>", table)
    assert rows == ["Anhui", "Zone 00", "Zone 02", "Zone 04", "Beijing", "Zone 01", "Zone 03"]
    zone0 = table.split("Zone 00</a>")[1].split("</tr>")[0]
    assert "heat-missed" in zone0 and "Missed" in zone0 and "On track" in zone0  # the word, not colour alone
    dashboard = signed_in.get(reverse("plans:dashboard", args=[z.plan.slug])).content.decode()
    assert reverse("plans:dashboard_zones", args=[z.plan.slug]) in dashboard


# --- scoping of zone reporters ---------------------------------------------------------------------------------


@pytest.fixture
def reporter(team):
    return UserFactory(username="hefei", role="staff", teams=[team])


def test_a_zone_reporter_sees_only_its_zones_rows_and_pages(client, reporter):
    z = build_zones(5)
    z.zones[2].reporters.add(reporter)
    client.force_login(reporter)
    html = client.get(kpi_url(z)).content.decode()
    assert zone_order(html, z.values) == ["Z02"]
    assert "Zone 01" not in html and "Zone 04" not in html  # not in the table, the ranking or the missing list
    assert "You see only the units you report for." in html
    assert client.get(reverse("plans:zone", args=["Z02"])).status_code == 200
    assert client.get(reverse("plans:zone", args=["Z01"])).status_code == 404
    assert client.get(reverse("plans:zone", args=["PA"])).status_code == 404
    index = text_of(client.get(reverse("plans:zones")))
    assert "Zone 02" in index and "Zone 00" not in index and "Beijing" not in index
    heat = client.get(reverse("plans:dashboard_zones", args=[z.plan.slug])).content.decode()
    assert "Zone 02" in heat and "Zone 00" not in heat
    rows = list(
        csv.reader(io.StringIO(b"".join(client.get(export_url(z, "csv")).streaming_content).decode("utf-8-sig")))
    )
    assert sorted(row[4] for row in rows if row and row[0] == "Zone") == ["Z02"]
    assert not any(row and row[0] == "Province" for row in rows)  # its province's sum includes other zones


def test_a_province_reporter_sees_the_province_and_its_zones(client, reporter):
    z = build_zones(5)
    z.provinces[1].reporters.add(reporter)
    client.force_login(reporter)
    html = client.get(kpi_url(z)).content.decode()
    assert zone_order(html, z.values) == ["Z03", "Z01"]
    assert client.get(reverse("plans:zone", args=["PB"])).status_code == 200
    assert client.get(reverse("plans:zone", args=["Z00"])).status_code == 404


def test_two_reporters_are_never_served_each_others_cached_zone_sections(client, team):
    z = build_zones(5)
    first, second = (UserFactory(username=name, role="staff", teams=[team]) for name in ("first", "second"))
    z.zones[0].reporters.add(first)
    z.zones[1].reporters.add(second)
    client.force_login(first)
    assert zone_order(client.get(kpi_url(z)).content.decode(), z.values) == ["Z00"]
    heat = reverse("plans:dashboard_zones", args=[z.plan.slug])
    assert "Zone 00" in client.get(heat).content.decode()
    client.force_login(second)
    assert zone_order(client.get(kpi_url(z)).content.decode(), z.values) == ["Z01"]
    assert "Zone 00" not in client.get(heat).content.decode()


def test_managers_and_staff_who_report_for_no_unit_see_every_zone(client, staff):
    z = build_zones(5)
    client.force_login(staff)
    assert len(zone_order(client.get(kpi_url(z)).content.decode(), z.values)) == 5
    assert client.get(reverse("plans:zone", args=["Z01"])).status_code == 200


# --- query counts: the same ceiling at 5 and 40 zones ----------------------------------------------------------

ZONE_SIZES = [5, 40]


def page_urls(z: Zones) -> dict[str, tuple[str, int]]:
    return {
        # The KPI page's own 10 (tests/test_dashboard_queries.py) and the breakdown's: periods, aggregates,
        # register, zones' rows, statuses, and the comparison KPI's name.
        "kpi": (kpi_url(z), 16),
        "kpi sorted": (kpi_url(z, "?sort=-share"), 16),
        # Session, user, plan, as-of snapshot days, the KPI, the role, then the breakdown's six.
        "csv": (export_url(z, "csv"), 12),
        "xlsx": (export_url(z, "xlsx", "?sort=status"), 12),
        # Session, user, plan, role, snapshot days, closure banner; KPIs with coverage, register, statuses.
        "heat map": (reverse("plans:dashboard_zones", args=[z.plan.slug]), 9),
        # Session, user, role; the unit, its KPIs with values, its statuses; a province also its zones; these pages
        # are not cached, so the header's unread-notification count is read the first time (then kept).
        "zone": (reverse("plans:zone", args=[z.zones[0].code]), 7),
        "province": (reverse("plans:zone", args=["PA"]), 8),
        "index": (reverse("plans:zones"), 5),
    }


@pytest.mark.parametrize("zones", ZONE_SIZES)
@pytest.mark.parametrize("name", ["kpi", "kpi sorted", "csv", "xlsx", "heat map", "zone", "province", "index"])
def test_zone_page_query_count_does_not_grow_with_the_zones(signed_in, django_assert_max_num_queries, zones, name):
    z = build_zones(zones)
    url, ceiling = page_urls(z)[name]
    with django_assert_max_num_queries(ceiling):
        response = signed_in.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200


@pytest.mark.parametrize("zones", ZONE_SIZES)
@pytest.mark.parametrize("name", ["kpi", "csv", "heat map", "zone", "index"])
def test_a_reporters_zone_pages_cost_two_queries_more_whatever_the_zones(
    client, reporter, django_assert_max_num_queries, zones, name
):
    z = build_zones(zones)
    for zone in z.zones[::2]:
        zone.reporters.add(reporter)
    client.force_login(reporter)
    url, ceiling = page_urls(z)[name]
    # The staff role's teams and the units it reports for (plans.permissions.visible_units).
    with django_assert_max_num_queries(ceiling + 2):
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200


# --- in a browser: screenshots at desktop and phone widths ------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_zone_pages_in_a_browser_at_desktop_and_phone_widths(page, manager):
    from tests.conftest import ARTIFACTS, sign_in
    from tests.test_dashboard_browser import axe_violations
    from tests.test_security_headers import csp_messages

    z = build_zones(24)
    UnitAggregate.objects.filter(unit=z.nation, period_end=Q3).update(weight_coverage=0.96)
    MeasurementFactory(kpi=z.kpi, date=Q3, value=300.0, source=MeasurementSource.IMPORT)
    refused = csp_messages(page)
    sign_in(page, "mgr")
    shots = {
        "zones-kpi-breakdown": (kpi_url(z), "#breakdown"),
        "zones-zone-page": (reverse("plans:zone", args=[z.zones[0].code]), "main"),
        "zones-province-page": (reverse("plans:zone", args=["PA"]), "main"),
        "zones-heatmap": (reverse("plans:dashboard_zones", args=[z.plan.slug]), "main"),
        "zones-index": (reverse("plans:zones"), "main"),
    }
    for width, suffix in ((1280, "desktop"), (390, "390")):
        page.set_viewport_size({"width": width, "height": 900})
        for name, (url, selector) in shots.items():
            page.goto(url)
            page.locator(selector).first.screenshot(path=ARTIFACTS / f"{name}-{suffix}.png")
            # Nothing but the scroll regions may be wider than the screen.
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (name, width, overflow)
            assert axe_violations(page, f"{name}-{suffix}") == [], name
    # A table wider than a phone scrolls inside its own box, which a keyboard can reach.
    page.goto(shots["zones-heatmap"][0])
    region = page.locator(".heatmap-wrap")
    assert region.get_attribute("tabindex") == "0"
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")
    assert refused == []


def test_heat_map_is_always_the_current_view(signed_in):
    z = build_zones(3)
    StatusSnapshotFactory(plan=z.plan, item_type=ItemType.PLAN, item_id=z.plan.pk, as_of=Q2)
    assert "As it stood on" in text_of(signed_in.get(kpi_url(z, "?as_of=2025-06-30")))  # a day the KPI page shows
    response = signed_in.get(reverse("plans:dashboard_zones", args=[z.plan.slug]) + "?as_of=2025-06-30")
    assert "As it stood on" not in text_of(response)  # unit statuses have no snapshots
