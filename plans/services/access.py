"""Who may write: users with their role and teams (``user_ensure``), and API tokens (``api_token_create``)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from ..models import ApiToken, Team
from ..models.api import TOKEN_PREFIX_LENGTH


@transaction.atomic
def user_ensure(*, username: str, password: str, role: str, teams=(), admin: bool = False, **fields):
    """Create a user with a role and teams if missing; an existing user is left as it is (password, role,
    teams, admin access): reloading the demo must not undo what an administrator changed since.

    ``admin`` opens the admin site to the user with every permission on the plans app (its writes
    go through these services too, see plans/admin.py).
    """
    model = get_user_model()
    user = model.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = model(username=username, is_staff=admin, **fields)
    user.set_password(password)
    user.full_clean()  # the username's own rule: letters, digits and @.+-_, no control characters
    user.save()
    if admin:
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="plans"))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    for team in teams:
        team.members.add(user)
    return user, True


@transaction.atomic
def api_token_create(
    *, name: str, scope: str, team: Team | None = None, created_by=None, units=(), authoritative: bool = False
):
    """Create an API token; returns (token, key). Only the key's SHA-256 is stored, so the key is shown once.

    ``created_by`` is the person answerable for the token's writes, which record the token as author.
    ``units``: reporting units the token is confined to (a zone's data platform writes only its zone).
    ``authoritative``: a statistics bureau's feed, whose values are approved on arrival.
    """
    key = ApiToken.new_key()
    prefix, key_hash = key[:TOKEN_PREFIX_LENGTH], ApiToken.hash_key(key)
    token = ApiToken(
        name=name,
        scope=scope,
        team=team,
        prefix=prefix,
        key_hash=key_hash,
        created_by=created_by,
        authoritative=authoritative,
    )
    token.full_clean()
    token.save()
    if units:
        token.units.set(units)
    return token, key
