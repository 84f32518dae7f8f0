from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import Tracked, single_line_validators

__all__ = ["Team"]


class Team(Tracked):
    """A zone administration or ministry department that owns goals, milestones and KPIs."""

    name = models.CharField(_("name"), max_length=200, unique=True, validators=single_line_validators)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("members")
    )

    class Meta(Tracked.Meta):
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self):
        return self.name
