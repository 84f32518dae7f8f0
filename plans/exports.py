"""The dashboard's KPI and milestone tables as CSV and XLSX.

Each file opens with a few ``label, value`` rows (plan, as-of date, filters, export time, notices),
then a blank row, the column header and the data. A KPI's values (baseline, latest, target, forecast, a zone's
value and change) are rounded half up to the KPI's ``decimals`` and written with exactly that many (19.30 at two),
shares and progress in percent to one, scores to two; in the XLSX they stay numbers, formatted to match
(``#,##0.00``). Text that a spreadsheet would run as a formula is prefixed with an apostrophe.

Rows are read as plain tuples (``values_list``, one query, fetched in chunks from a server-side cursor) and
never kept as a list: no model instance per row, only the columns shown (never the stored explanations).
The CSV is streamed to the client as it is written; the XLSX is written by ``plans.xlsx`` (the sheet's XML
row by row, straight into the zip: openpyxl spent most of an export building a cell object per value) to a
spooled temporary file and streamed from there.
"""

from __future__ import annotations

import csv
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import chain, islice

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import xlsx
from .choices import MilestoneState, Status
from .explain import status_label
from .numbers import rounded

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The columns each table shows, in the file's order (as_of_* are the selectors' annotations): a KPI row holds a
# dozen more (timestamps, stored explanations), and reading them was most of an export's time.
KPI_COLUMNS = (
    "code",
    "name",
    "name_zh",
    "goal__focus_area__code",
    "goal__code",
    "owner_team__name",
    "owner_team__name_zh",
    "unit",
    "unit_zh",
    "baseline_value",
    "baseline_date",
    "as_of_latest_value",
    "as_of_latest_date",
    "target_value",
    "target_date",
    "as_of_progress",
    "as_of_forecast",
    "forecast_low",
    "forecast_high",
    "as_of_status",
    "as_of_score",
    "stale",
    "decimals",
)
MILESTONE_COLUMNS = (
    "goal__focus_area__code",
    "goal__code",
    "title",
    "title_zh",
    "owner_team__name",
    "owner_team__name_zh",
    "start_date",
    "due_date",
    "percent_complete",
    "state",
    "as_of_status",
    "as_of_score",
    "as_of_progress",
)
CHUNK_ROWS = 500  # rows fetched per round trip, and CSV rows sent per chunk
WIDTH_SAMPLE_ROWS = 200  # an XLSX column is as wide as its header and its widest value in these first rows
MIN_WIDTH, MAX_WIDTH = 8, 50  # characters
SCORE_DECIMALS = PER_UNIT_DECIMALS = 2  # as the pages show them
SPOOL_BYTES = 8 * 1024 * 1024  # an XLSX larger than this is spooled to disk rather than memory


def _rows_of(items: QuerySet, columns: tuple[str, ...]) -> Iterable[tuple]:
    """The rows of a queryset as tuples of ``columns``, fetched in chunks, caching none."""
    return items.values_list(*columns).iterator(chunk_size=CHUNK_ROWS)


def safe_text(value):
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def in_chinese(column) -> str:
    """The header of the column that carries the Chinese twin of ``column`` (plans.models.bilingual): the files
    hold both languages' names side by side, whatever the reader's language."""
    return _("%(column)s (Chinese)") % {"column": column}


