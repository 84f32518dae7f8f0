"""Server-side checks for the staff pages, the API and the admin, built on plans.roles: every channel asks these."""

from django.core.exceptions import PermissionDenied

from . import roles
from .models import ApiToken, ApiTokenScope, Milestone
from .services.milestones import PROGRESS_FIELDS


def ensure_can_update(user, item) -> None:
    """Refuse (403) a user who may not update ``item``: only managers and staff of its owner team may."""
    if not roles.can_update(user, item):
        raise PermissionDenied


def can_change_definition(user_or_token, item=None) -> bool:
    """Whether the caller may change what an item is, or create or delete one: managers may, staff may not.

    A definition is everything but recorded values and progress: target, baseline, weight, dates, owner
    team, direction, frequency, bounds, code, name... Staff record measurements and milestone progress
    for their teams' items. An API token (``ApiToken``) may when its scope is ``manage``, and then, if it
    has a team, only for that team's items (``item`` None: no item to check yet).
    """
    if isinstance(user_or_token, ApiToken):
        return user_or_token.scope == ApiTokenScope.MANAGE and (
            user_or_token.team_id is None or item is None or item.owner_team_id == user_or_token.team_id
        )
    return roles.is_manager(user_or_token)


def definition_changes(item, data: dict) -> list[str]:
    """The fields of ``data`` that would change ``item``'s definition: every field but its progress, whose
    value differs (so a client sending a whole item back unchanged changes no definition)."""
    progress = PROGRESS_FIELDS if isinstance(item, Milestone) else ()
    changed = []
    for name, value in data.items():
        if name in progress:
            continue
        field = item._meta.get_field(name)
        current = getattr(item, field.attname if field.is_relation else name)
        if current != (getattr(value, "pk", value) if field.is_relation else value):
            changed.append(name)
    return sorted(changed)


def progress_only(item, data: dict) -> dict:
    """``data`` without the fields a caller who may not change definitions sends back unchanged: writing
    them could still undo a manager's concurrent change."""
    progress = PROGRESS_FIELDS if isinstance(item, Milestone) else ()
    return {name: value for name, value in data.items() if name in progress}
