"""One row's version-checked write, shared by the create, update and delete services.

``row_update`` is the whole sequence: lock the row, refuse a stale ``expected_version``, assign, bump
the version once, validate, save, record the DefinitionChange rows, mark the plan changed.
``row_delete`` is its counterpart for a delete, leaving tombstones and a DefinitionChange; ``row_create``
for a create. They start with ``row_lock``, which the measurement and progress services use on their
own, and end with ``row_save``.

``author`` is a user or an API token (see ``plans.services.history``); ``channel`` where the write came
from (``ChangeChannel``).
"""

from typing import Any

from ..choices import ChangeChannel
from ..exceptions import StaleVersionError
from ..incremental import Changes, parent_id
from ..models.milestones import fill_from_goal
from .history import definition_created, definition_deleted, definition_updated, item_values
from .plans import plan_mark_changed


def row_lock(item, expected_version: int | None, *, related=(), last_change=None):
    """Return ``item``'s row locked until the transaction ends; StaleVersionError when its version moved on.

    ``expected_version`` is the version the caller read (None: no check). ``last_change(row)`` gives
    the latest logged change (with ``author`` and ``created_at``), to tell the caller who changed it.
    """
    rows = type(item).objects.select_for_update()
    if related:  # not select_related() with no names: that follows every foreign key
        rows = rows.select_related(*related)
    row = rows.get(pk=item.pk)
    if expected_version is not None and expected_version != row.version:
        last = last_change(row) if last_change else None
        raise StaleVersionError(
            row, changed_by=last.author if last else None, changed_at=last.created_at if last else row.updated_at
        )
    return row


def row_assign(item, data: dict[str, Any]) -> bool:
    """Set ``data`` on ``item``; True when a value differs. Foreign keys are compared by id, without a query."""
    changed = False
    for name, value in data.items():
        field = item._meta.get_field(name)
        if field.is_relation:
            current, new = getattr(item, field.attname), getattr(value, "pk", value)
        else:
            current, new = getattr(item, name), value
        if current != new:
            setattr(item, name, value)
            changed = True
    return changed


def row_save(item, *, previous_plan_id: int | None = None, previous_parent_id: int | None = None) -> None:
    """Validate and save ``item``, then mark what changed in its plan (the parent it left is rolled up
    again); a move to another plan has both plans recomputed whole."""
    item.full_clean()
    item.save()
    if previous_plan_id and previous_plan_id != item.plan_id:
        plan_mark_changed(plan_id=item.plan_id)
        plan_mark_changed(plan_id=previous_plan_id)
        return
    plan_mark_changed(plan_id=item.plan_id, changes=Changes.saved(item, previous_parent_id=previous_parent_id))


def row_create(item, *, author=None, channel: str = ChangeChannel.WEB) -> None:
    """Validate and save a new ``item`` (``row_save``) and record its creation."""
    row_save(item)
    definition_created(item, author=author, channel=channel)


def row_update(
    item,
    data: dict[str, Any],
    *,
    expected_version: int | None,
    fill=None,
    author=None,
    channel: str = ChangeChannel.WEB,
):
    """Lock ``item``, check its version and assign ``data``; only when a value differs, bump the version
    once, call ``fill(row)`` to derive what depends on the new values, save (``row_save``) and record
    each changed field's old and new value (DefinitionChange).

    Returns the locked row, changed or not.
    """
    row = row_lock(item, expected_version)
    previous_plan_id, previous_parent_id = row.plan_id, parent_id(row)
    before = item_values(row)
    if not row_assign(row, data):
        return row
    row.version += 1
    if fill:
        fill(row)
    row_save(row, previous_plan_id=previous_plan_id, previous_parent_id=previous_parent_id)
    definition_updated(row, before, author=author, channel=channel)
    return row


def row_delete(
    item, *, expected_version: int | None, tombstones, deleted_by=None, channel: str = ChangeChannel.WEB
) -> None:
    """Lock ``item``, check its version, leave its tombstones (``tombstones(queryset, deleted_by=...)``
    for the row and what cascades from it) and a DefinitionChange, delete it and mark its plan changed."""
    row = row_lock(item, expected_version)
    tombstones(type(row).objects.filter(pk=row.pk), deleted_by=deleted_by)
    definition_deleted(row, author=deleted_by, channel=channel)
    plan_id, changes = row.plan_id, Changes.deleting(row)
    row.delete()
    plan_mark_changed(plan_id=plan_id, changes=changes)


def goal_child_fill(item) -> None:
    """Keep a milestone's or KPI's denormalised plan that of its goal, and fill its defaults from the goal."""
    if item.goal_id and item.plan_id != item.goal.plan_id:
        item.plan_id = item.goal.plan_id
    fill_from_goal(item)
