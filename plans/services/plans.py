"""Writes of plans and focus areas, and ``plan_mark_changed``, which every write calls to have its statuses updated."""

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from ..choices import ChangeChannel, PlanState
from ..exceptions import PlanClosed, StaleVersionError
from ..incremental import Changes, plan_changes_apply
from ..models import FocusArea, Plan
from ..page_generation import generation_bump
from .history import definition_created, definition_deleted, definition_updated, item_values
from .sync import _tombstones_for_focus_areas, _tombstones_for_plans


def plan_mark_changed(*, plan_id: int, changes=None) -> None:
    """Count a status-changing write against the plan and, once the write commits, bring its statuses up to date.

    ``changes`` (``plans.incremental.Changes``) says what the write changed; once the transaction
    commits, the incremental update recomputes only that, in-process (a few dozen milliseconds), and the
    whole-plan recompute is enqueued instead when it cannot apply (None: a structural change).

    The counter is bumped inside the caller's transaction, so the plan stays marked as needing a
    recompute even when the broker is unreachable; whatever recompute runs next catches up.
    A closed plan refuses the write (PlanClosed), which rolls back the caller's transaction: every write
    calls this, so every channel (forms, API, bulk, imports) is refused in one place.
    """
    changes = changes or Changes.whole_plan()
    marked = (
        Plan.objects.filter(pk=plan_id)
        .exclude(state=PlanState.CLOSED)
        .update(data_revision=F("data_revision") + 1, marked_at=Now())
    )
    if not marked:
        plan_open_check(plan_id=plan_id)
    generation_bump()  # cached pages: now, and again once the statuses below are up to date
    connection = transaction.get_connection()
    for _, callback, _ in connection.run_on_commit:
        if getattr(callback, "plan_id", None) == plan_id:
            # One update per plan per transaction, however many rows it wrote.
            callback.changes.merge(changes)
            callback.last_revision += 1
            return
    # The row stays locked by the update above until commit, so no other write moves the counter meanwhile.
    revision = Plan.objects.filter(pk=plan_id).values_list("data_revision", flat=True).first() or 0

    # A plain function, not functools.partial: Django 5.2's robust on_commit logs the callback's
    # __qualname__, which partial lacks (ticket #36487).
    def bring_up_to_date():
        from ..recompute_queue import plan_recompute_enqueue

        try:
            if plan_changes_apply(
                plan_id=plan_id,
                changes=bring_up_to_date.changes,
                first_revision=revision,
                last_revision=bring_up_to_date.last_revision,
            ):
                plan_recompute_enqueue(plan_id=plan_id)
        finally:
            generation_bump()  # the committed write, and its statuses once they are up to date

    bring_up_to_date.plan_id = plan_id
    bring_up_to_date.changes = changes
    bring_up_to_date.last_revision = revision
    transaction.on_commit(bring_up_to_date, robust=True)


def plan_open_check(*, plan_id: int) -> None:
    """Refuse (PlanClosed) a write into a closed plan; for writes that do not change a status."""
    plan = Plan.objects.filter(pk=plan_id, state=PlanState.CLOSED).first()
    if plan is not None:
        raise PlanClosed(plan)


@transaction.atomic
def structure_save(
    *,
    item: Plan | FocusArea,
    is_new: bool,
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.ADMIN,
) -> None:
    """Save a plan or focus area edited by a manager (admin or the manage pages): validated, versioned,
    recomputed, its changes recorded (DefinitionChange). ``expected_version``: the version the editor read;
    a save based on an older one is refused (StaleVersionError), nothing changed."""
    before = None
    if not is_new:
        current = type(item).objects.select_for_update().get(pk=item.pk)
        if expected_version is not None and expected_version != current.version:
            raise StaleVersionError(current, changed_at=current.updated_at)
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
def focus_area_delete(
    *, focus_area: FocusArea, expected_version: int | None = None, deleted_by=None, channel: str = ChangeChannel.ADMIN
) -> None:
    """Delete a focus area with its goals and their children, leaving tombstones for syncing clients.
    ``expected_version``: as for ``structure_save``."""
    current = FocusArea.objects.select_for_update().get(pk=focus_area.pk)
    if expected_version is not None and expected_version != current.version:
        raise StaleVersionError(current, changed_at=current.updated_at)
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
