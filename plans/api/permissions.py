"""Who may write what: a token by its scope and team, a user by role (managers) or team (staff)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions

from plans import permissions as item_permissions
from plans import roles

from .authentication import api_token

_UNSET = object()


def writable_team_ids(request) -> set[int] | None:
    """The teams whose items the caller may write; None means every team."""
    cached = getattr(request, "_writable_team_ids", _UNSET)
    if cached is not _UNSET:
        return cached
    token = api_token(request)
    if token is not None:
        result = None if token.team_id is None else {token.team_id}
    elif roles.is_manager(request.user):
        result = None
    else:
        result = roles.team_ids(request.user)
    request._writable_team_ids = result
    return result


def can_write_team(request, team_id: int | None) -> bool:
    teams = writable_team_ids(request)
    return teams is None or team_id in teams


def ensure_can_write_team(request, team_id: int | None) -> None:
    if not can_write_team(request, team_id):
        raise exceptions.PermissionDenied(_("You can only write items owned by your team."))


def _definition_refused(request, fields=()) -> exceptions.PermissionDenied:
    what = (
        _("change the definition of an item (%(fields)s)") % {"fields": ", ".join(fields)}
        if fields
        else _("create or delete goals, milestones and KPIs")
    )
    if api_token(request) is not None:
        message = _(
            "This token may record values and progress but not %(what)s: that needs a token with the manage scope."
        )
    else:
        message = _("Only managers may %(what)s; staff record values and progress.")
    return exceptions.PermissionDenied(message % {"what": what})


def ensure_can_change_definition(request, item=None) -> None:
    """403 unless the caller may create, delete or redefine items (plans.permissions.can_change_definition)."""
    if not item_permissions.can_change_definition(api_token(request) or request.user, item):
        raise _definition_refused(request)


def definition_checked(request, item, data: dict) -> dict:
    """The part of an update's ``data`` the caller may write: all of it for those who may change definitions;
    for the others only progress, and 403 when ``data`` would change the definition."""
    if item_permissions.can_change_definition(api_token(request) or request.user, item):
        return data
    changed = item_permissions.definition_changes(item, data)
    if changed:
        raise _definition_refused(request, changed)
    return item_permissions.progress_only(item, data)


class ApiAccess(permissions.BasePermission):
    """Reads for every authenticated caller; writes for write tokens, managers and team members."""

    message = _("You do not have permission to write through the API.")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        token = api_token(request)
        if token is not None:
            if not token.can_write:
                self.message = _("This token is read-only.")
            return token.can_write
        teams = writable_team_ids(request)
        return teams is None or bool(teams)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        self.message = _("You can only write items owned by your team.")
        return can_write_team(request, obj.owner_team_id)
