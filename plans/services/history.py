"""Who wrote what: a write's author (a user or an API token) and the DefinitionChange rows of definition writes.

An author is passed to the services as a user or an ``ApiToken`` (the API passes the token for token
requests) and stored as two columns, the user and the token, so a token's write names the token and,
through ``ApiToken.created_by``, the person answerable for it.
"""

from typing import Any

from django.utils import timezone

from ..choices import ChangeAction, ChangeChannel, DefinitionItemType
from ..models import KPI, ApiToken, DefinitionChange, FocusArea, Goal, Milestone, Plan, Team

ITEM_TYPES = {
    Plan: DefinitionItemType.PLAN,
    FocusArea: DefinitionItemType.FOCUS_AREA,
    Goal: DefinitionItemType.GOAL,
    KPI: DefinitionItemType.KPI,
    Milestone: DefinitionItemType.MILESTONE,
    Team: DefinitionItemType.TEAM,
}


def author_split(author) -> tuple[Any, ApiToken | None]:
    """(user, token) to store for ``author``: a user, an ApiToken, the API's token user, or None."""
    if author is None:
        return None, None
    if isinstance(author, ApiToken):
        return None, author
    token = getattr(author, "token", None)  # plans.api.authentication.TokenUser
    if isinstance(token, ApiToken):
        return None, token
    return (author, None) if getattr(author, "pk", None) is not None else (None, None)


def item_values(item) -> dict[str, Any]:
    """The fields a person defines (editable, not the id), foreign keys as ids."""
    return {
        field.name: field.value_from_object(item)
        for field in item._meta.concrete_fields
        if field.editable and not field.primary_key
    }


def _change(item, action: str, field: str, old, new, *, author, channel: str, now) -> DefinitionChange:
    user, token = author_split(author)
    return DefinitionChange(
        item_type=ITEM_TYPES[type(item)],
        item_id=item.pk,
        action=action,
        field=field,
        old_value=old,
        new_value=new,
        changed_by=user,
        changed_by_token=token,
        channel=channel,
        changed_at=now,
    )


def definition_created(item, *, author=None, channel: str = ChangeChannel.WEB, values: dict | None = None) -> None:
    values = item_values(item) if values is None else values
    _change(item, ChangeAction.CREATED, "", None, values, author=author, channel=channel, now=timezone.now()).save()


def definition_updated(
    item, before: dict[str, Any], *, author=None, channel: str = ChangeChannel.WEB, after: dict | None = None
) -> int:
    """One row per field whose value differs between ``before`` and now (or ``after``); returns how many."""
    after = item_values(item) if after is None else after
    now = timezone.now()
    changes = [
        _change(item, ChangeAction.UPDATED, name, before[name], after[name], author=author, channel=channel, now=now)
        for name in before
        if name in after and before[name] != after[name]
    ]
    DefinitionChange.objects.bulk_create(changes)
    return len(changes)


def definition_deleted(item, *, author=None, channel: str = ChangeChannel.WEB, values: dict | None = None) -> None:
    """Call before the delete, while ``item`` still has its id."""
    values = item_values(item) if values is None else values
    _change(item, ChangeAction.DELETED, "", values, None, author=author, channel=channel, now=timezone.now()).save()
