"""The API's DRF permission class: who may write through the API, by the checks of plans.permissions."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions

from plans import permissions as item_permissions
from plans.permissions import can_write_team, unit_scope, writable_team_ids

from .authentication import api_token


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
    """Reads for every authenticated caller; writes for write tokens, managers, team members and zone reporters
    (what each may write is checked on the item: ``has_team_permission``, or a view's own check)."""

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
        teams = writable_team_ids(request.user)
        return teams is None or bool(teams) or unit_scope(request.user) is not None

    def has_object_permission(self, request, view, obj):
        # Rows without an owner team (the reporting units) are written by those who write every team's items.
        team_id = getattr(obj, "owner_team_id", None)
        return request.method in permissions.SAFE_METHODS or self.has_team_permission(request, view, team_id)

    def has_team_permission(self, request, view, team_id: int | None) -> bool:
        """May the caller write an item that ``team_id`` owns (or will own once the write is done)?"""
        self.message = _("You can only write items owned by your team.")
        return can_write_team(request.user, team_id)
