"""The two roles (groups created by migration 0002_roles) and every permission check built on them.

Managers update every item; staff update the goals, milestones and KPIs their teams own. The web
pages ask ``can_update`` / ``ensure_can_update``; the API's permission classes (plans.api.permissions)
and views ask ``writable_team_ids`` / ``can_write_team``, which also answer for API tokens.

Zone reporters: a user who is a reporter of any reporting unit (``ReportingUnit.reporters``) and not a
manager sees and records only their units' figures (``unit_scope``, ``measurement_write_refusal``,
``measurements_visible``); an API token with units is confined the same way. Team ownership of items
stays as it is for the national figures.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Q, QuerySet, Value
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from .choices import Aggregation, ApiTokenScope, MeasurementSource
from .models import KPI, ApiToken, Milestone, ReportingUnit
from .models.milestones import PROGRESS_FIELDS

# What a milestone progress report carries: its fields, and the note that goes into its log.
_PROGRESS_REPORT = (*PROGRESS_FIELDS, "note")

STAFF = "staff"
MANAGER = "manager"
ROLE_LABELS = {STAFF: _("Staff"), MANAGER: _("Manager")}


def is_manager(user) -> bool:
    """Kept on the user when it came from the user cache (plans.user_cache)."""
    if hasattr(user, "_is_manager"):
        return user._is_manager
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=MANAGER).exists()))


def is_manager_lazy(user) -> SimpleLazyObject:
    """``is_manager`` for a page that rarely needs it: asked (one query) only if a template branch reads it."""
    return SimpleLazyObject(lambda: is_manager(user))


def team_ids(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    if hasattr(user, "_team_ids"):  # the user cache's (plans.user_cache)
        return set(user._team_ids)
    return set(user.teams.values_list("id", flat=True))


def teams_and_role(user) -> tuple[set[int], bool]:
    """``(team_ids(user), is_manager(user))`` in one query, for a page whose cache key holds both (My work)."""
    if not user.is_authenticated:
        return set(), False
    if hasattr(user, "_team_ids") and hasattr(user, "_is_manager"):  # the user cache's (plans.user_cache)
        return set(user._team_ids), user._is_manager
    teams = user.teams.order_by().values_list("id", Value(0))
    roles = user.groups.filter(name=MANAGER).order_by().values_list("id", Value(1))
    rows = list(teams.union(roles, all=True))
    return {pk for pk, kind in rows if kind == 0}, user.is_superuser or any(kind == 1 for _pk, kind in rows)


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
        _user_scopes_load(user)
    return user._writable_team_ids


def _user_scopes_load(user) -> None:
    """Keep on the user its writable teams and its reporting units (``unit_scope``), read together: the role
    check, then one query for both (a page that asks both pays no more than it did for the teams)."""
    if not user.is_authenticated or is_manager(user):
        user._writable_team_ids = None if user.is_authenticated else set()
        user._unit_scope = None
        return
    # order_by(): the models' default orderings are not allowed inside a UNION on SQLite.
    teams = user.teams.order_by().values_list("id", Value(0))
    units = ReportingUnit.objects.filter(reporters=user.pk).order_by().values_list("id", Value(1))
    rows = list(teams.union(units, all=True))
    user._writable_team_ids = {pk for pk, kind in rows if kind == 0}
    user._unit_scope = frozenset(pk for pk, kind in rows if kind == 1) or None


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


def unit_scope(user) -> frozenset[int] | None:
    """The reporting units whose figures the caller is confined to; None: not confined to units.

    A token with units is confined to them; a token without, as before. A manager is never confined; any
    other user with reporting units is a zone reporter, confined to them; staff without units are not.
    Kept on the user (or token) object, which lives for one request, like ``writable_team_ids``.
    """
    token = getattr(user, "token", None)
    if token is not None:
        if not hasattr(token, "_unit_scope"):
            token._unit_scope = frozenset(token.units.values_list("id", flat=True)) or None
        return token._unit_scope
    if not hasattr(user, "_unit_scope"):
        _user_scopes_load(user)
    return user._unit_scope


def is_zone_reporter(user) -> bool:
    """A signed-in user (not a manager) who reports figures for one or more reporting units."""
    return getattr(user, "token", None) is None and unit_scope(user) is not None


def measurement_write_refusal(user, *, owner_team_id: int | None, unit_id: int | None, source: str = "") -> str | None:
    """Why ``user`` may not write the figure of a KPI that ``owner_team_id`` owns for ``unit_id`` (None: the
    national figure), or None if they may.

    - Derived values (``MeasurementSource.DERIVED``) are computed from the zones: nobody writes or deletes one.
    - A caller confined to units (``unit_scope``: zone reporters, tokens with units) writes only figures of
      its own units, never the national figure. Team ownership does not limit a zone's own figures: a
      Hefei reporter records Hefei's figure on any KPI that aggregates over units (whether it does is the
      service's rule, ``measurement_record``), whichever team owns the KPI; a token with both a team and
      units is held to both.
    - Anyone else writes as before: managers every KPI, for the nation or any unit; staff their teams' national
      figures only (a unit's figures are its reporters' and the managers', as the web form offers them); tokens
      without units their team's KPIs (every team's without a team), for the nation or any unit: a statistics
      bureau's feed of every zone.
    """
    if source == MeasurementSource.DERIVED:
        return str(_("Values derived from the zones' figures are computed by the tracker and cannot be written."))
    units = unit_scope(user)
    if units is not None:
        if unit_id is None:
            return str(_("You record the figures of your reporting units only, not the national figure."))
        if unit_id not in units:
            return str(_("You can only record figures of your own reporting units."))
        token = getattr(user, "token", None)
        if token is None or token.team_id is None or token.team_id == owner_team_id:
            return None
    elif unit_id is not None and getattr(user, "token", None) is None and writable_team_ids(user) is not None:
        return str(_("A unit's figures are recorded by its reporters and by managers."))
    if not can_write_team(user, owner_team_id):
        return str(_("You can only write items owned by your team."))
    return None


def can_record_measurement(user, kpi: KPI) -> bool:
    """May ``user`` open ``kpi``'s measurement form: as ``can_update``, or as a zone reporter on a KPI that
    aggregates over units (they record their units' figures there)."""
    if unit_scope(user) is not None:
        return kpi.aggregation != Aggregation.NONE
    return can_update(user, kpi)


def ensure_can_record_measurement(user, kpi: KPI) -> None:
    if not can_record_measurement(user, kpi):
        raise PermissionDenied


def measurements_visible(user, measurements: QuerySet) -> QuerySet:
    """``measurements`` the caller may read: every national figure, and the units' figures of its own units when
    confined to units (``unit_scope``). In the query itself (a subquery of the caller's units), not a query
    more: a list costs the same for everyone, and a manager's or staff's list is not filtered at all."""
    token = getattr(user, "token", None)
    if token is not None:
        own = ApiToken.units.through.objects.filter(apitoken_id=token.pk).values("reportingunit_id")
        confined = Exists(own)
    elif not user.is_authenticated:
        return measurements.none()
    elif user.is_superuser:
        return measurements
    else:
        own = ReportingUnit.reporters.through.objects.filter(user_id=user.pk).values("reportingunit_id")
        # A manager is never confined: is_manager's test, as a subquery.
        confined = Exists(own) & ~Exists(user.groups.filter(name=MANAGER))
    return measurements.filter(Q(unit__isnull=True) | ~Q(confined) | Q(unit__in=own))


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

    The units ``unit_scope`` confines the caller to and, for a province among them, its zones; a caller
    not confined sees every unit, an anonymous one none. Kept on the user for the request.
    """
    if not user.is_authenticated:
        return frozenset()
    scope = unit_scope(user)
    if scope is None:
        return None
    if not hasattr(user, "_visible_unit_ids"):
        children = ReportingUnit.objects.filter(parent__in=scope).values_list("id", flat=True)
        user._visible_unit_ids = scope | frozenset(children)
    return user._visible_unit_ids
