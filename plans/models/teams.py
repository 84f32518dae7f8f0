from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import Tracked, single_line_validators
from .bilingual import NAME_ZH, Bilingual, zh_text_field

__all__ = ["Team"]


class Team(Bilingual, Tracked):
    """A zone administration or ministry department that owns goals, milestones and KPIs."""

    BILINGUAL_FIELDS = ("name",)

    name = models.CharField(_("name"), max_length=200, unique=True, validators=single_line_validators)
    name_zh = zh_text_field(NAME_ZH, max_length=200)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("members")
    )

    class Meta(Tracked.Meta):
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self):
        return self.tr.name
