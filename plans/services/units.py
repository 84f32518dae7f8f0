"""Writes of the reporting-unit register: create, update and the all-or-nothing import from CSV or XLSX.

The register is one tree shared by every plan: nation (the root) > province > zone. A unit is never
deleted here: a zone that is merged or revoked gets an ``active_until`` and keeps its figures.
``units_import`` upserts by code and reports every bad row with its number and field before writing
anything; ``units_read_file`` turns a CSV or XLSX file into the rows it takes.
"""

import csv
import datetime
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import MeasurementSource, UnitLevel
from ..models import KPI, Measurement, MeasurementRevision, ReportingUnit, UnitTarget
from .history import author_split
from .plans import plan_mark_changed
from .rows import row_assign, row_lock
from .sync import _tombstones_create

COLUMNS = ("code", "name_zh", "name_en", "level", "parent_code", "zone_count", "active_from", "active_until")
REQUIRED_COLUMNS = ("code", "name_en", "level")
# The level a unit's parent must have: the tree is exactly nation > province > zone.
PARENT_LEVEL = {UnitLevel.NATION: None, UnitLevel.PROVINCE: UnitLevel.NATION, UnitLevel.ZONE: UnitLevel.PROVINCE}
LEVEL_ORDER = {UnitLevel.NATION: 0, UnitLevel.PROVINCE: 1, UnitLevel.ZONE: 2}
MAX_ROWS = 5000


@dataclass(frozen=True)
class RowError:
    """One problem of an import file: its row number (1 is the header; 0 the file itself) and column."""

    row: int
    field: str
    message: str

    def __str__(self):
        where = _("row %(row)s") % {"row": self.row} if self.row else _("file")
        return f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class UnitImportInvalid(Exception):
    """The register file cannot be imported; ``errors`` lists every problem. Nothing was written."""

    def __init__(self, errors: Sequence[RowError]):
        self.errors = list(errors)
        super().__init__(_("The register has errors; nothing was imported."))


@dataclass
class UnitImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _label(level: str) -> str:
    """A level's name inside a sentence ("a province or region")."""
    return str(UnitLevel(level).label).lower() if level in LEVEL_ORDER else level


def unit_parent_check(*, level: str, parent: ReportingUnit | None) -> None:
    """ValidationError (on ``parent``) unless ``parent`` is at the level above ``level`` (the nation: none)."""
    expected = PARENT_LEVEL.get(level)
    if expected is None:
        if parent is not None:
            raise ValidationError({"parent": _("The nation is the root of the register: it has no parent.")})
        return
    if parent is None:
        raise ValidationError({"parent": _("A %(level)s needs a parent unit.") % {"level": _label(level)}})
    if parent.level != expected:
        raise ValidationError(
            {
                "parent": _("A %(level)s must sit under a %(parent)s, not under a %(actual)s.")
                % {"level": _label(level), "parent": _label(expected), "actual": _label(parent.level)}
            }
        )


def _nation_check(unit: ReportingUnit) -> None:
    others = ReportingUnit.objects.filter(level=UnitLevel.NATION).exclude(pk=unit.pk)
    if unit.level == UnitLevel.NATION and others.exists():
        raise ValidationError({"level": _("The register already has a nation; it has only one root.")})


def _children_check(unit: ReportingUnit) -> None:
    """A unit whose level changes must not leave units under it at the wrong level."""
    wrong = unit.children.exclude(level__in=[lvl for lvl, p in PARENT_LEVEL.items() if p == unit.level])
    if unit.pk and wrong.exists():
        raise ValidationError(
            {"level": _("Units under this one would be at the wrong level: move them to another parent first.")}
        )


