"""Completeness (plans.completeness): cell states, due-date boundary, zones, on-time rate, filters, scoping,
exports, query counts, the dashboard's "who hasn't reported" panel, period targets on the chart, and
milestones' monthly updates."""

import csv
import datetime
import io
import re
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.urls import reverse

from plans import charts, completeness
from plans.choices import Aggregation, Counting, Frequency, MilestoneState, SubmissionState
from plans.completeness import Filters, Scope
from plans.models import Measurement, MilestoneUpdate, PeriodTarget, Submission
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MilestoneFactory,
    PlanFactory,
    ProvinceFactory,
    TeamFactory,
    UserFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
Q1, Q2, Q3, Q4 = (
    datetime.date(2025, 3, 31),
    datetime.date(2025, 6, 30),
    datetime.date(2025, 9, 30),
    datetime.date(2025, 12, 31),
)
Q1_DUE = datetime.date(2025, 4, 30)  # the plan's default quarterly lag: 30 days
MID_AUGUST = datetime.date(2025, 8, 15)  # Q1 and Q2 due; Q3 and Q4 not yet


def at(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def submission(kpi, period_end, state, *, unit=None, submitted_at=None):
    return Submission.objects.create(
        plan=kpi.plan,
        kpi=kpi,
        unit=unit,
        period_end=period_end,
        due_date=kpi.plan.due_date(kpi.frequency, period_end),
        state=state,
        submitted_at=submitted_at,
    )


def state_of(matrix, kpi, period_end, unit=None) -> str:
    table = next(t for t in matrix.tables if t.kpi == kpi)
    row = next(r for r in table.rows if r.unit == unit)
    return row.cells[period_end].state


@pytest.fixture
def plan():
    return PlanFactory(counting=Counting.APPROVED)


@pytest.fixture
def national_kpi(plan):
    return KPIFactory(goal=GoalFactory(focus_area=FocusAreaFactory(plan=plan)), code="NAT")


@pytest.fixture
def zones():
    province = ProvinceFactory(code="P-JS", name_en="Jiangsu")
    return [ZoneFactory(code=f"Z{n}", name_en=f"Zone {n}", parent=province) for n in range(3)]


@pytest.fixture
def zone_kpi(plan):
    return KPIFactory(
        goal=GoalFactory(focus_area=FocusAreaFactory(plan=plan)), code="GDP", aggregation=Aggregation.SUM, unit="yuan"
    )


def test_each_cell_state_from_submissions_and_the_calendar(plan, national_kpi):
    submission(national_kpi, Q1, SubmissionState.APPROVED, submitted_at=at(datetime.date(2025, 4, 20)))
    submission(national_kpi, Q2, SubmissionState.DRAFT)
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    assert state_of(matrix, national_kpi, Q1) == completeness.APPROVED
    assert state_of(matrix, national_kpi, Q2) == completeness.DRAFT
    assert state_of(matrix, national_kpi, Q3) == completeness.NOT_DUE
    assert state_of(matrix, national_kpi, Q4) == completeness.NOT_DUE

    Submission.objects.filter(period_end=Q2).update(state=SubmissionState.RETURNED)
    other = KPIFactory(goal=national_kpi.goal, code="OTHER")
    submission(other, Q1, SubmissionState.SUBMITTED, submitted_at=at(Q1_DUE))
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    assert state_of(matrix, national_kpi, Q2) == completeness.RETURNED
    assert state_of(matrix, other, Q1) == completeness.SUBMITTED
    assert state_of(matrix, other, Q2) == completeness.MISSING


def test_a_figure_submitted_on_the_due_day_is_on_time_and_the_next_day_late(plan, national_kpi):
    submission(national_kpi, Q1, SubmissionState.SUBMITTED, submitted_at=at(Q1_DUE, 23, 59))
    submission(national_kpi, Q2, SubmissionState.APPROVED, submitted_at=at(datetime.date(2025, 7, 31), 0, 1))
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    assert state_of(matrix, national_kpi, Q1) == completeness.SUBMITTED
    late = next(t for t in matrix.tables).rows[0].cells[Q2]
    assert late.state == completeness.LATE
    assert late.label == "Late (Approved)"


def test_nothing_is_missing_on_its_due_day_only_after_it(plan, national_kpi):
    assert state_of(completeness.completeness_matrix(plan=plan, today=Q1_DUE), national_kpi, Q1) == completeness.NOT_DUE
    after = Q1_DUE + datetime.timedelta(days=1)
    assert state_of(completeness.completeness_matrix(plan=plan, today=after), national_kpi, Q1) == completeness.MISSING


def test_without_review_a_measurement_in_the_period_is_reported_on_time_or_late(national_kpi):
    plan = national_kpi.plan
    plan.counting = Counting.ALL
    plan.save()
    Measurement.objects.create(kpi=national_kpi, date=datetime.date(2025, 3, 31), value=61, recorded_at=at(Q1_DUE, 23))
    Measurement.objects.create(kpi=national_kpi, date=datetime.date(2025, 5, 31), value=62, recorded_at=at(Q2, 9))
    # A later figure of the same period does not make it late: the first one arrived on time.
    Measurement.objects.create(kpi=national_kpi, date=Q2, value=63, recorded_at=at(datetime.date(2025, 8, 1)))
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    assert state_of(matrix, national_kpi, Q1) == completeness.REPORTED
    assert state_of(matrix, national_kpi, Q2) == completeness.REPORTED

    Measurement.objects.filter(date__lte=datetime.date(2025, 5, 31)).delete()
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    assert state_of(matrix, national_kpi, Q1) == completeness.MISSING
    assert state_of(matrix, national_kpi, Q2) == completeness.LATE


def test_provisional_and_derived_values_do_not_count_as_reported(plan, national_kpi):
    Measurement.objects.create(kpi=national_kpi, date=Q1, value=61, provisional=True, recorded_at=at(Q1))
    Measurement.objects.create(kpi=national_kpi, date=Q2, value=61, source="derived", recorded_at=at(Q2))
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    assert state_of(matrix, national_kpi, Q1) == completeness.MISSING
    assert state_of(matrix, national_kpi, Q2) == completeness.MISSING


def test_zones_report_aggregating_kpis_and_inactive_zones_are_not_expected(plan, zone_kpi, zones):
    closed, current, opened = zones
    closed.active_until = datetime.date(2025, 5, 15)
    closed.save()
    opened.active_from = datetime.date(2025, 7, 1)
    opened.save()
    growth = KPIFactory(goal=zone_kpi.goal, code="GROWTH", aggregation=Aggregation.GROWTH)
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    table = next(t for t in matrix.tables if t.kpi == zone_kpi)
    cells = {row.unit.code: sorted(row.cells) for row in table.rows}
    assert cells == {"Z0": [Q1], "Z1": [Q1, Q2, Q3, Q4], "Z2": [Q3, Q4]}
    assert all(row.unit is not None for row in table.rows)  # the national figure is derived, not reported
    assert growth not in [t.kpi for t in matrix.tables]


def test_on_time_rate_is_reports_in_by_their_due_date_over_reports_due(plan, zone_kpi, zones):
    z0, z1, z2 = zones
    submission(zone_kpi, Q1, SubmissionState.APPROVED, unit=z0, submitted_at=at(datetime.date(2025, 4, 2)))
    submission(zone_kpi, Q1, SubmissionState.SUBMITTED, unit=z1, submitted_at=at(datetime.date(2025, 5, 2)))
    submission(zone_kpi, Q2, SubmissionState.SUBMITTED, unit=z0, submitted_at=at(datetime.date(2025, 7, 2)))
    submission(zone_kpi, Q3, SubmissionState.SUBMITTED, unit=z0, submitted_at=at(datetime.date(2025, 8, 2)))
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST)
    # Due: Q1 and Q2 for three zones; on time: z0's Q1 and Q2. z0's Q3 is in early but not due yet.
    assert (matrix.due, matrix.on_time) == (6, 2)
    assert matrix.on_time_rate == pytest.approx(1 / 3)
    assert matrix.counts == {"approved": 1, "late": 1, "submitted": 2, "missing": 3, "not_due": 5}
    assert matrix.total == 12


