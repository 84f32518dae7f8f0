"""Turn validated bulk rows into service rows: resolve KPI references in one query, check the caller's teams."""

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied, ValidationError

from plans import selectors
from plans.permissions import can_write_team
from plans.services import MeasurementRow


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
    errors, forbidden, result = {}, [], []
    for index, row in enumerate(rows):
        kpi_id, error = _kpi_for_row(row, by_id, by_ref, by_external_id)
        if error:
            errors[str(index)] = {"kpi_external_id" if "kpi_external_id" in row else "kpi": [error]}
            continue
        if not can_write_team(request.user, by_id[kpi_id]):
            forbidden.append(index)
            continue
        result.append(
            MeasurementRow(
                kpi_id=kpi_id,
                date=row["date"],
                value=row["value"],
                note=row.get("note", ""),
                external_id=row.get("external_id", ""),
            )
        )
    if errors:
        raise ValidationError({"measurements": errors})
    if forbidden:
        shown = ", ".join(str(index) for index in forbidden[:20])
        raise PermissionDenied(_("Rows %(rows)s are KPIs of another team; nothing was written.") % {"rows": shown})
    return result
