"""Writes of plans and focus areas, and ``plan_mark_changed``, which every write calls to have its plan recomputed."""

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from ..choices import ChangeChannel
from ..models import FocusArea, Plan
from .history import definition_created, definition_deleted, definition_updated, item_values
from .sync import _tombstones_for_focus_areas, _tombstones_for_plans


def plan_mark_changed(*, plan_id: int) -> None:
    """Count a status-changing write against the plan and enqueue its recompute once the write commits.

    The counter is bumped inside the caller's transaction, so the plan stays marked as needing a
    recompute even when the broker is unreachable; whatever recompute runs next catches up.
    """
    Plan.objects.filter(pk=plan_id).update(data_revision=F("data_revision") + 1, marked_at=Now())
    connection = transaction.get_connection()
    if any(getattr(callback, "plan_id", None) == plan_id for _, callback, _ in connection.run_on_commit):
        return  # one recompute per plan per transaction, however many rows it wrote
    from ..recompute_queue import plan_recompute_enqueue

    # A plain function, not functools.partial: Django 5.2's robust on_commit logs the callback's
    # __qualname__, which partial lacks (ticket #36487).
    def enqueue():
        plan_recompute_enqueue(plan_id=plan_id)

    enqueue.plan_id = plan_id
    transaction.on_commit(enqueue, robust=True)


@transaction.atomic
def structure_save(*, item: Plan | FocusArea, is_new: bool, author=None, channel: str = ChangeChannel.ADMIN) -> None:
    """Save a plan or focus area edited by a manager (admin): validated, versioned, recomputed, its
    changes recorded (DefinitionChange)."""
    before = None
    if not is_new:
        current = type(item).objects.select_for_update().get(pk=item.pk)
        before = item_values(current)
        item.version = current.version + 1
    item.full_clean()
    item.save()
    if is_new:
        definition_created(item, author=author, channel=channel)
    else:
        definition_updated(item, before, author=author, channel=channel)
    plan_mark_changed(plan_id=item.pk if isinstance(item, Plan) else item.plan_id)


@transaction.atomic
def focus_area_delete(*, focus_area: FocusArea, deleted_by=None, channel: str = ChangeChannel.ADMIN) -> None:
    """Delete a focus area with its goals and their children, leaving tombstones for syncing clients."""
    _tombstones_for_focus_areas(FocusArea.objects.filter(pk=focus_area.pk), deleted_by=deleted_by)
    definition_deleted(focus_area, author=deleted_by, channel=channel)
    plan_id = focus_area.plan_id
    focus_area.delete()
    plan_mark_changed(plan_id=plan_id)


@transaction.atomic
def plan_delete(*, plan: Plan, deleted_by=None, channel: str = ChangeChannel.ADMIN) -> None:
    """Delete a whole plan, leaving tombstones for it, its focus areas, goals, KPIs, milestones and their rows."""
    _tombstones_for_plans(Plan.objects.filter(pk=plan.pk), deleted_by=deleted_by)
    definition_deleted(plan, author=deleted_by, channel=channel)
    plan.delete()