def test_filters_narrow_the_matrix(plan, national_kpi, zone_kpi, zones):
    elsewhere = ZoneFactory(code="ZX", parent=ProvinceFactory(code="P-GD"))
    submission(zone_kpi, Q1, SubmissionState.RETURNED, unit=zones[0], submitted_at=at(Q1))

    def codes(**filters):
        matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST, filters=Filters(**filters))
        return sorted(
            (t.kpi.code, r.unit.code if r.unit else "-", p) for t in matrix.tables for r in t.rows for p in r.cells
        )

    assert codes(state="returned") == [("GDP", "Z0", Q1)]
    assert {k for k, _u, _p in codes(level="national")} == {"NAT"}
    assert {k for k, _u, _p in codes(level="zone")} == {"GDP"}
    assert {u for _k, u, _p in codes(unit_id=zones[0].parent_id)} == {"Z0", "Z1", "Z2"}
    assert {u for _k, u, _p in codes(unit_id=elsewhere.pk)} == {"ZX"}
    assert {k for k, _u, _p in codes(kpi_id=national_kpi.pk)} == {"NAT"}
    assert {k for k, _u, _p in codes(team_id=national_kpi.owner_team_id)} == {"NAT"}
    assert {k for k, _u, _p in codes(focus_area_id=zone_kpi.goal.focus_area_id)} == {"GDP"}
    assert {p for _k, _u, p in codes(period_from=Q2, period_to=Q3)} == {Q2, Q3}


