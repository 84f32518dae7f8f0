"""The two roles (groups created by migration 0002_roles) and every permission check built on them.

Managers update every item; staff update the goals, milestones and KPIs their teams own. The web
pages ask ``can_update`` / ``ensure_can_update``; the API's permission classes (plans.api.permissions)
and views ask ``writable_team_ids`` / ``can_write_team``, which also answer for API tokens.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from .choices import ApiTokenScope
from .models import ApiToken, Milestone, ReportingUnit
from .models.milestones import PROGRESS_FIELDS

# What a milestone progress report carries: its fields, and the note that goes into its log.
_PROGRESS_REPORT = (*PROGRESS_FIELDS, "note")

STAFF = "staff"
MANAGER = "manager"
ROLE_LABELS = {STAFF: _("Staff"), MANAGER: _("Manager")}


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=MANAGER).exists()))


def is_manager_lazy(user) -> SimpleLazyObject:
    """``is_manager`` for a page that rarely needs it: asked (one query) only if a template branch reads it."""
    return SimpleLazyObject(lambda: is_manager(user))


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
    return is_manager(user_or_token)


def definition_changes(item, data: dict) -> list[str]:
    """The fields of ``data`` that would change ``item``'s definition: every field but its progress, whose
    value differs (so a client sending a whole item back unchanged changes no definition)."""
    progress = _PROGRESS_REPORT if isinstance(item, Milestone) else ()
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
    progress = _PROGRESS_REPORT if isinstance(item, Milestone) else ()
    return {name: value for name, value in data.items() if name in progress}


def visible_units(user) -> frozenset[int] | None:
    """The reporting units whose figures ``user`` may see on the zone pages; None means every unit.

    A zone reporter (a user listed in some units' ``reporters``, not a manager) sees its units and, for a
    province, the province's zones; everyone else sees every unit. (The zone pages' scoping: the scoping of
    the writes, h-zoneaccess, may fold this into its own helper.) Kept on the user for the request; a
    manager costs no query beyond ``writable_team_ids``.
    """
    if not user.is_authenticated:
        return frozenset()
    if getattr(user, "token", None) is not None or writable_team_ids(user) is None:
        return None
    if not hasattr(user, "_visible_unit_ids"):
        ids = ReportingUnit.objects.filter(Q(reporters=user) | Q(parent__reporters=user)).values_list("id", flat=True)
        found = frozenset(ids)
        user._visible_unit_ids = found or None
    return user._visible_unit_ids
