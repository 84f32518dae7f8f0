"""The API's DRF permission class: who may write through the API, by the checks of plans.permissions."""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from plans.permissions import can_write_team, writable_team_ids

from .authentication import api_token


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
        teams = writable_team_ids(request.user)
        return teams is None or bool(teams)

    def has_object_permission(self, request, view, obj):
        return request.method in permissions.SAFE_METHODS or self.has_team_permission(request, view, obj.owner_team_id)

    def has_team_permission(self, request, view, team_id: int | None) -> bool:
        """May the caller write an item that ``team_id`` owns (or will own once the write is done)?"""
        self.message = _("You can only write items owned by your team.")
        return can_write_team(request.user, team_id)