def test_scope_staff_see_their_teams_kpis_and_a_zone_reporter_their_zones(plan, national_kpi, zone_kpi, zones):
    staff = UserFactory(role="staff", teams=[national_kpi.owner_team])
    reporter = UserFactory(role="staff")
    zones[1].reporters.add(reporter)

    def rows(user):
        scope = completeness.viewer_scope(user)
        matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST, scope=scope)
        return sorted((t.kpi.code, r.unit.code if r.unit else "-") for t in matrix.tables for r in t.rows)

    assert rows(staff) == [("NAT", "-")]
    assert rows(reporter) == [("GDP", "Z1")]
    assert len(rows(UserFactory(role="manager"))) == 4


def test_the_page_shows_states_in_words_counts_and_rate_to_a_manager(client, plan, national_kpi):
    submission(national_kpi, Q1, SubmissionState.APPROVED, submitted_at=at(datetime.date(2025, 4, 20)))
    client.force_login(UserFactory(role="manager"))
    response = client.get(reverse("plans:completeness", args=[plan.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "On-time rate" in html and "25%" in html  # Q1 in of four quarters due (today is after the plan)
    assert '<td class="cstate cstate-approved">Approved' in html
    assert html.count('<td class="cstate cstate-missing">Missing') == 3
    assert 'class="matrix-wrap" tabindex="0" role="region" aria-label="NAT by reporter and period"' in html


def test_a_zone_reporter_sees_only_their_zones_rows_on_the_page(client, plan, zone_kpi, zones):
    reporter = UserFactory(role="staff")
    zones[2].reporters.add(reporter)
    client.force_login(reporter)
    html = client.get(reverse("plans:completeness", args=[plan.slug])).content.decode()
    assert "Zone 2" in html and "Zone 0" not in html and "Zone 1" not in html


def test_anonymous_visitors_are_sent_to_sign_in(client, plan):
    response = client.get(reverse("plans:completeness", args=[plan.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_exports_read_back_with_the_filters(client, plan, zone_kpi, zones):
    submission(zone_kpi, Q1, SubmissionState.APPROVED, unit=zones[0], submitted_at=at(datetime.date(2025, 4, 2)))
    client.force_login(UserFactory(role="manager"))
    url = reverse("plans:completeness_export", args=[plan.slug, "xlsx"])
    response = client.get(url, {"unit": zones[0].pk})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows.index(
        [
            "KPI code",
            "KPI",
            "Unit code",
            "Reporter",
            "Owner team",
            "Period",
            "Period end",
            "Due date",
            "State",
            "Figure arrived",
        ]
    )
    data = rows[header + 1 :]
    assert [(r[2], r[5], r[8]) for r in data] == [
        ("Z0", "2025 Q1", "Approved"),
        ("Z0", "2025 Q2", "Missing"),
        ("Z0", "2025 Q3", "Missing"),
        ("Z0", "2025 Q4", "Missing"),
    ]
    assert ["On-time rate (%)", "25.0"] in [r[:2] for r in rows[:header]]

    response = client.get(reverse("plans:completeness_export", args=[plan.slug, "csv"]), {"state": "missing"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert sum(1 for line in lines if line[-2:-1] == ["Missing"]) == 11


def _grow(plan, zone_kpi, *, n_zones: int, n_kpis: int):
    province = ProvinceFactory()
    for _i in range(n_zones):
        ZoneFactory(parent=province)
    for _i in range(n_kpis):
        kpi = KPIFactory(goal=zone_kpi.goal, aggregation=Aggregation.SUM, unit="yuan", frequency=Frequency.MONTHLY)
        submission(
            kpi,
            datetime.date(2025, 1, 31),
            SubmissionState.APPROVED,
            unit=province.children.first(),
            submitted_at=at(Q1),
        )
        KPIFactory(goal=zone_kpi.goal)


@pytest.mark.parametrize("size", [1, 6])
def test_the_page_and_export_read_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, plan, zone_kpi, size
):
    _grow(plan, zone_kpi, n_zones=2 * size, n_kpis=size)
    MilestoneFactory(goal=zone_kpi.goal, state=MilestoneState.IN_PROGRESS)
    client.force_login(UserFactory(role="manager"))
    with django_assert_max_num_queries(22):
        assert client.get(reverse("plans:completeness", args=[plan.slug])).status_code == 200
    with django_assert_max_num_queries(12):
        response = client.get(reverse("plans:completeness_export", args=[plan.slug, "csv"]))
        b"".join(response.streaming_content)


@pytest.mark.parametrize("size", [1, 6])
def test_the_matrix_reads_four_queries_whatever_its_size(django_assert_num_queries, plan, zone_kpi, size):
    _grow(plan, zone_kpi, n_zones=2 * size, n_kpis=size)
    with django_assert_num_queries(4):
        matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST, scope=Scope(everything=True))
    assert len(matrix.tables) == 1 + 2 * size  # zone KPIs and national ones
    assert sum(len(t.rows) for t in matrix.tables) == (1 + size) * 2 * size + size


# --- The dashboard's panel ---------------------------------------------------------------------


def test_a_closed_plans_panel_gives_the_final_periods_figures(plan, zone_kpi, zones, national_kpi):
    submission(zone_kpi, Q4, SubmissionState.APPROVED, unit=zones[0], submitted_at=at(datetime.date(2026, 1, 5)))
    submission(zone_kpi, Q4, SubmissionState.SUBMITTED, unit=zones[1], submitted_at=at(datetime.date(2026, 2, 5)))
    submission(national_kpi, Q4, SubmissionState.APPROVED, submitted_at=at(datetime.date(2026, 1, 5)))
    panel = completeness.not_reported_panel(plan=plan, today=datetime.date(2026, 12, 6))
    assert panel["closed"] is True
    assert panel["complete_count"] == 1  # the national KPI
    [gdp] = panel["kpis"]
    assert (gdp.kpi, gdp.period_end, gdp.period_label) == (zone_kpi, Q4, "2025 Q4")
    assert (gdp.reported, gdp.expected) == (2, 3)
    assert [(row.unit.code, cell.state) for row, cell in gdp.attention] == [("Z1", "late"), ("Z2", "missing")]


def test_an_open_plans_panel_turns_to_a_period_when_its_due_date_is_near(plan, national_kpi):
    kpis = [national_kpi]
    assert completeness.current_periods(plan, kpis, datetime.date(2025, 4, 26)) == {}
    assert completeness.current_periods(plan, kpis, datetime.date(2025, 4, 27)) == {national_kpi.pk: Q1}
    assert completeness.current_periods(plan, kpis, datetime.date(2025, 7, 27)) == {national_kpi.pk: Q2}


def test_the_dashboard_shows_the_panel_with_links(client, plan, zone_kpi, zones):
    client.force_login(UserFactory(role="manager"))
    panel = reverse("plans:dashboard_panel", args=[plan.slug, "not-reported"])
    assert f'data-panel-src="{panel}"' in client.get(reverse("plans:dashboard", args=[plan.slug])).content.decode()
    html = client.get(panel, HTTP_X_DASHBOARD_PANEL="1").content.decode()
    assert "Who hasn't reported: final figures" in html
    assert "Final figures: 0 of 3 zones reported GDP 2025 Q4." in html
    assert reverse("plans:completeness", args=[plan.slug]) in html
    assert reverse("plans:dashboard_kpi", args=[plan.slug, "GDP"]) in html


def test_the_panel_follows_the_dashboards_team_and_focus_area_filters(plan, national_kpi, zone_kpi):
    def codes(**filters):
        panel = completeness.not_reported_panel(plan=plan, today=datetime.date(2026, 12, 6), **filters)
        return [p.kpi.code for p in panel["kpis"]]

    assert codes() == ["NAT"]  # no zone registered: nobody is expected to report GDP
    assert codes(team_id=zone_kpi.owner_team_id) == []
    assert codes(focus_area_id=national_kpi.goal.focus_area_id) == ["NAT"]


# --- Period targets on the chart and the KPI page ------------------------------------------------


def test_the_chart_draws_a_planned_line_through_the_period_targets(national_kpi):
    targets = [
        PeriodTarget.objects.create(kpi=national_kpi, period_end=Q1, target_value=61),
        PeriodTarget.objects.create(kpi=national_kpi, period_end=Q2, target_value=64),
    ]
    data = charts.kpi_chart(kpi=national_kpi, measurements=[], as_of=None, forecast=None, period_targets=targets)
    assert data["planned"] == [
        {"x": "2024-12-31", "y": 60.0},
        {"x": "2025-03-31", "y": 61.0},
        {"x": "2025-06-30", "y": 64.0},
    ]
    assert data["text"]["planned"] == "Planned per period"
    assert charts.kpi_chart(kpi=national_kpi, measurements=[], as_of=None, forecast=None)["planned"] == []


def test_the_kpi_page_compares_figures_with_the_planned_values(client, national_kpi):
    plan = national_kpi.plan
    PeriodTarget.objects.create(kpi=national_kpi, period_end=Q3, target_value=19.8)
    Measurement.objects.create(kpi=national_kpi, date=Q3, value=19.9)
    client.force_login(UserFactory(role="manager"))
    html = client.get(reverse("plans:dashboard_kpi", args=[plan.slug, national_kpi.code])).content.decode()
    assert "2025 Q3: 19.9 against 19.8 planned" in html
    assert '<th scope="col" class="num">Planned</th>' in html


# --- Milestones on the same calendar -------------------------------------------------------------


def test_milestones_in_progress_owe_an_update_each_month(plan):
    milestone = MilestoneFactory(
        goal=GoalFactory(focus_area=FocusAreaFactory(plan=plan)),
        state=MilestoneState.IN_PROGRESS,
        start_date=datetime.date(2025, 2, 10),
        due_date=datetime.date(2025, 9, 30),
    )
    MilestoneFactory(goal=milestone.goal, state=MilestoneState.DONE)
    update = MilestoneUpdate.objects.create(milestone=milestone, percent_complete=10, state="in_progress")
    MilestoneUpdate.objects.filter(pk=update.pk).update(created_at=at(datetime.date(2025, 3, 3)))
    [row] = completeness.milestone_months(plan=plan, today=datetime.date(2025, 5, 20))
    assert row.milestone == milestone
    assert row.months == [
        (datetime.date(2025, 2, 28), False),
        (datetime.date(2025, 3, 31), True),
        (datetime.date(2025, 4, 30), False),
    ]
    assert row.missing == 2


def test_the_milestone_page_shows_a_row_of_months(client, plan):
    milestone = MilestoneFactory(
        goal=GoalFactory(focus_area=FocusAreaFactory(plan=plan)), state=MilestoneState.IN_PROGRESS
    )
    update = MilestoneUpdate.objects.create(milestone=milestone, percent_complete=10, state="in_progress")
    MilestoneUpdate.objects.filter(pk=update.pk).update(created_at=at(datetime.date(2025, 6, 3)))
    client.force_login(UserFactory(role="manager"))
    html = client.get(reverse("plans:dashboard_milestone", args=[plan.slug, milestone.pk])).content.decode()
    assert html.count("month-logged") == 1
    assert html.count("month-missing") == 11
    assert "2025-06</span>" in html


def test_the_completeness_page_lists_milestones_months(client, plan, national_kpi):
    MilestoneFactory(goal=national_kpi.goal, state=MilestoneState.BLOCKED, title="Blocked one")
    client.force_login(UserFactory(role="manager"))
    html = client.get(reverse("plans:completeness", args=[plan.slug])).content.decode()
    assert "Milestones: monthly progress updates" in html and "Blocked one" in html
    assert "12 months without an update" in html


def test_team_filter_does_not_leak_other_teams_to_staff(plan, national_kpi):
    TeamFactory()
    staff = UserFactory(role="staff", teams=[TeamFactory()])
    matrix = completeness.completeness_matrix(plan=plan, today=MID_AUGUST, scope=completeness.viewer_scope(staff))
    assert matrix.tables == []


# --- In a browser: the matrix and the dashboard's panel, desktop and 390 px -----------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_matrix_and_panel_read_in_a_browser_on_desktop_and_phone(page):
    from django.core.management import call_command

    from plans.models import KPI, Plan
    from tests.conftest import ARTIFACTS, sign_in
    from tests.test_dashboard_browser import SLUG, axe_violations

    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    plan.counting = Counting.APPROVED
    plan.save()
    gdp = KPI.objects.get(plan=plan, code="IC-GDP")
    KPI.objects.filter(pk=gdp.pk).update(aggregation=Aggregation.SUM)
    province = ProvinceFactory(code="P-JS", name_en="Jiangsu")
    zones = [ZoneFactory(code=f"JS-{n:02d}", name_en=f"High-tech zone {n}", parent=province) for n in range(14)]
    states = [SubmissionState.APPROVED, SubmissionState.SUBMITTED, SubmissionState.RETURNED, SubmissionState.DRAFT]
    for n, zone in enumerate(zones[:10]):
        for quarter, end in enumerate((Q1, Q2, Q3, Q4)):
            late = (n + quarter) % 5 == 0
            sent = at(plan.due_date("quarterly", end) + datetime.timedelta(days=3 if late else -2))
            submission(gdp, end, states[(n + quarter) % 4], unit=zone, submitted_at=sent)

    sign_in(page, "manager", "manager-demo-2025")
    page.goto(f"/plans/{SLUG}/completeness/?kpi={gdp.pk}")
    assert page.get_by_role("heading", level=1, name="Completeness: who reported what").is_visible()
    matrix = page.get_by_role("region", name="IC-GDP by reporter and period")
    assert matrix.is_visible()
    assert matrix.get_by_role("cell", name="Returned").first.is_visible()
    page.screenshot(path=ARTIFACTS / "completeness-desktop.png", full_page=True)
    assert axe_violations(page, "completeness") == []

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/plans/{SLUG}/completeness/?kpi={gdp.pk}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the matrix scrolls inside its box
    box = page.locator(".matrix-wrap").first
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    box.focus()
    page.keyboard.press("ArrowRight")
    page.screenshot(path=ARTIFACTS / "completeness-390.png", full_page=True)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/plans/{SLUG}/")
    panel = page.locator("section.not-reported")
    # The demo's register (178 zones, three of them without GDP 2025 Q4) and the 14 zones made here.
    assert re.search(r"Final figures: \d+ of 192 zones reported IC-GDP 2025 Q4\.", panel.inner_text())
    panel.screenshot(path=ARTIFACTS / "not-reported-panel.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/plans/{SLUG}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("section.not-reported").screenshot(path=ARTIFACTS / "not-reported-panel-390.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    s_curve = {Q1: 19.6, Q2: 19.9, Q3: 20.6, Q4: 21.4}
    for end, value in s_curve.items():
        PeriodTarget.objects.create(kpi=gdp, period_end=end, target_value=value)
    page.goto(f"/plans/{SLUG}/kpis/IC-GDP/")
    page.locator("html[data-charts-ready='true']").wait_for(state="attached")
    page.get_by_text("Show the numbers").click()
    assert page.get_by_role("columnheader", name="Planned").is_visible()
    page.locator("#chart-heading").locator("xpath=..").screenshot(path=ARTIFACTS / "kpi-planned-line.png")
