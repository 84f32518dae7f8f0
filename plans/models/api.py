"""Access and bookkeeping for the REST API: tokens, idempotency keys and deletion tombstones."""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plans.choices import ApiTokenScope

from .base import single_line_validators
from .teams import Team

__all__ = ["ApiToken", "IdempotencyKey", "Tombstone"]

TOKEN_PREFIX_LENGTH = 8


class ApiToken(models.Model):
    """A key an external system sends as ``Authorization: Token <key>``; only its SHA-256 is stored.

    The first characters of the key (``prefix``) are kept in clear so an administrator can tell
    tokens apart; a token with a team writes only that team's items, a token with reporting units only
    those units' figures (plans.permissions). Writes made with a token record
    the token as their author (``*_by_token``), and ``created_by`` the person answerable for it.
    """

    name = models.CharField(_("name"), max_length=100, validators=single_line_validators)
    prefix = models.CharField(_("prefix"), max_length=TOKEN_PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    scope = models.CharField(_("scope"), max_length=8, choices=ApiTokenScope.choices, default=ApiTokenScope.READ)
    authoritative = models.BooleanField(
        _("authoritative source"),
        default=False,
        help_text=_(
            "A statistics bureau's feed: its values are approved on arrival. Other tokens' values arrive as submitted."
        ),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        verbose_name=_("team"),
        help_text=_("When set, the token writes only this team's items."),
    )
    units = models.ManyToManyField(
        "plans.ReportingUnit",
        blank=True,
        related_name="api_tokens",
        verbose_name=_("reporting units"),
        help_text=_(
            "When set, the token reads and writes only these units' figures (a zone's data platform), "
            "never the national ones."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
        help_text=_("Who asked for the token: the person answerable for its writes."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=ApiTokenScope.values), name="plans_apitoken_scope_valid"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def new_key(cls) -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope in (ApiTokenScope.WRITE, ApiTokenScope.MANAGE)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``, replayed for the same key and body.

    ``actor`` is ``token:<id>`` or ``user:<id>``, so one caller's keys never collide with another's.
    ``response_status`` stays empty while the first request is still running.
    """

    LIFETIME = datetime.timedelta(hours=24)

    actor = models.CharField(_("actor"), max_length=64)
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    # JSON text rather than a JSONField: PostgreSQL's jsonb refuses \u0000, which error messages may echo.
    response_body = models.TextField(_("response body"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="plans_idempotency_created")]
        constraints = [models.UniqueConstraint(fields=["actor", "key"], name="plans_idempotency_unique_key")]

    def __str__(self):
        return f"{self.actor} {self.key}"


class Tombstone(models.Model):
    """A row deleted through the services, kept so syncing clients learn about the deletion.

    ``resource`` is the API route name (``kpis``, ``goals``...); ``deleted_at`` and ``id`` order the
    deletions feed the same way (updated_at, id) orders the other lists.
    """

    resource = models.CharField(_("resource"), max_length=32)
    item_id = models.PositiveBigIntegerField(_("item id"))
    plan_id = models.PositiveBigIntegerField(_("plan id"), null=True, blank=True)
    source = models.CharField(_("source system"), max_length=64, blank=True)
    external_id = models.CharField(_("external id"), max_length=128, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deleted by"),
    )
    deleted_by_token = models.ForeignKey(
        ApiToken,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deleted by API token"),
    )
    deleted_at = models.DateTimeField(_("deleted at"), default=timezone.now)

    class Meta:
        verbose_name = _("tombstone")
        verbose_name_plural = _("tombstones")
        ordering = ["deleted_at", "id"]
        indexes = [
            models.Index(fields=["deleted_at", "id"], name="plans_tombstone_sync"),
            models.Index(fields=["resource", "item_id"], name="plans_tombstone_item"),
        ]

    def __str__(self):
        return f"{self.resource}:{self.item_id} {self.deleted_at:%Y-%m-%d %H:%M}"
