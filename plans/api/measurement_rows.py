"""Read the bulk payload's rows and turn them into service rows: resolve KPI references in one query and unit
codes in another, check what the caller may write (its teams, or its reporting units)."""

import datetime
import math

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied, ValidationError

from plans import selectors
from plans.models.base import MAX_ABS_VALUE, MAX_ID
from plans.permissions import measurement_write_refusal
from plans.services import MeasurementRow

from .serializers import MAX_BULK_ROWS, MAX_TEXT_LENGTH, BulkMeasurementRowSerializer, BulkMeasurementsSerializer

ROW_FIELDS = frozenset(
    ("kpi", "kpi_external_id", "kpi_source", "unit", "date", "value", "numerator", "denominator", "note", "external_id")
)
TEXT_LIMITS = {"kpi_external_id": 128, "kpi_source": 64, "unit": 32, "note": MAX_TEXT_LENGTH, "external_id": 128}
NUMBER_FIELDS = ("value", "numerator", "denominator")


def _plain_text(value, limit: int) -> bool:
    """Text the row serializer would take unchanged: no surrounding blanks (it trims them), no control,
    null or surrogate characters (it refuses those), within the length limit."""
    return type(value) is str and len(value) <= limit and value == value.strip() and value.isprintable()


def _quick_row(row) -> dict | None:
    """The row as BulkMeasurementRowSerializer validates it, for the common well-formed row; None for any
    row it would not take exactly as given, which then goes through the serializer itself (its messages)."""
    if type(row) is not dict or not row.keys() <= ROW_FIELDS or ("kpi" in row) == ("kpi_external_id" in row):
        return None
    if "kpi" in row and not (type(row["kpi"]) is int and 0 < row["kpi"] <= MAX_ID):
        return None
    if ("kpi_external_id" in row and not row["kpi_external_id"]) or ("unit" in row and not row["unit"]):
        return None
    for name, limit in TEXT_LIMITS.items():
        if name in row and not _plain_text(row[name], limit):
            return None
    date = row.get("date")
    if type(date) is not str or len(date) != 10 or date[4] != "-" or date[7] != "-":
        return None
    numbers = {}
    for name in NUMBER_FIELDS:  # absent, or a finite JSON number within range (the value's absence is the service's)
        if name in row:
            number = row[name]
            if type(number) not in (int, float) or not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
                return None
            numbers[name] = float(number)
    try:
        parsed = datetime.date.fromisoformat(date)
    except ValueError:
        return None
    return {"note": "", "external_id": "", **row, "date": parsed, **numbers}


def measurements_bulk_validate(data) -> list[dict]:
    """The payload's rows, validated as BulkMeasurementsSerializer does, in one pass of plain Python for the
    rows it settles (a DRF field per value costs about 0.3 ms a row: 3 s for 10,000). Raises ValidationError
    with the serializer's own messages, by row index."""
    rows = data.get("measurements") if isinstance(data, dict) and data.keys() == {"measurements"} else None
    if type(rows) is not list or not 0 < len(rows) <= MAX_BULK_ROWS:
        serializer = BulkMeasurementsSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["measurements"]
    result, errors = [], {}
    for index, row in enumerate(rows):
        quick = _quick_row(row)
        if quick is None:
            serializer = BulkMeasurementRowSerializer(data=row)
            if not serializer.is_valid():
                errors[str(index)] = serializer.errors
                continue
            quick = serializer.validated_data
        result.append(quick)
    if errors:
        raise ValidationError({"measurements": errors})
    return result


def _kpi_for_row(row: dict, by_id: dict, by_ref: dict, by_external_id: dict) -> tuple[int | None, str | None]:
    """(kpi id, None) or (None, error message)."""
    if "kpi" in row:
        return (row["kpi"], None) if row["kpi"] in by_id else (None, _("Unknown KPI."))
    external_id = row["kpi_external_id"]
    if "kpi_source" in row:
        kpi_id = by_ref.get((row["kpi_source"], external_id))
        return (kpi_id, None) if kpi_id else (None, _("No KPI has this source and external id."))
    candidates = by_external_id.get(external_id, [])
    if len(candidates) > 1:
        return None, _("Several KPIs have this external id; give kpi_source too.")
    return (candidates[0], None) if candidates else (None, _("No KPI has this external id."))


def measurements_bulk_rows(request, rows: list[dict]) -> list[MeasurementRow]:
    found = selectors.api_kpis_for_refs(
        ids={row["kpi"] for row in rows if "kpi" in row},
        external_ids={row["kpi_external_id"] for row in rows if "kpi_external_id" in row},
    )
    by_id = {kpi_id: team_id for kpi_id, _source, _external_id, team_id, _plan_id in found}
    by_ref = {(source, external_id): kpi_id for kpi_id, source, external_id, _team, _plan in found if external_id}
    by_external_id: dict[str, list[int]] = {}
    for kpi_id, _source, external_id, _team, _plan in found:
        if external_id:
            by_external_id.setdefault(external_id, []).append(kpi_id)
    # Every unit code of the payload in one query.
    codes = {row["unit"] for row in rows if "unit" in row}
    units = {code: unit.pk for code, unit in selectors.units_by_code(codes).items()}
    errors, forbidden, result = {}, {}, []  # forbidden: reason -> row indexes
    for index, row in enumerate(rows):
        kpi_id, error = _kpi_for_row(row, by_id, by_ref, by_external_id)
        if error:
            errors[str(index)] = {"kpi_external_id" if "kpi_external_id" in row else "kpi": [error]}
            continue
        unit_id = None
        if "unit" in row:
            unit_id = units.get(row["unit"])
            if unit_id is None:
                message = _("No reporting unit has the code %(value)s.") % {"value": row["unit"]}
                errors[str(index)] = {"unit": [message]}
                continue
        refusal = measurement_write_refusal(request.user, owner_team_id=by_id[kpi_id], unit_id=unit_id)
        if refusal:
            forbidden.setdefault(refusal, []).append(index)
            continue
        result.append(
            MeasurementRow(
                kpi_id=kpi_id,
                date=row["date"],
                value=row.get("value"),
                note=row.get("note", ""),
                external_id=row.get("external_id", ""),
                unit_id=unit_id,
                numerator=row.get("numerator"),
                denominator=row.get("denominator"),
            )
        )
    if errors:
        raise ValidationError({"measurements": errors})
    if forbidden:
        reasons = " ".join(
            str(_("Rows %(rows)s: %(reason)s") % {"rows": ", ".join(map(str, indexes[:20])), "reason": reason})
            for reason, indexes in forbidden.items()
        )
        raise PermissionDenied(_("%(reasons)s Nothing was written.") % {"reasons": reasons})
    return result