@transaction.atomic
def unit_create(
    *,
    code: str,
    name_en: str,
    level: str,
    parent: ReportingUnit | None = None,
    name_zh: str = "",
    zone_count: int = 1,
    active_from: datetime.date | None = None,
    active_until: datetime.date | None = None,
    order: int = 0,
    reporters: Iterable = (),
    source: str = "",
    external_id: str = "",
) -> ReportingUnit:
    """Add a unit to the register under a parent of the level above it (the nation has none)."""
    unit = ReportingUnit(
        source=source,
        external_id=external_id,
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        level=level,
        parent=parent,
        zone_count=zone_count,
        active_from=active_from,
        active_until=active_until,
        order=order,
    )
    unit.full_clean()
    unit_parent_check(level=level, parent=parent)
    _nation_check(unit)
    unit.save()
    unit.reporters.set(reporters)
    return unit


@transaction.atomic
def unit_update(
    *,
    unit: ReportingUnit,
    data: Mapping[str, Any],
    reporters: Iterable | None = None,
    expected_version: int | None = None,
) -> ReportingUnit:
    """Change a unit's fields (and its reporters when given); StaleVersionError if it changed since it was read.

    The version moves once, and only when something differs.
    """
    row = row_lock(unit, expected_version)
    changed = row_assign(row, dict(data))
    reporter_ids = None if reporters is None else sorted(user.pk for user in reporters)
    if reporter_ids is not None and reporter_ids != sorted(row.reporters.values_list("pk", flat=True)):
        changed = True
    if not changed:
        return row
    row.version += 1
    row.full_clean()
    unit_parent_check(level=row.level, parent=row.parent)
    _nation_check(row)
    _children_check(row)
    row.save()
    if reporter_ids is not None:
        row.reporters.set(reporter_ids)
    return row


@transaction.atomic
def unit_target_set(*, kpi: KPI, unit: ReportingUnit, baseline_value: float, target_value: float) -> UnitTarget:
    """Give a unit its own baseline and target for a KPI (or change them); its status is judged against them."""
    target = UnitTarget.objects.select_for_update().filter(kpi=kpi, unit=unit).first() or UnitTarget(kpi=kpi, unit=unit)
    if target.pk and (target.baseline_value, target.target_value) == (baseline_value, target_value):
        return target
    target.baseline_value, target.target_value = baseline_value, target_value
    target.full_clean()
    target.save()
    plan_mark_changed(plan_id=kpi.plan_id)
    return target


@transaction.atomic
def unit_target_delete(*, target: UnitTarget) -> None:
    """Drop a unit's own target: its status is judged against the KPI's again."""
    plan_id = target.kpi.plan_id
    target.delete()
    plan_mark_changed(plan_id=plan_id)


@dataclass(frozen=True)
class UnitValue:
    """A unit's figure for a KPI on a date; a ratio KPI's also carries its numerator (and its own denominator)."""

    unit: ReportingUnit
    date: datetime.date
    value: float
    numerator: float | None = None
    denominator: float | None = None


@transaction.atomic
def unit_values_load(
    *, kpi: KPI, values: Iterable[UnitValue], note: str = "", recorded_by=None, source: str = MeasurementSource.IMPORT
) -> int:
    """Create the units' figures of ``kpi`` that are missing (by unit, date and source); returns how many.

    A figure already stored is kept as it is, revised or not (the demo loader's rule: create what is
    missing, change nothing). Each value must be a unit's (not the nation's) and within the KPI's
    plausible range; ValidationError names the unit and date, and nothing is written. A unit's values
    may sit on the KPI's baseline date: they are the unit's own baseline, which the aggregation reads.
    """
    stored = set(kpi.measurements.of_units().filter(source=source).values_list("unit_id", "date"))
    user, token = author_split(recorded_by)
    now = timezone.now()
    rows = []
    for item in values:
        if item.unit.pk is None or (item.unit.pk, item.date) in stored:
            continue
        where = f"{item.unit.code} {item.date}"
        if not kpi.value_in_range(item.value):
            raise ValidationError(
                {
                    where: _("%(value)s is outside this KPI's plausible range, %(range)s.")
                    % {"value": item.value, "range": kpi.range_display()}
                }
            )
        row = Measurement(
            kpi=kpi,
            unit=item.unit,
            date=item.date,
            value=item.value,
            numerator=item.numerator,
            denominator=item.denominator,
            note=note.strip(),
            source=source,
            recorded_by=user,
            recorded_by_token=token,
            recorded_at=now,
        )
        try:
            # Uniqueness is the set above (and the constraint behind it): no query per row.
            row.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise ValidationError({where: exc.messages}) from exc
        stored.add((item.unit.pk, item.date))
        rows.append(row)
    if not rows:
        return 0
    Measurement.objects.bulk_create(rows)
    MeasurementRevision.objects.bulk_create(
        MeasurementRevision(measurement=row, value=row.value, note=row.note, author=user, author_token=token)
        for row in rows
    )
    plan_mark_changed(plan_id=kpi.plan_id)
    return len(rows)


