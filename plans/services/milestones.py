"""Writes of milestones: create, update, delete, and the logged progress record (``milestone_progress_record``)."""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import ChangeChannel, MilestoneState
from ..incremental import Changes
from ..models import Milestone, MilestoneUpdate
from ..models.milestones import PROGRESS_FIELDS
from .history import author_split
from .plans import plan_mark_changed, plan_open_check
from .rows import goal_child_fill, row_create, row_delete, row_lock, row_update
from .sync import _tombstones_for_milestones


def milestone_progress_check(*, previous_percent: int, percent_complete: int, state: str, note: str) -> str:
    """Every rule a progress report must meet; returns the state to store, or raises ValidationError by field.

    Done and 100% are one fact, settled this way: a report of 100% in a state other than done or
    cancelled is taken to mean done (the state becomes done, since nothing is left to do), while done
    with less than 100% is refused (the figure contradicts the state and only the reporter can say
    which is right). Cancelled keeps its percent: the work stopped where it stood. A note is required
    when the milestone is blocked (what blocks it) and when the percent goes down from
    ``previous_percent`` (why).
    """
    errors: dict[str, ValidationError] = {}
    if state == MilestoneState.DONE and percent_complete < 100:
        errors["percent_complete"] = ValidationError(
            _("A done milestone is 100%% complete: set 100%%, or choose another state for %(percent)s%%."),
            code="done_needs_100",
            params={"percent": percent_complete},
        )
    elif percent_complete == 100 and state != MilestoneState.CANCELLED:
        state = MilestoneState.DONE
    if not note.strip():
        if state == MilestoneState.BLOCKED:
            errors["note"] = ValidationError(_("Explain what blocks the milestone."), code="note_required_blocked")
        elif percent_complete < previous_percent:
            errors["note"] = ValidationError(
                _("Explain why progress goes down from %(old)s%% to %(new)s%%."),
                code="note_required_drop",
                params={"old": previous_percent, "new": percent_complete},
            )
    if errors:
        raise ValidationError(errors)
    return state


@transaction.atomic
def milestone_progress_record(
    *,
    milestone: Milestone,
    percent_complete: int,
    state: str,
    note: str = "",
    evidence_url: str = "",
    author=None,
    completed_on: datetime.date | None = None,
    expected_version: int | None = None,
) -> MilestoneUpdate:
    """Log milestone progress: update the milestone and append a MilestoneUpdate with the old values.

    ``author`` is a user or an API token.
    The report must meet ``milestone_progress_check`` (100% means done; a note when blocked or going down).
    """
    milestone = row_lock(
        milestone, expected_version, last_change=lambda row: row.updates.select_related("author").first()
    )
    plan_open_check(plan_id=milestone.plan_id)  # a closed plan says so before the report is judged
    previous_percent, previous_state = milestone.percent_complete, milestone.state
    note = note.strip()
    state = milestone_progress_check(
        previous_percent=previous_percent, percent_complete=percent_complete, state=state, note=note
    )
    milestone.percent_complete = percent_complete
    milestone.state = state
    if state == MilestoneState.DONE or percent_complete == 100:
        milestone.completed_on = completed_on or milestone.completed_on or timezone.localdate()
    elif previous_state == MilestoneState.DONE or previous_percent == 100:
        milestone.completed_on = None
    milestone.version += 1
    milestone.full_clean()
    milestone.save()
    user, token = author_split(author)
    update = MilestoneUpdate(
        milestone=milestone,
        percent_complete=percent_complete,
        state=state,
        previous_percent_complete=previous_percent,
        previous_state=previous_state,
        note=note,
        evidence_url=evidence_url,
        author=user,
        author_token=token,
    )
    update.full_clean()
    update.save()
    plan_mark_changed(plan_id=milestone.plan_id, changes=Changes(milestones={milestone.pk}))
    return update


@transaction.atomic
def milestone_create(
    *, data: dict[str, Any], note: str = "", author=None, channel: str = ChangeChannel.WEB
) -> Milestone:
    """Create a milestone; its starting progress meets ``milestone_progress_check`` (from 0%), and a
    ``note`` (needed when it starts blocked) opens its progress log."""
    milestone = Milestone(**data)
    milestone.state = milestone_progress_check(
        previous_percent=0, percent_complete=milestone.percent_complete, state=milestone.state, note=note
    )
    if milestone.state == MilestoneState.DONE and not milestone.completed_on:
        milestone.completed_on = timezone.localdate()
    goal_child_fill(milestone)
    row_create(milestone, author=author, channel=channel)
    if note.strip():
        user, token = author_split(author)
        update = MilestoneUpdate(
            milestone=milestone,
            percent_complete=milestone.percent_complete,
            state=milestone.state,
            note=note.strip(),
            author=user,
            author_token=token,
        )
        update.full_clean()
        update.save()
    return milestone


@transaction.atomic
def milestone_update(
    *,
    milestone: Milestone,
    data: dict[str, Any],
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.WEB,
    note: str = "",
) -> Milestone:
    """Change a milestone; a change of progress or state goes through ``milestone_progress_record`` so it is
    logged and meets its rules, with ``note`` as the log entry's note."""
    progress = {name: data[name] for name in PROGRESS_FIELDS if name in data}
    milestone = row_update(
        milestone,
        {name: value for name, value in data.items() if name not in PROGRESS_FIELDS},
        expected_version=expected_version,
        fill=goal_child_fill,
        author=author,
        channel=channel,
    )
    percent = progress.get("percent_complete", milestone.percent_complete)
    state = progress.get("state", milestone.state)
    completed_on = progress.get("completed_on", milestone.completed_on)
    if (percent, state, completed_on) != (milestone.percent_complete, milestone.state, milestone.completed_on):
        milestone_progress_record(
            milestone=milestone,
            percent_complete=percent,
            state=state,
            completed_on=completed_on,
            author=author,
            note=note,
        )
        milestone.refresh_from_db()
    return milestone


@transaction.atomic
def milestone_delete(
    *, milestone: Milestone, expected_version: int | None = None, deleted_by=None, channel: str = ChangeChannel.WEB
) -> None:
    row_delete(
        milestone,
        expected_version=expected_version,
        tombstones=_tombstones_for_milestones,
        deleted_by=deleted_by,
        channel=channel,
    )
