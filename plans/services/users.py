"""Users managed by managers: create one with a role, teams and a one-time password; deactivate or reactivate.

Team membership itself is the team's (``team_update`` with ``members``), versioned and kept in its history.
"""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..permissions import MANAGER, ROLE_LABELS

# Letters and digits a reader cannot mistake for one another (no 0/O, 1/l/I), for a password read aloud.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 16


def one_time_password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


@transaction.atomic
def user_create(
    *, username: str, role: str, first_name: str = "", last_name: str = "", email: str = "", teams=()
) -> tuple[object, str]:
    """Create an active user with ``role`` (staff or manager) in ``teams``; returns (user, password).

    The password is random and returned once, to be handed to the person, who changes it after signing in;
    only its hash is stored. A taken username is refused (ValidationError on ``username``).
    """
    if role not in ROLE_LABELS:
        raise ValidationError({"role": _("Select a valid choice.")})
    model = get_user_model()
    if model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("A user with this username already exists.")}, code="username_taken")
    password = one_time_password()
    user = model(username=username, first_name=first_name, last_name=last_name, email=email, is_active=True)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    for team in teams:
        team.members.add(user)
    return user, password


@transaction.atomic
def user_set_active(*, user, active: bool, by=None):
    """Deactivate a user (they can no longer sign in; what they wrote keeps their name) or reactivate one.

    Nobody deactivates themselves, nor a superuser: the tracker would risk losing its last manager.
    """
    row = get_user_model().objects.select_for_update().get(pk=user.pk)
    if not active and by is not None and row.pk == by.pk:
        raise ValidationError(_("You cannot deactivate yourself."), code="self")
    if not active and row.is_superuser:
        raise ValidationError(_("A superuser is deactivated by an administrator, not here."), code="superuser")
    if row.is_active != active:
        row.is_active = active
        row.save(update_fields=["is_active"])
    return row


def user_role(user) -> str:
    """The user's role (manager or staff) as ROLE_LABELS names it."""
    return MANAGER if user.groups.filter(name=MANAGER).exists() else "staff"
