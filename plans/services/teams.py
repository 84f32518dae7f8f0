"""Writes of teams: create, update (name and members) and delete, each recorded as a DefinitionChange."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..choices import ChangeChannel
from ..models import Team
from .history import definition_created, definition_deleted, definition_updated, item_values
from .rows import row_assign, row_lock
from .sync import _tombstones_for_teams


def _member_ids(team: Team) -> list[int]:
    return sorted(team.members.values_list("pk", flat=True))


@transaction.atomic
def team_create(*, name: str, name_zh: str = "", members=(), author=None, channel: str = ChangeChannel.WEB) -> Team:
    team = Team(name=name, name_zh=name_zh)
    team.full_clean()
    team.save()
    team.members.set(members)
    definition_created(team, author=author, channel=channel, values={**item_values(team), "members": _member_ids(team)})
    return team


@transaction.atomic
def team_update(
    *,
    team: Team,
    data: dict[str, Any],
    members=None,
    expected_version: int | None = None,
    author=None,
    channel: str = ChangeChannel.WEB,
) -> Team:
    """Change a team's fields and, when ``members`` is given, set its members; the version moves once."""
    row = row_lock(team, expected_version)
    before = {**item_values(row), "members": _member_ids(row)}
    changed = row_assign(row, data)
    if members is not None and sorted(user.pk for user in members) != before["members"]:
        changed = True
    if not changed:
        return row
    row.version += 1
    row.full_clean()
    row.save()
    if members is not None:
        row.members.set(members)
    after = {**item_values(row), "members": _member_ids(row)}
    definition_updated(row, before, author=author, channel=channel, after=after)
    return row


@transaction.atomic
def team_delete(
    *, team: Team, expected_version: int | None = None, deleted_by=None, channel: str = ChangeChannel.WEB
) -> None:
    """Delete a team that owns nothing, leaving a tombstone; its API tokens go with it.

    A team that still owns goals, milestones or KPIs is refused: their owner would be lost.
    """
    row = row_lock(team, expected_version)
    if row.goals.exists() or row.milestones.exists() or row.kpis.exists():
        raise ValidationError(
            _("This team still owns goals, milestones or KPIs: give them another owner first."), code="team_in_use"
        )
    _tombstones_for_teams(Team.objects.filter(pk=row.pk), deleted_by=deleted_by)
    definition_deleted(
        row, author=deleted_by, channel=channel, values={**item_values(row), "members": _member_ids(row)}
    )
    row.delete()
