from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plans.choices import ChangeAction, ChangeChannel, DefinitionItemType

from .api import ApiToken
from .base import choices_check

__all__ = ["DefinitionChange"]


class DefinitionChange(models.Model):
    """Append-only history of definitions (plans, focus areas, goals, KPIs, milestones, teams): who, when,
    through which channel, and each field's old and new value.

    Why an explicit model rather than django-pghistory or django-simple-history: pghistory records with
    PostgreSQL triggers, but the project's default database is SQLite (``make run`` without
    DATABASE_URL), so history would silently stop there; and triggers cannot know the author or the
    channel without a context set on every connection. simple-history hooks ``save()`` signals, which
    the set-based writes (``update()``, bulk) skip. Every definition write already goes through one
    locked-update helper (``plans.services.rows.row_update``) and a few create and delete services,
    so the rows are written there, in the write's transaction, with the author the caller passes.

    An update leaves one row per changed field; a create or delete one row with ``field`` blank and
    the item's values as ``new_value`` or ``old_value``. Foreign keys are stored as ids. Rows outlive
    the item (``item_id`` is not a foreign key), so a deleted KPI's history can still be read.
    """

    item_type = models.CharField(_("item type"), max_length=16, choices=DefinitionItemType.choices)
    item_id = models.PositiveBigIntegerField(_("item id"))
    action = models.CharField(_("action"), max_length=8, choices=ChangeAction.choices)
    field = models.CharField(_("field"), max_length=64, blank=True)
    old_value = models.JSONField(_("old value"), null=True, blank=True, encoder=DjangoJSONEncoder)
    new_value = models.JSONField(_("new value"), null=True, blank=True, encoder=DjangoJSONEncoder)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_by_token = models.ForeignKey(
        ApiToken,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by API token"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=ChangeChannel.choices)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("definition change")
        verbose_name_plural = _("definition changes")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["item_type", "item_id", "-changed_at", "-id"], name="plans_defchange_item"),
            models.Index(fields=["changed_at", "id"], name="plans_defchange_sync"),
        ]
        constraints = [
            choices_check("item_type", DefinitionItemType, name="plans_definitionchange_item_type_valid"),
            choices_check("action", ChangeAction, name="plans_definitionchange_action_valid"),
            choices_check("channel", ChangeChannel, name="plans_definitionchange_channel_valid"),
        ]

    def __str__(self):
        what = f".{self.field}" if self.field else ""
        return f"{self.item_type}:{self.item_id}{what} {self.action} {self.changed_at:%Y-%m-%d %H:%M}"

    @property
    def author(self):
        """The user, or else the API token, that made the change."""
        return self.changed_by or self.changed_by_token
