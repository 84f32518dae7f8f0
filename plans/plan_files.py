"""Plan files: a plan document (plans.plan_document) written to and read from YAML or XLSX.

XLSX holds one sheet per record kind (``KINDS``: Plan, Teams, Focus areas, ...), the column names in the
first row and one record per row after it; YAML one key per kind, the plan a mapping and the others lists of
mappings. Both read back to the same typed document (``plan_file_read``), with every problem named by sheet
(or key), row (the spreadsheet's row, or the YAML item's number) and column: ``PlanFileInvalid``.
``plan_template`` is the small example document the downloadable templates hold.
"""

from __future__ import annotations

import datetime
import io
import math
import zipfile
from dataclasses import dataclass
from typing import Any

import yaml
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .models.base import MAX_ABS_VALUE
from .plan_document import (
    CHOICE,
    DATE,
    FORMAT,
    FORMAT_VERSION,
    INTEGER,
    KINDS,
    LINE,
    NUMBER,
    TEXT,
    WEIGHT,
    Column,
    RecordKind,
    empty_value,
)

XLSX_FIRST_ROW = 2  # row 1 holds the column names
YAML_FIRST_ROW = 1  # items are counted from 1
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class PlanFileError:
    sheet: str
    row: int | None
    field: str
    message: str

    def __str__(self):
        where = " ".join(str(part) for part in (self.sheet, self.row, self.field) if part not in (None, ""))
        return f"{where}: {self.message}" if where else str(self.message)


class PlanFileInvalid(Exception):
    """The file, or the document it holds, cannot be imported: ``errors`` (``PlanFileError``) say where and why."""

    def __init__(self, errors: list[PlanFileError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


# Writing ---------------------------------------------------------------------------------------------------


def plan_yaml(document: dict) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120).encode("utf-8")


def _records(document: dict, kind: RecordKind) -> list[dict]:
    value = document.get(kind.key)
    if kind.single:
        return [value] if value else []
    return value or []


def plan_xlsx(document: dict) -> bytes:
    """One sheet per kind: bold column names, frozen, columns wide enough to read; dates as dates."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for kind in KINDS:
        sheet = book.create_sheet(kind.sheet)
        sheet.freeze_panes = "A2"
        for index, column in enumerate(kind.columns, start=1):
            width = 40 if column.type == TEXT else 24 if column.type == LINE else 14
            sheet.column_dimensions[get_column_letter(index)].width = width
        header = []
        for column in kind.columns:
            cell = WriteOnlyCell(sheet, value=column.name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for record in _records(document, kind):
            sheet.append([_cell(sheet, column, record.get(column.name)) for column in kind.columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(sheet, column: Column, value):
    if value is None or value == "":
        return None
    cell = WriteOnlyCell(sheet, value=value)
    if column.type == DATE:
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, not a formula
    elif isinstance(value, float) and float(f"{value:.16g}") != value:
        # openpyxl writes 16 significant digits; the few floats that need 17 go in as text, read back exactly.
        cell.value, cell.data_type = repr(value), "s"
    return cell


# Reading ---------------------------------------------------------------------------------------------------


def plan_file_read(data: bytes, *, filename: str) -> tuple[dict, int]:
    """The typed document a .yaml/.yml or .xlsx file holds, and the number of its first record's row."""
    name = filename.lower()
    if name.endswith((".yaml", ".yml")):
        return _yaml_read(data), YAML_FIRST_ROW
    if name.endswith(".xlsx"):
        return _xlsx_read(data), XLSX_FIRST_ROW
    raise PlanFileInvalid([PlanFileError("", None, "", str(_("Upload a .xlsx, .yaml or .yml file.")))])


def _yaml_read(data: bytes) -> dict:
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        message = _("The file is not valid YAML (UTF-8): %(error)s") % {"error": str(exc).splitlines()[0]}
        raise PlanFileInvalid([PlanFileError("", None, "", message)]) from exc
    if not isinstance(raw, dict):
        raise PlanFileInvalid([PlanFileError("", None, "", str(_("The file must hold a mapping of record kinds.")))])
    errors: list[PlanFileError] = []
    if raw.get("format", FORMAT) != FORMAT:
        errors.append(PlanFileError("format", None, "", str(_("This is not a plan file of the tracker."))))
    tables = {}
    for kind in KINDS:
        items = raw.get(kind.key)
        if kind.single:
            items = [items] if isinstance(items, dict) else items
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            errors.append(PlanFileError(kind.key, None, "", str(_("Expected a list of records."))))
            continue
        tables[kind.key] = [(YAML_FIRST_ROW + i, item) for i, item in enumerate(items)]
    return _document_build(tables, errors, sheet_name=lambda kind: kind.key)


def _xlsx_read(data: bytes) -> dict:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        message = str(_("The file is not a readable XLSX workbook."))
        raise PlanFileInvalid([PlanFileError("", None, "", message)]) from exc
    errors: list[PlanFileError] = []
    tables = {}
    try:
        for kind in KINDS:
            if kind.sheet not in book.sheetnames:
                tables[kind.key] = []
                continue
            rows = book[kind.sheet].iter_rows(values_only=True)
            header = [str(v).strip() if v is not None else "" for v in next(rows, ())]
            records = []
            for number, row in enumerate(rows, start=XLSX_FIRST_ROW):
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                    continue
                record = {}
                for name, value in zip(header, row, strict=False):
                    if name:
                        record[name] = value
                    elif value not in (None, ""):
                        record[""] = value
                records.append((number, record))
            tables[kind.key] = records
    finally:
        book.close()
    return _document_build(tables, errors, sheet_name=lambda kind: kind.sheet)


def _document_build(tables: dict, errors: list[PlanFileError], *, sheet_name) -> dict:
    document: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION}
    for kind in KINDS:
        sheet = sheet_name(kind)
        known = {column.name for column in kind.columns}
        records = []
        for number, raw in tables.get(kind.key, []):
            for name in raw:
                if name not in known:
                    message = _("Unknown column %(name)s; the columns are: %(names)s.") % {
                        "name": repr(name) if name else _("(no name)"),
                        "names": ", ".join(sorted(known)),
                    }
                    errors.append(PlanFileError(sheet, number, str(name), str(message)))
            record = {}
            for column in kind.columns:
                try:
                    record[column.name] = value_read(column, raw.get(column.name))
                except ValueError as exc:
                    errors.append(PlanFileError(sheet, number, column.name, str(exc)))
            records.append(record)
        if kind.single:
            if len(records) != 1:
                message = _("The plan needs exactly one record (found %(count)d).") % {"count": len(records)}
                errors.append(PlanFileError(sheet, None, "", str(message)))
            document[kind.key] = records[0] if records else {}
        else:
            document[kind.key] = records
    if errors:
        raise PlanFileInvalid(errors)
    return document