# --- the register import -------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a spreadsheet's number typed as a code
        value = int(value)
    return str(value).strip()


def _date_cell(value, column: str, row: int, errors: list[RowError]) -> datetime.date | None:
    if value is None or _text(value) == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(_text(value))
    except ValueError:
        errors.append(RowError(row, column, _("%(value)r is not a date (YYYY-MM-DD).") % {"value": _text(value)}))
        return None


def _count_cell(value, row: int, errors: list[RowError]) -> int:
    text = _text(value)
    if text == "":
        return 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1 or str(count) != text.lstrip("+"):
        errors.append(RowError(row, "zone_count", _("%(value)r is not a whole number of 1 or more.") % {"value": text}))
        return 1
    return count


def _messages(exc: ValidationError, row: int) -> list[RowError]:
    if not hasattr(exc, "error_dict"):
        return [RowError(row, "", message) for message in exc.messages]
    fields = {"parent": "parent_code", "__all__": ""}
    return [
        RowError(row, fields.get(name, name), message)
        for name, errors in exc.message_dict.items()
        for message in errors
    ]


def _parse(rows: Sequence[Mapping[str, Any]], first_row: int, errors: list[RowError]) -> list[dict]:
    """Each row's values, typed; problems of a single row go to ``errors``."""
    parsed, seen = [], {}
    for index, raw in enumerate(rows):
        if raw is None:  # a blank line of the file
            continue
        number = first_row + index
        code = _text(raw.get("code"))
        level = _text(raw.get("level")).lower()
        entry = {
            "row": number,
            "code": code,
            "name_en": _text(raw.get("name_en")),
            "name_zh": _text(raw.get("name_zh")),
            "level": level,
            "parent_code": _text(raw.get("parent_code")),
            "zone_count": _count_cell(raw.get("zone_count"), number, errors),
            "active_from": _date_cell(raw.get("active_from"), "active_from", number, errors),
            "active_until": _date_cell(raw.get("active_until"), "active_until", number, errors),
        }
        if entry["active_from"] and entry["active_until"] and entry["active_until"] < entry["active_from"]:
            errors.append(RowError(number, "active_until", _("A unit cannot stop being active before it starts.")))
        if not code:
            errors.append(RowError(number, "code", _("A code is required.")))
        elif code in seen:
            errors.append(
                RowError(number, "code", _("%(code)s is already on row %(row)s.") % {"code": code, "row": seen[code]})
            )
            continue
        else:
            seen[code] = number
        if level not in LEVEL_ORDER:
            choices = ", ".join(UnitLevel.values)
            errors.append(
                RowError(
                    number, "level", _("%(value)r is not a level (%(choices)s).") % {"value": level, "choices": choices}
                )
            )
        parsed.append(entry)
    return parsed


