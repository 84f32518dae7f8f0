"""Writes of the reporting-unit register: create, update and delete a nation, province or zone.

Minimal, for the API's ``units`` resource (plans.api); the register import (CSV/XLSX) builds on these.
A unit that has children or figures cannot be deleted (their parent or unit would be lost): end its
active period instead. A delete leaves a tombstone under ``units`` for syncing clients.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..choices import UnitLevel
from ..models import ReportingUnit
from .rows import row_assign, row_lock
from .sync import _tombstones_create

# The level a unit's parent must have: nation > province > zone.
PARENT_LEVEL = {UnitLevel.PROVINCE: UnitLevel.NATION, UnitLevel.ZONE: UnitLevel.PROVINCE}


def _parent_check(unit: ReportingUnit) -> None:
    expected = PARENT_LEVEL.get(unit.level)
    if expected is not None and unit.parent is not None and unit.parent.level != expected:
        raise ValidationError(
            {
                "parent": ValidationError(
                    _("A %(level)s's parent unit must be a %(parent)s."),
                    code="parent_level",
                    params={"level": UnitLevel(unit.level).label, "parent": UnitLevel(expected).label},
                )
            }
        )


@transaction.atomic
def unit_create(*, data: dict[str, Any]) -> ReportingUnit:
    unit = ReportingUnit(**data)
    _parent_check(unit)
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def unit_update(*, unit: ReportingUnit, data: dict[str, Any], expected_version: int | None = None) -> ReportingUnit:
    """Change a unit's fields; the version moves once when anything changed (StaleVersionError when stale)."""
    row = row_lock(unit, expected_version)
    if not row_assign(row, data):
        return row
    if row.parent_id is not None and _is_below(row.parent_id, row.pk):
        raise ValidationError({"parent": _("A unit cannot be placed under itself or one of its own units.")})
    _parent_check(row)
    row.version += 1
    row.full_clean()
    row.save()
    return row


def _is_below(unit_id: int, ancestor_id: int) -> bool:
    """Whether ``unit_id`` is ``ancestor_id`` or lies under it (the tree has three levels: a short walk)."""
    seen = set()
    while unit_id is not None and unit_id not in seen:
        if unit_id == ancestor_id:
            return True
        seen.add(unit_id)
        unit_id = ReportingUnit.objects.filter(pk=unit_id).values_list("parent_id", flat=True).first()
    return False


@transaction.atomic
def unit_delete(*, unit: ReportingUnit, expected_version: int | None = None, deleted_by=None) -> None:
    row = row_lock(unit, expected_version)
    if row.children.exists() or row.measurements.exists():
        raise ValidationError(
            _("This unit still has units under it or recorded figures: end its active period instead."),
            code="unit_in_use",
        )
    _tombstones_create("units", [(row.pk, None, row.source, row.external_id)], deleted_by=deleted_by)
    row.delete()
