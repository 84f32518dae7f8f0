"""The dashboard's KPI and milestone tables as CSV and XLSX (openpyxl).

Each file opens with a few ``label, value`` rows (plan, as-of date, filters, export time, notices),
then a blank row, the column header and the data. Numbers stay numbers (unrounded) so the file
can be recomputed; text that a spreadsheet would run as a formula is prefixed with an apostrophe.

Rows are produced one at a time from a server-side iteration of the queryset, never as a list: the CSV is
streamed to the client as it is written, the XLSX (a zip, written whole by openpyxl's write-only mode) is
spooled to a temporary file and streamed from there. Only the columns shown are read (never the stored
explanations, tens of KB of JSON per item at national scale): decoding those was most of an export's time.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .explain import status_label

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The columns each table shows, and only those, are read: a KPI row holds a dozen more (timestamps, stored
# explanations), and parsing them was most of an export's time.
KPI_COLUMNS = (
    "code",
    "name",
    "goal__code",
    "goal__focus_area__code",
    "owner_team__name",
    "unit",
    "baseline_value",
    "baseline_date",
    "target_value",
    "target_date",
    "forecast_low",
    "forecast_high",
    "stale",
)
MILESTONE_COLUMNS = (
    "goal__code",
    "goal__focus_area__code",
    "title",
    "owner_team__name",
    "start_date",
    "due_date",
    "percent_complete",
    "state",
)
CHUNK_ROWS = 500  # rows fetched per round trip, and CSV rows sent per chunk
SPOOL_BYTES = 8 * 1024 * 1024  # an XLSX larger than this is spooled to disk rather than memory


def _rows_of(items, columns: tuple[str, ...]) -> Iterable:
    """Iterate a queryset in chunks, reading only ``columns`` (and its annotations), caching no row."""
    if isinstance(items, QuerySet):
        return items.only(*columns).iterator(chunk_size=CHUNK_ROWS)
    return items


def safe_text(value):
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def meta_rows(*, plan, as_of, filters: list[tuple[str, str]], notice: str = "", table_note: str = "") -> list:
    rows = [
        [_("Plan"), plan.name],
        [_("As of"), as_of.isoformat() if as_of else _("now (current status)")],
        [_("Filters"), "; ".join(f"{label}: {value}" for label, value in filters) or _("none")],
        [_("Exported at"), timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")],
    ]
    if not as_of and plan.computed_at:
        rows.append([_("Statuses computed at"), timezone.localtime(plan.computed_at).strftime("%Y-%m-%d %H:%M %Z")])
    if table_note:
        rows.append([_("Rows"), table_note])
    if notice:
        rows.append([_("Note"), notice])
    return rows


def _percent(share):
    return None if share is None else round(share * 100, 1)


def kpi_table(kpis, *, as_of) -> tuple[list[str], Iterator[list]]:
    """Header and rows (produced lazily); at a past as-of the interval and stale flag are not kept, so left blank."""
    header = [
        _("Code"),
        _("KPI"),
        _("Focus area"),
        _("Goal"),
        _("Owner team"),
        _("Unit"),
        _("Baseline"),
        _("Baseline date"),
        _("Latest value"),
        _("Latest date"),
        _("Target"),
        _("Target date"),
        _("Progress (%)"),
        _("Forecast"),
        _("Forecast low (95%)"),
        _("Forecast high (95%)"),
        _("Status"),
        _("Score"),
        _("Stale"),
    ]
    return header, _kpi_rows(kpis, past=as_of is not None)


def _kpi_rows(kpis, *, past: bool) -> Iterator[list]:
    for k in _rows_of(kpis, KPI_COLUMNS):
        yield (
            [
                k.code,
                k.name,
                k.goal.focus_area.code,
                k.goal.code,
                k.owner_team.name,
                k.unit,
                k.baseline_value,
                k.baseline_date,
                k.as_of_latest_value,
                k.as_of_latest_date,
                k.target_value,
                k.target_date,
                _percent(k.as_of_progress),
                k.as_of_forecast,
                None if past else k.forecast_low,
                None if past else k.forecast_high,
                status_label(k.as_of_status) if k.as_of_status else "",
                k.as_of_score,
                None if past else (_("yes") if k.stale else _("no")),
            ]
        )


def milestone_table(milestones) -> tuple[list[str], Iterator[list]]:
    header = [
        _("Focus area"),
        _("Goal"),
        _("Milestone"),
        _("Owner team"),
        _("Start date"),
        _("Due date"),
        _("Percent complete"),
        _("State"),
        _("Status"),
        _("Score"),
        _("Progress (%)"),
    ]
    rows = (
        [
            m.goal.focus_area.code,
            m.goal.code,
            m.title,
            m.owner_team.name,
            m.start_date,
            m.due_date,
            m.percent_complete,
            str(m.get_state_display()),
            status_label(m.as_of_status) if m.as_of_status else "",
            m.as_of_score,
            _percent(m.as_of_progress),
        ]
        for m in _rows_of(milestones, MILESTONE_COLUMNS)
    )
    return header, rows


def _csv_cell(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str):
        return safe_text(value)
    return repr(value) if isinstance(value, float) else str(value)


class _Echo:
    """A file whose write returns what it was given: csv.writer then hands back each formatted line."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(*, meta: list, header: list, rows: Iterable[list]) -> Iterator[str]:
    """UTF-8 CSV with a byte-order mark (so spreadsheet programs read non-ASCII names right), in chunks of
    CHUNK_ROWS rows: one write per row would cost a system call per row behind gunicorn."""
    writer = csv.writer(_Echo())
    head = ["\ufeff", *(writer.writerow([_csv_cell(c) for c in row]) for row in meta), writer.writerow([])]
    head.append(writer.writerow([_csv_cell(c) for c in header]))
    yield "".join(head)
    chunk = []
    for row in rows:
        chunk.append(writer.writerow([_csv_cell(c) for c in row]))
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def to_xlsx(*, title: str, meta: list, header: list, rows: Iterable[list]):
    """The workbook in a temporary file, positioned at its start: metadata rows, a bold header, typed cells,
    frozen header. openpyxl's write-only mode keeps no cell once its row is appended."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(str(title)[:31])
    bold = Font(bold=True)

    def cell(value, *, font=None):
        c = WriteOnlyCell(sheet, value=value)
        if font:
            c.font = font
        if hasattr(value, "year"):
            c.number_format = "yyyy-mm-dd"
        return c

    header_row = len(meta) + 2
    sheet.freeze_panes = f"A{header_row + 1}"
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(name)) + 4))
    for row in meta:
        values = [safe_text(str(c)) for c in row]
        sheet.append([cell(values[0], font=bold), *values[1:]])
    sheet.append([])
    sheet.append([cell(str(c), font=bold) for c in header])
    for row in rows:
        sheet.append([cell(safe_text(c)) for c in row])
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - the response closes it
    book.save(out)
    out.seek(0)
    return out