def meta_rows(*, plan, as_of, filters: list[tuple[str, str]], notice: str = "", table_note: str = "") -> list:
    rows = [
        [_("Plan"), plan.tr.name],
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
    return None if share is None else rounded(share * 100, 1)


def _status_labels() -> dict:
    """Status value -> label in the active language, looked up once per file rather than once per row."""
    labels = {status.value: str(status.label) for status in Status}
    labels[None] = labels[""] = ""
    return labels


def _status_text(labels: dict, value) -> str:
    return labels[value] if value in labels else status_label(value)


def kpi_table(kpis, *, as_of) -> tuple[list[str], Iterator[list]]:
    """Header and rows (produced lazily); at a past as-of the interval and stale flag are not kept, so left blank."""
    header = [
        _("Code"),
        _("KPI"),
        in_chinese(_("KPI")),
        _("Focus area"),
        _("Goal"),
        _("Owner team"),
        in_chinese(_("Owner team")),
        _("Unit"),
        in_chinese(_("Unit")),
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
    # Labels are read when the first row is, so in the language the file is written in (the CSV is written
    # after the view returns).
    labels = _status_labels()
    yes, no = _("yes"), _("no")
    for row in _rows_of(kpis, KPI_COLUMNS):
        *row, places = row
        (code, name, name_zh, area, goal, team, team_zh, unit, unit_zh, baseline, baseline_date, latest, latest_date,
         target, target_date, progress, forecast, low, high, status, score, stale) = row  # fmt: skip
        yield [
            code,
            name,
            name_zh,
            area,
            goal,
            team,
            team_zh,
            unit,
            unit_zh,
            rounded(baseline, places),
            baseline_date,
            rounded(latest, places),
            latest_date,
            rounded(target, places),
            target_date,
            _percent(progress),
            rounded(forecast, places),
            None if past else rounded(low, places),
            None if past else rounded(high, places),
            _status_text(labels, status),
            rounded(score, SCORE_DECIMALS),
            None if past else (yes if stale else no),
        ]


def milestone_table(milestones) -> tuple[list[str], Iterator[list]]:
    header = [
        _("Focus area"),
        _("Goal"),
        _("Milestone"),
        in_chinese(_("Milestone")),
        _("Owner team"),
        in_chinese(_("Owner team")),
        _("Start date"),
        _("Due date"),
        _("Percent complete"),
        _("State"),
        _("Status"),
        _("Score"),
        _("Progress (%)"),
    ]
    return header, _milestone_rows(milestones)


def _milestone_rows(milestones) -> Iterator[list]:
    labels = _status_labels()
    states = {state.value: str(state.label) for state in MilestoneState}
    for row in _rows_of(milestones, MILESTONE_COLUMNS):
        *shown, state, status, score, progress = row
        score = rounded(score, SCORE_DECIMALS)
        yield [*shown, states.get(state, state), _status_text(labels, status), score, _percent(progress)]


class _Echo:
    """A file whose write returns what it was given: csv.writer then hands back each formatted line."""

    def write(self, value: str) -> str:
        return value


def _csv_row(row) -> list:
    # csv writes None as an empty field, a date as its ISO form and a float as its repr: only text needs work.
    return [safe_text(c) if isinstance(c, str) else c for c in row]


def csv_chunks(*, meta: list, header: list, rows: Iterable[list]) -> Iterator[str]:
    """UTF-8 CSV with a byte-order mark (so spreadsheet programs read non-ASCII names right), in chunks of
    CHUNK_ROWS rows: one write per row would cost a system call per row behind gunicorn."""
    writer = csv.writer(_Echo())
    head = ["\ufeff", *(writer.writerow(_csv_row(row)) for row in meta), writer.writerow([])]
    head.append(writer.writerow(_csv_row(header)))
    yield "".join(head)
    chunk = []
    for row in rows:
        chunk.append(writer.writerow(_csv_row(row)))
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def to_xlsx(*, title: str, meta: list, header: list, rows: Iterable[list]):
    """The workbook in a temporary file, positioned at its start: metadata rows (labels bold), a blank row, a
    bold header frozen above typed cells. Rows are written as they come; only the first WIDTH_SAMPLE_ROWS are
    held, to size the columns."""
    bold = xlsx.BOLD
    rows = iter(rows)
    sample = list(islice(rows, WIDTH_SAMPLE_ROWS))

    def styled():
        for row in meta:
            values = [safe_text(str(c)) for c in row]
            yield [(values[0], bold), *values[1:]]
        yield []
        yield [(str(c), bold) for c in header]
        for row in chain(sample, rows):
            yield [safe_text(c) for c in row]

    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - the response closes it
    xlsx.write(out, title=str(title), rows=styled(), widths=column_widths(header, sample), frozen_rows=len(meta) + 2)
    out.seek(0)
    return out


def _shown_width(value) -> int:
    """About how many characters wide a value shows in a spreadsheet: grouped numbers, ISO dates, wide CJK text."""
    if value is None:
        return 0
    if isinstance(value, Decimal):
        text = f"{value:,f}"
    elif isinstance(value, float):
        text = f"{value:,.2f}"
    else:
        text = str(value)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def column_widths(header: list, rows: list[list]) -> list[int]:
    """Each column as wide as its header or its widest value in ``rows`` (a sample), within MIN and MAX_WIDTH."""
    widths = [_shown_width(name) for name in header]
    for row in rows:
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], _shown_width(value))
    return [max(MIN_WIDTH, min(MAX_WIDTH, width + 2)) for width in widths]


