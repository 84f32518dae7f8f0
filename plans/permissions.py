"""Server-side checks for the staff pages, built on plans.roles: every view and every form post asks these."""

from django.core.exceptions import PermissionDenied

from . import roles


def ensure_can_update(user, item) -> None:
    """Refuse (403) a user who may not update ``item``: only managers and staff of its owner team may."""
    if not roles.can_update(user, item):
        raise PermissionDenied
