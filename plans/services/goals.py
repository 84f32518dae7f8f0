"""Writes of goals: create, update and delete (a delete takes the goal's milestones and KPIs with it)."""

from typing import Any

from django.db import transaction

from ..choices import ChangeChannel
from ..models import Goal
from .rows import row_create, row_delete, row_update
from .sync import _tombstones_for_goals


@transaction.atomic
def goal_create(*, data: dict[str, Any], author=None, channel: str = ChangeChannel.WEB) -> Goal:
    goal = Goal(**data)
    goal.plan_id = goal.focus_area.plan_id
    row_create(goal, author=author, channel=channel)
    return goal


@transaction.atomic
def goal_update(
    *,
    goal: Goal,
    data: dict[str, Any],
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.WEB,
) -> Goal:
    """Change a goal's own fields; moving it to a focus area of another plan is refused by ``Goal.clean``."""
    return row_update(goal, data, expected_version=expected_version, author=author, channel=channel)


@transaction.atomic
def goal_delete(
    *, goal: Goal, expected_version: int | None = None, deleted_by=None, channel: str = ChangeChannel.WEB
) -> None:
    """Delete a goal with its milestones, KPIs and measurements, leaving a tombstone for each."""
    row_delete(
        goal,
        expected_version=expected_version,
        tombstones=_tombstones_for_goals,
        deleted_by=deleted_by,
        channel=channel,
    )
