"""CSV and XLSX exports of the dashboard tables, parsed back and checked."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from openpyxl import load_workbook

from plans.exports import column_widths, safe_text
from plans.models import KPI
from tests.factories import KPIFactory, MilestoneFactory, api_client
from tests.test_dashboard_views import build_plan
from tests.test_zone_pages import build_zones, export_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(db):
    return build_plan(goals=4, description="Illustrative demo data.")


def export(client, plan, table, fmt, **query):
    url = reverse("plans:dashboard_export", args=[plan.slug, table, fmt])
    return client.get(url, query)


def read_csv(response) -> tuple[dict, list[str], list[dict]]:
    """(meta rows as a dict, header, data rows as dicts) from an exported CSV."""
    text = response.getvalue().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    blank = rows.index([])
    meta = {row[0]: row[1] for row in rows[:blank]}
    header = rows[blank + 1]
    return meta, header, [dict(zip(header, row, strict=True)) for row in rows[blank + 2 :]]


def read_xlsx(response):
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    blank = next(i for i, r in enumerate(rows) if all(c is None for c in r))
    meta = {r[0]: r[1] for r in rows[:blank]}
    header = rows[blank + 1]
    return sheet, meta, header, [dict(zip(header, r, strict=True)) for r in rows[blank + 2 :]]


def test_kpi_csv_has_as_of_filters_and_every_column_of_the_dashboard_table(client, manager, plan):
    client.force_login(manager)
    response = export(client, plan, "kpis", "csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{plan.slug}-kpis-now.csv"'
    meta, header, rows = read_csv(response)
    assert meta["Plan"] == plan.name
    assert meta["As of"] == "now (current status)"
    assert meta["Filters"] == "none"
    assert meta["Note"] == "Illustrative demo data."
    assert header[:9] == [
        *("Code", "KPI", "KPI (Chinese)", "Focus area", "Goal"),
        *("Owner team", "Owner team (Chinese)", "Unit", "Unit (Chinese)"),
    ]
    assert [r["Code"] for r in rows] == ["K00", "K02", "K01", "K03"]
    first = rows[0]
    kpi = KPI.objects.get(code="K00")
    # Rounded to the KPI's decimals (2 unless set), with exactly that many.
    assert first["Baseline"] == "60.00" and first["Target"] == "80.00" and first["Latest value"] == "70.00"
    assert first["Latest date"] == "2025-06-30" and first["Target date"] == "2025-12-31"
    assert float(first["Forecast"]) == pytest.approx(kpi.forecast_value, abs=0.005)
    assert float(first["Forecast low (95%)"]) == pytest.approx(kpi.forecast_low, abs=0.005)
    assert first["Progress (%)"] == "50.0" and first["Status"] == "On track" and first["Stale"] == "no"


def test_kpi_csv_at_a_past_date_with_filters_writes_them_into_the_file(client, manager, plan):
    client.force_login(manager)
    area = plan.focus_areas.get(code="FA2")
    response = export(client, plan, "kpis", "csv", as_of="2025-06-30", status="off_track", focus_area=area.pk)
    assert response["Content-Disposition"].endswith(f'{plan.slug}-kpis-2025-06-30.csv"')
    meta, _header, rows = read_csv(response)
    assert meta["As of"] == "2025-06-30"
    assert meta["Filters"] == "Focus area: FA2 Industry; Status: Off track"
    assert [r["Code"] for r in rows] == ["K01", "K03"]
    assert {r["Status"] for r in rows} == {"Off track"}
    assert {r["Forecast"] for r in rows} == {"66.50"}
    assert {r["Forecast low (95%)"] for r in rows} == {""}  # snapshots keep no interval


def test_milestone_csv_lists_the_attention_table_unless_a_status_is_chosen(client, manager, plan):
    client.force_login(manager)
    meta, header, rows = read_csv(export(client, plan, "milestones", "csv"))
    assert meta["Rows"] == "Milestones that are overdue, off track or at risk."
    assert header[:6] == [
        *("Focus area", "Goal", "Milestone", "Milestone (Chinese)"),
        *("Owner team", "Owner team (Chinese)"),
    ]
    assert [r["Milestone"] for r in rows] == ["Milestone 0", "Milestone 1", "Milestone 2", "Milestone 3"]
    assert (
        rows[0]["Due date"] == "2025-05-31" and rows[0]["Status"] == "Overdue" and rows[0]["Percent complete"] == "40"
    )
    meta, _header, rows = read_csv(export(client, plan, "milestones", "csv", as_of="2025-06-30", status="on_track"))
    assert "Rows" not in meta
    assert meta["Filters"] == "Status: On track"
    assert {r["Status"] for r in rows} == {"On track"} and len(rows) == 4


def test_kpi_xlsx_keeps_numbers_and_dates_typed_and_notes_the_as_of_date(client, manager, plan):
    client.force_login(manager)
    team = plan.goals.get(code="G00").owner_team
    response = export(client, plan, "kpis", "xlsx", as_of="2025-06-30", owner_team=team.pk)
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet, meta, header, rows = read_xlsx(response)
    assert sheet.title == "KPIs"
    assert meta["As of"] == "2025-06-30"
    assert meta["Filters"] == f"Owner team: {team.name}"
    assert "Code" in header and "Stale" in header
    assert [r["Code"] for r in rows] == ["K00", "K02"]
    assert rows[0]["Baseline"] == 60.0 and rows[0]["Forecast"] == 66.5 and rows[0]["Score"] == -2.0
    assert rows[0]["Target date"] == datetime.datetime(2025, 12, 31)
    assert rows[0]["Status"] == "Off track"


def test_milestone_xlsx_round_trips(client, manager, plan):
    client.force_login(manager)
    _sheet, meta, _header, rows = read_xlsx(export(client, plan, "milestones", "xlsx"))
    assert meta["As of"] == "now (current status)"
    assert len(rows) == 4 and rows[0]["Percent complete"] == 40


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_neutralised(client, manager, plan):
    KPI.objects.filter(code="K00").update(name='=HYPERLINK("http://evil.example","x")')
    client.force_login(manager)
    _meta, _header, rows = read_csv(export(client, plan, "kpis", "csv"))
    assert rows[0]["KPI"].startswith("'=HYPERLINK")
    _sheet, _meta, _header, rows = read_xlsx(export(client, plan, "kpis", "xlsx"))
    assert rows[0]["KPI"].startswith("'=HYPERLINK")
    assert safe_text(-5.0) == -5.0 and safe_text("-5") == "'-5"


def test_unknown_table_or_format_is_not_found(client, manager, plan):
    client.force_login(manager)
    assert client.get(f"/plans/{plan.slug}/export/goals.csv").status_code == 404
    assert client.get(f"/plans/{plan.slug}/export/kpis.pdf").status_code == 404


@pytest.mark.parametrize(("table", "fmt"), [("kpis", "csv"), ("kpis", "xlsx"), ("milestones", "csv")])
def test_exports_stream_and_never_read_the_stored_explanations(client, manager, plan, table, fmt):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(manager)
    export(client, plan, table, fmt).getvalue()  # the viewer is read once, then kept (plans.user_cache)
    with CaptureQueriesContext(connection) as queries:
        response = export(client, plan, table, fmt)
        response.getvalue()  # a streamed CSV is written (and its rows read) only as it is sent
    assert response.streaming
    rows_sql = [q["sql"] for q in queries.captured_queries if '"plans_goal"' in q["sql"]]
    assert rows_sql and not any("explanation" in sql for sql in rows_sql)
    # Every column shown is among those read: more rows, no more queries.
    goal = plan.goals.get(code="G00")
    KPIFactory.create_batch(3, goal=goal)
    MilestoneFactory.create_batch(3, goal=goal, due_date=datetime.date(2025, 1, 31), status="overdue")
    with CaptureQueriesContext(connection) as more:
        export(client, plan, table, fmt).getvalue()
    assert len(more.captured_queries) == len(queries.captured_queries)


def test_a_long_csv_is_sent_in_chunks_of_rows_with_the_same_content(client, manager, plan, monkeypatch):
    from plans import exports

    client.force_login(manager)
    whole = export(client, plan, "kpis", "csv").getvalue()
    monkeypatch.setattr(exports, "CHUNK_ROWS", 1)
    response = export(client, plan, "kpis", "csv")
    chunks = list(response.streaming_content)
    assert len(chunks) == 1 + 4  # the head (meta rows and header), then each KPI row
    assert b"".join(chunks).split(b"\r\n")[5:] == whole.split(b"\r\n")[5:]  # past the export time


def test_kpi_xlsx_opens_in_openpyxl_with_typed_styled_cells_and_a_frozen_header(client, manager, plan):
    KPI.objects.filter(code="K00").update(name="R&D <spend>\x01 per GDP ", unit="%")
    client.force_login(manager)
    sheet = load_workbook(io.BytesIO(export(client, plan, "kpis", "xlsx").getvalue())).active
    header_row = next(row for row in sheet.iter_rows(min_col=1, max_col=1) if row[0].value == "Code")[0].row
    assert sheet.freeze_panes == f"A{header_row + 1}"
    assert sheet["A1"].value == "Plan" and sheet["A1"].font.b and not sheet["B1"].font.b
    assert [c.value for c in sheet[header_row]][:3] == ["Code", "KPI", "KPI (Chinese)"]
    assert all(c.font.b for c in sheet[header_row])
    # As wide as the header or the widest value, plus two: "Code" over K00 gets the least width there is.
    assert sheet.column_dimensions["A"].width == 8
    assert sheet.column_dimensions["S"].width == len("Forecast high (95%)") + 2
    first = {h.value: c for h, c in zip(sheet[header_row], sheet[header_row + 1], strict=True)}
    assert first["KPI"].value == "R&D <spend> per GDP "  # escaped, the control character dropped, spaces kept
    assert first["Code"].data_type == "s" and first["Unit"].value == "%"
    assert first["Baseline"].data_type == "n" and first["Baseline"].value == 60.0
    assert first["Progress (%)"].value == 50.0 and isinstance(first["Score"].value, float)
    assert first["Target date"].is_date and first["Target date"].number_format == "yyyy-mm-dd"
    assert first["Target date"].value == datetime.datetime(2025, 12, 31)
    assert first["Stale"].value == "no"
    assert sheet.max_row == header_row + 4


def test_xlsx_sheet_names_and_cells_of_every_kind_round_trip(tmp_path):
    from plans import xlsx

    path = tmp_path / "book.xlsx"
    when = datetime.datetime(2025, 6, 30, 12, 30)
    rows = [[("Bold", xlsx.BOLD), True, 3, -1.5e-7, datetime.date(1999, 12, 31), when], [], [None, "x"]]
    with path.open("wb") as out:
        xlsx.write(out, title="a/b:[c]*?" + "d" * 40, rows=iter(rows), frozen_rows=1)
    sheet = load_workbook(path).active
    assert sheet.title == "a b  c   " + "d" * 22  # forbidden characters replaced, cut to 31
    assert [c.value for c in sheet[1]] == ["Bold", True, 3, -1.5e-7, datetime.datetime(1999, 12, 31), when]
    assert sheet["A1"].font.b and sheet.freeze_panes == "A2"
    assert sheet["B3"].value == "x" and sheet["A2"].value is None
    assert xlsx.column_letter(1) == "A" and xlsx.column_letter(27) == "AA" and xlsx.column_letter(703) == "AAA"


# --- values rounded to the KPI's decimals -------------------------------------------------------------------------


def test_kpi_csv_rounds_half_up_to_each_kpis_decimals_and_shows_exactly_that_many(client, manager, plan):
    # 60.45 is 60.4499... in binary: the figure as written is rounded, as a person would.
    KPI.objects.filter(code="K00").update(decimals=1, baseline_value=60.45, target_value=80.0)
    KPI.objects.filter(code="K01").update(decimals=0, baseline_value=34999.5, target_value=40000.49)
    client.force_login(manager)
    _meta, _header, rows = read_csv(export(client, plan, "kpis", "csv"))
    by_code = {row["Code"]: row for row in rows}
    assert (by_code["K00"]["Baseline"], by_code["K00"]["Target"], by_code["K00"]["Latest value"]) == (
        "60.5",
        "80.0",
        "70.0",
    )
    assert by_code["K01"]["Baseline"] == "35000" and by_code["K01"]["Target"] == "40000"
    forecast = KPI.objects.get(code="K00").forecast_value
    assert by_code["K00"]["Forecast"] == f"{forecast:.1f}"
    assert by_code["K02"]["Baseline"] == "60.00"  # the default, two decimals
    assert by_code["K00"]["Score"] == "" or len(by_code["K00"]["Score"].split(".")[-1]) == 2


def test_kpi_xlsx_cells_are_rounded_numbers_formatted_to_the_kpis_decimals(client, manager, plan):
    KPI.objects.filter(code="K00").update(decimals=1, baseline_value=60.45)
    KPI.objects.filter(code="K01").update(decimals=0, baseline_value=34999.5)
    client.force_login(manager)
    sheet = load_workbook(io.BytesIO(export(client, plan, "kpis", "xlsx").getvalue())).active
    header_row = next(row for row in sheet.iter_rows(min_col=1, max_col=1) if row[0].value == "Code")[0].row
    header = [c.value for c in sheet[header_row]]
    cells = {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=header_row + 1)}
    baseline = cells["K00"]["Baseline"]
    assert baseline.data_type == "n" and baseline.value == 60.5 and baseline.number_format == "#,##0.0"
    assert cells["K00"]["Target"].number_format == "#,##0.0" and cells["K00"]["Latest value"].value == 70
    assert cells["K01"]["Baseline"].value == 35000 and cells["K01"]["Baseline"].number_format == "#,##0"
    assert cells["K02"]["Forecast"].number_format == "#,##0.00"
    assert cells["K00"]["Progress (%)"].number_format == "#,##0.0"
    assert cells["K00"]["Score"].number_format == "#,##0.00"


def test_xlsx_columns_fit_their_values_within_bounds(client, manager, plan):
    KPI.objects.filter(code="K00").update(name="Enterprise R&D spending in the national high-tech zones")
    KPI.objects.filter(code="K01").update(name="国家高新区企业研发投入")  # 11 wide characters
    client.force_login(manager)
    sheet = load_workbook(io.BytesIO(export(client, plan, "kpis", "xlsx").getvalue())).active
    assert sheet.column_dimensions["B"].width == len("Enterprise R&D spending in the national high-tech zones"[:48]) + 2
    assert column_widths(["KPI"], [["国家高新区企业研发投入"]]) == [2 * 11 + 2]
    assert column_widths(["Value"], [[Decimal("1234567.50")]]) == [len("1,234,567.50") + 2]
    assert column_widths(["x"], [["y" * 200]]) == [50] and column_widths(["x"], [[None]]) == [8]


def test_breakdown_xlsx_values_follow_the_kpis_decimals(client, manager):
    z = build_zones(5)
    KPI.objects.filter(pk=z.kpi.pk).update(decimals=1)
    client.force_login(manager)
    response = client.get(export_url(z, "xlsx"))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header_row = next(row for row in sheet.iter_rows(min_col=1, max_col=1) if row[0].value == "Level")[0].row
    nation = sheet[header_row + 1]
    assert nation[0].value == "Nation" and nation[8].value == 20 and nation[8].number_format == "#,##0.0"


def test_decimals_are_whole_numbers_from_0_to_6(plan):
    kpi = KPI.objects.get(code="K00")
    kpi.decimals = 7
    with pytest.raises(ValidationError) as refused:
        kpi.full_clean()
    assert "decimals" in refused.value.message_dict
    with transaction.atomic(), pytest.raises(IntegrityError):
        KPI.objects.filter(pk=kpi.pk).update(decimals=7)
    kpi.refresh_from_db()
    assert kpi.decimals == 2


def test_the_api_sets_a_kpis_decimals_within_0_to_6(manager, plan):
    kpi = KPI.objects.get(code="K00")
    client = api_client()
    client.force_login(manager)
    assert client.patch(f"/api/v1/kpis/{kpi.pk}/", {"decimals": 1}).json()["decimals"] == 1
    response = client.patch(f"/api/v1/kpis/{kpi.pk}/", {"decimals": 7})
    assert response.status_code == 400 and list(response.json()) == ["decimals"]
    kpi.refresh_from_db()
    assert kpi.decimals == 1