@transaction.atomic
def units_import(*, rows: Sequence[Mapping[str, Any]], first_row: int = 2) -> UnitImportResult:
    """Create or update the register from ``rows`` (dicts keyed by ``COLUMNS``), matched by code.

    All or nothing: every row is checked first (required values, levels, dates, duplicate codes,
    parents that exist in the file or the register at the level above), and any problem raises
    UnitImportInvalid listing each one with its row number (``first_row`` is the first row's) and
    column; nothing is written then. Importing the same file twice changes nothing.
    """
    errors: list[RowError] = []
    if len(rows) > MAX_ROWS:
        raise UnitImportInvalid([RowError(0, "", _("At most %(max)s rows per file.") % {"max": MAX_ROWS})])
    entries = _parse(rows, first_row, errors)
    stored = {
        unit.code: unit
        for unit in ReportingUnit.objects.select_for_update().filter(code__in=[e["code"] for e in entries])
    }
    in_file = {e["code"]: e for e in entries if e["code"]}
    nations = [e for e in entries if e["level"] == UnitLevel.NATION]
    other_nation = ReportingUnit.objects.filter(level=UnitLevel.NATION).exclude(code__in=list(in_file)).first()
    for entry in nations[1:] if not other_nation else nations:
        if other_nation:
            message = _("The register already has a nation (%(code)s); it has only one root.") % {
                "code": other_nation.code
            }
        else:
            message = _("Only one nation: %(code)s is already the root.") % {"code": nations[0]["code"]}
        errors.append(RowError(entry["row"], "level", message))
    parent_codes = {e["parent_code"] for e in entries if e["parent_code"] and e["parent_code"] not in in_file}
    parents_stored = {unit.code: unit for unit in ReportingUnit.objects.filter(code__in=parent_codes)}
    for entry in entries:
        if entry["level"] not in LEVEL_ORDER:
            continue
        expected = PARENT_LEVEL[entry["level"]]
        code = entry["parent_code"]
        if expected is None:
            if code:
                errors.append(RowError(entry["row"], "parent_code", _("The nation has no parent: leave it empty.")))
            continue
        if not code:
            errors.append(
                RowError(
                    entry["row"],
                    "parent_code",
                    _("A %(level)s needs the code of its %(parent)s.")
                    % {"level": _label(entry["level"]), "parent": _label(expected)},
                )
            )
            continue
        parent_level = in_file[code]["level"] if code in in_file else getattr(parents_stored.get(code), "level", None)
        if parent_level is None:
            errors.append(
                RowError(
                    entry["row"], "parent_code", _("%(code)s is not in the file or the register.") % {"code": code}
                )
            )
        elif parent_level != expected:
            errors.append(
                RowError(
                    entry["row"],
                    "parent_code",
                    _("A %(level)s must sit under a %(parent)s; %(code)s is a %(actual)s.")
                    % {
                        "level": _label(entry["level"]),
                        "parent": _label(expected),
                        "code": code,
                        "actual": _label(parent_level),
                    },
                )
            )
    # Field rules of the model (lengths, code characters, names, the active period), row by row.
    level_before = {code: unit.level for code, unit in stored.items()}
    units, changed = {}, {}
    for entry in entries:
        unit = stored.get(entry["code"]) or ReportingUnit(code=entry["code"], order=entry["row"])
        changed[entry["code"]] = row_assign(unit, _fields(entry))
        reported = {(error.row, error.field) for error in errors}
        try:
            # The constraints need the parent, which the write sets; the period is checked in _parse.
            unit.full_clean(exclude=["parent"], validate_constraints=False)
        except ValidationError as exc:  # a column already reported (a bad level, say) is not reported twice
            errors.extend(e for e in _messages(exc, entry["row"]) if (e.row, e.field) not in reported)
        units[entry["code"]] = unit
    for code, unit in stored.items():
        if level_before[code] != unit.level and unit.children.exclude(code__in=list(in_file)).exists():
            errors.append(
                RowError(
                    in_file[code]["row"],
                    "level",
                    _("Units under %(code)s in the register would be at the wrong level.") % {"code": code},
                )
            )
    if errors:
        raise UnitImportInvalid(
            sorted(errors, key=lambda e: (e.row, COLUMNS.index(e.field) if e.field in COLUMNS else 99))
        )
    return _write(entries, units, changed, stored, parents_stored)


