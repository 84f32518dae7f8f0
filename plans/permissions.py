"""The two roles (groups created by migration 0002_roles) and every permission check built on them.

Managers update every item; staff update the goals, milestones and KPIs their teams own. The web
pages ask ``can_update`` / ``ensure_can_update``; the API's permission classes (plans.api.permissions)
and views ask ``writable_team_ids`` / ``can_write_team``, which also answer for API tokens.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

STAFF = "staff"
MANAGER = "manager"
ROLE_LABELS = {STAFF: _("Staff"), MANAGER: _("Manager")}


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=MANAGER).exists()))


def team_ids(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(user.teams.values_list("id", flat=True))


def writable_team_ids(user) -> set[int] | None:
    """The teams whose items ``user`` may write; None means every team.

    A caller authenticated by an API token (plans.api.authentication.TokenUser) carries the token: it
    writes its token's team, or every team when the token has none (its scope is the API's to check).
    Anyone else writes every team as a manager, their own teams as staff. The answer is kept on the user
    object, which lives for one request, as Django keeps permissions (``_perm_cache``): a bulk write asks
    once per row.
    """
    token = getattr(user, "token", None)
    if token is not None:
        return None if token.team_id is None else {token.team_id}
    if not hasattr(user, "_writable_team_ids"):
        user._writable_team_ids = None if is_manager(user) else team_ids(user)
    return user._writable_team_ids


def can_write_team(user, team_id: int | None) -> bool:
    teams = writable_team_ids(user)
    return teams is None or team_id in teams


def can_update(user, item) -> bool:
    """Managers update everything; staff update the milestones and KPIs their teams own."""
    return can_write_team(user, item.owner_team_id)


def ensure_can_update(user, item) -> None:
    """Refuse (403) a user who may not update ``item``: only managers and staff of its owner team may."""
    if not can_update(user, item):
        raise PermissionDenied
