"""CSV and XLSX exports of the dashboard tables, parsed back and checked."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from plans.exports import safe_text
from plans.models import KPI
from tests.factories import KPIFactory, MilestoneFactory
from tests.test_dashboard_views import build_plan

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
    assert header[:6] == ["Code", "KPI", "Focus area", "Goal", "Owner team", "Unit"]
    assert [r["Code"] for r in rows] == ["K00", "K02", "K01", "K03"]
    first = rows[0]
    kpi = KPI.objects.get(code="K00")
    assert first["Baseline"] == "60.0" and first["Target"] == "80.0" and first["Latest value"] == "70.0"
    assert first["Latest date"] == "2025-06-30" and first["Target date"] == "2025-12-31"
    assert float(first["Forecast"]) == pytest.approx(kpi.forecast_value)
    assert float(first["Forecast low (95%)"]) == pytest.approx(kpi.forecast_low)
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
    assert {r["Forecast"] for r in rows} == {"66.5"}
    assert {r["Forecast low (95%)"] for r in rows} == {""}  # snapshots keep no interval


def test_milestone_csv_lists_the_attention_table_unless_a_status_is_chosen(client, manager, plan):
    client.force_login(manager)
    meta, header, rows = read_csv(export(client, plan, "milestones", "csv"))
    assert meta["Rows"] == "Milestones that are overdue, off track or at risk."
    assert header[:3] == ["Focus area", "Goal", "Milestone"]
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
    assert [c.value for c in sheet[header_row]][:3] == ["Code", "KPI", "Focus area"]
    assert all(c.font.b for c in sheet[header_row])
    assert sheet.column_dimensions["A"].width == 10 and sheet.column_dimensions["P"].width == 23
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
