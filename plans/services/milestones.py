"""Writes of milestones: create, update, delete, and the logged progress record (``milestone_progress_record``)."""

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..choices import ChangeChannel, MilestoneState
from ..models import Milestone, MilestoneUpdate
from ..models.milestones import PROGRESS_FIELDS
from .history import author_split
from .plans import plan_mark_changed
from .rows import goal_child_fill, row_create, row_delete, row_lock, row_update
from .sync import _tombstones_for_milestones


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
    """
    milestone = row_lock(
        milestone, expected_version, last_change=lambda row: row.updates.select_related("author").first()
    )
    previous_percent, previous_state = milestone.percent_complete, milestone.state
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
    plan_mark_changed(plan_id=milestone.plan_id)
    return update


@transaction.atomic
def milestone_create(*, data: dict[str, Any], author=None, channel: str = ChangeChannel.WEB) -> Milestone:
    milestone = Milestone(**data)
    goal_child_fill(milestone)
    row_create(milestone, author=author, channel=channel)
    return milestone


@transaction.atomic
def milestone_update(
    *,
    milestone: Milestone,
    data: dict[str, Any],
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.WEB,
) -> Milestone:
    """Change a milestone; a change of progress or state goes through ``milestone_progress_record`` so it is logged."""
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
            milestone=milestone, percent_complete=percent, state=state, completed_on=completed_on, author=author
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