def _fields(entry: dict) -> dict:
    return {name: entry[name] for name in ("name_en", "name_zh", "level", "zone_count", "active_from", "active_until")}


def _write(entries, units, changed, stored, parents_stored) -> UnitImportResult:
    """Parents before children; a row is saved (and its version moves) only when a value differs."""
    result = UnitImportResult()
    saved = dict(parents_stored)
    for entry in sorted(entries, key=lambda e: (LEVEL_ORDER[e["level"]], e["row"])):
        code, unit = entry["code"], units[entry["code"]]
        parent = saved.get(entry["parent_code"]) if entry["parent_code"] else None
        saved[code] = unit
        existing = code in stored
        if existing:
            if not row_assign(unit, {"parent": parent}) and not changed[code]:
                result.unchanged.append(code)
                continue
            unit.version += 1
        else:
            unit.parent = parent
        try:
            unit.full_clean()
        except ValidationError as exc:  # the checks above cover these; a constraint is the last word
            raise UnitImportInvalid(_messages(exc, entry["row"])) from exc
        unit.save()
        (result.updated if existing else result.created).append(code)
    return result


# --- reading a register file ---------------------------------------------------------------------


def units_read_file(file, *, filename: str) -> list[dict[str, Any]]:
    """The rows of a CSV (UTF-8, with or without BOM) or XLSX register, as dicts keyed by column name.

    Raises UnitImportInvalid (row 0) for a file that cannot be read or lacks a required column.
    """
    name = filename.lower()
    try:
        if name.endswith(".xlsx"):
            table = _xlsx_rows(file)
        elif name.endswith(".csv"):
            data = file.read()
            text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
            table = list(csv.reader(io.StringIO(text)))
        else:
            raise UnitImportInvalid([RowError(0, "", _("Upload a .csv or .xlsx file."))])
    except UnicodeDecodeError as exc:
        raise UnitImportInvalid([RowError(0, "", _("The CSV file is not UTF-8 text."))]) from exc
    except (csv.Error, ValueError, KeyError, OSError) as exc:
        raise UnitImportInvalid([RowError(0, "", _("The file cannot be read: %(error)s") % {"error": exc})]) from exc
    if not table:
        raise UnitImportInvalid([RowError(0, "", _("The file is empty."))])
    header = [_text(cell).lower() for cell in table[0]]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise UnitImportInvalid([RowError(1, "", _("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})])
    rows = []
    for cells in table[1:]:
        if all(_text(cell) == "" for cell in cells):
            rows.append(None)  # keeps the row numbers of the file
            continue
        rows.append({column: cells[i] if i < len(cells) else None for i, column in enumerate(header) if column})
    while rows and rows[-1] is None:
        rows.pop()
    return rows


def _xlsx_rows(file) -> list[list]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ValueError(_("not an XLSX workbook")) from exc
    except Exception as exc:  # zipfile.BadZipFile and friends: a corrupt upload
        raise ValueError(_("not an XLSX workbook")) from exc
    try:
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


@transaction.atomic
def unit_delete(*, unit: ReportingUnit, expected_version: int | None = None, deleted_by=None) -> None:
    """Delete a unit that has no units under it and no figures (otherwise end its active period instead);
    a tombstone under ``units`` tells syncing clients."""
    row = row_lock(unit, expected_version)
    if row.children.exists() or row.measurements.exists():
        raise ValidationError(
            _("This unit still has units under it or recorded figures: end its active period instead."),
            code="unit_in_use",
        )
    _tombstones_create("units", [(row.pk, None, row.source, row.external_id)], deleted_by=deleted_by)
    row.delete()