def breakdown_meta(*, plan, as_of, breakdown) -> list:
    """The breakdown file's opening rows: the plan and date, the KPI, its period and coverage, the aggregation."""
    kpi = breakdown.kpi
    rows = meta_rows(plan=plan, as_of=as_of, filters=[(_("Sort"), breakdown.sort)])
    rows[2:2] = [[_("KPI"), f"{kpi.code} {kpi.tr.name}"], [_("Period"), breakdown.period_text or _("none")]]
    rows.append([_("Coverage"), breakdown.coverage])
    rows.append([_("Aggregation"), breakdown.aggregation])
    if breakdown.gap:
        rows.append([_("Reported directly"), breakdown.gap])
    if breakdown.compared_to:
        rows.append([_("Change"), f"{breakdown.compared_text} ({breakdown.compared_to.isoformat()})"])
    if breakdown.restricted:
        rows.append([_("Rows"), _("Only the units you report for.")])
    if "demo data" in plan.description.lower():
        rows.append([_("Note"), _("Illustrative demo data.")])
    return rows


def breakdown_table(breakdown) -> tuple[list[str], Iterator[list]]:
    """The nation, each province and its zones, one row each, in the page's order; values to the KPI's decimals."""
    header = [
        _("Level"),
        _("Province code"),
        _("Province"),
        in_chinese(_("Province")),
        _("Zone code"),
        _("Zone"),
        in_chinese(_("Zone")),
        _("Period"),
        _("Value"),
        _("Unit"),
        in_chinese(_("Unit")),
        _("Previous value"),
        _("Change"),
        _("Change (%)"),
        _("Share of the national figure (%)"),
        breakdown.per_unit_label or _("Per unit of the comparison denominator"),
        _("Zones reported"),
        _("Zones expected"),
        _("Status"),
        _("Reported"),
    ]
    return header, _breakdown_rows(breakdown)


def _breakdown_rows(breakdown) -> Iterator[list]:
    labels = _status_labels()
    yes, no = _("yes"), _("no")
    kpi, period = breakdown.kpi, breakdown.period
    national = breakdown.national
    places = kpi.decimals
    if national is not None:
        yield [
            _("Nation"), "", "", "", "", "", "", period, rounded(breakdown.national_value, places), kpi.unit,
            kpi.unit_zh, None, None, None, None, None, national.reported_zones, national.expected_zones, "", "",
        ]  # fmt: skip
    for province in breakdown.provinces:
        p = province.unit
        if province.shown:
            yield [
                _("Province"), p.code, p.name_en, p.name_zh, "", "", "", period, rounded(province.value, places),
                kpi.unit, kpi.unit_zh, rounded(province.previous, places), rounded(province.change, places),
                _percent(province.change_share), _percent(province.share), None,
                province.reported_zones, province.expected_zones, _status_text(labels, province.status), "",
            ]  # fmt: skip
        for zone in province.zones:
            z = zone.unit
            yield [
                _("Zone"), p.code, p.name_en, p.name_zh, z.code, z.name_en, z.name_zh, period,
                rounded(zone.value, places), kpi.unit, kpi.unit_zh, rounded(zone.previous, places),
                rounded(zone.change, places), _percent(zone.change_share), _percent(zone.share),
                rounded(zone.per_unit, PER_UNIT_DECIMALS), None, None, _status_text(labels, zone.status),
                yes if zone.reported else no,
            ]  # fmt: skip