def value_read(column: Column, value):
    """The typed value of a cell or YAML value for ``column``; ValueError with the reason when it is not one."""
    if isinstance(value, str) and column.type != TEXT:
        value = value.strip()
    if value is None or value == "":
        if column.required:
            raise ValueError(_("This column is required."))
        return empty_value(column)
    kind = column.type
    if kind in (TEXT, LINE):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, datetime.datetime | datetime.date):
            value = value.isoformat()
        return str(value)
    if kind == CHOICE:
        value = str(value)
        if value not in column.choices:
            raise ValueError(_("Use one of: %(choices)s.") % {"choices": ", ".join(column.choices)})
        return value
    if kind == DATE:
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from None
    if kind == INTEGER:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        raise ValueError(_("Enter a whole number."))
    if kind in (NUMBER, WEIGHT):
        if isinstance(value, bool):
            raise ValueError(_("Enter a number, such as 12.5."))
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(_("Enter a number, such as 12.5.")) from None
        if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
            raise ValueError(_("Enter a real number between -1e15 and 1e15: NaN and infinity are not allowed."))
        return number
    raise ValueError(f"unknown column type {kind}")  # pragma: no cover - a schema error


# The template ----------------------------------------------------------------------------------------------


def plan_template() -> dict:
    """A small plan that shows every sheet in use: the starting point of a plan file."""
    day = datetime.date
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "plan": {
            "slug": "example-plan-2026",
            "name": "Example action plan 2026",
            "name_zh": "2026年示例行动计划",
            "description": "Replace these rows with your plan.",
            "description_zh": "",
            "baseline_year": 2025,
            "start_date": day(2026, 1, 1),
            "end_date": day(2026, 12, 31),
            "counting": "approved",
            "due_lag_monthly": 15,
            "due_lag_quarterly": 30,
            "due_lag_annual": 60,
            "remind_days_before": 3,
            "escalate_after_days": 7,
        },
        "teams": [{"name": "Department of High-Tech Development", "name_zh": "高新技术发展司"}],
        "focus_areas": [
            {
                "code": "RD",
                "name": "R&D capability",
                "name_zh": "研发能力",
                "description": "",
                "description_zh": "",
                "order": 1,
                "weight": 1.0,
            }
        ],
        "goals": [
            {
                "code": "RD-1",
                "focus_area": "RD",
                "title": "Grow enterprise R&D investment",
                "title_zh": "增加企业研发投入",
                "description": "",
                "description_zh": "",
                "owner_team": "Department of High-Tech Development",
                "weight": 1.0,
                "start_date": None,
                "due_date": day(2026, 12, 31),
                "source": "",
                "external_id": "",
            }
        ],
        "kpis": [
            {
                "code": "RD-SPEND",
                "goal": "RD-1",
                "name": "Enterprise R&D spending",
                "name_zh": "企业研发支出",
                "unit": "trillion yuan",
                "unit_zh": "万亿元",
                "direction": "increase",
                "baseline_value": 1.2,
                "baseline_date": day(2025, 12, 31),
                "target_value": 1.3,
                "target_date": day(2026, 12, 31),
                "min_value": 0.0,
                "max_value": None,
                "frequency": "quarterly",
                "weight": 1.0,
                "owner_team": "Department of High-Tech Development",
                "source_note": "",
                "aggregation": "none",
                "national_source": "reported",
                "weight_kpi": "",
                "denominator_kpi": "",
                "ratio_scale": 100.0,
                "base_kpi": "",
                "comparison_kpi": "",
                "comparison_scale": 1.0,
                "source": "",
                "external_id": "",
            }
        ],
        "period_targets": [
            {"kpi": "RD-SPEND", "period_end": day(2026, 6, 30), "target_value": 1.24},
            {"kpi": "RD-SPEND", "period_end": day(2026, 12, 31), "target_value": 1.3},
        ],
        "measurements": [],
        "milestones": [
            {
                "goal": "RD-1",
                "title": "Publish the R&D incentive guideline",
                "title_zh": "发布研发激励指引",
                "description": "",
                "description_zh": "",
                "owner_team": "Department of High-Tech Development",
                "start_date": None,
                "due_date": day(2026, 6, 30),
                "weight": 1.0,
                "percent_complete": 0,
                "state": "planned",
                "completed_on": None,
                "source": "",
                "external_id": "",
            }
        ],
        "milestone_history": [],
    }
