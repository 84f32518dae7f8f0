from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["UserLanguage"]


class UserLanguage(models.Model):
    """The interface language a person chose with the language switcher, applied at each sign-in
    (plans.language). The code is one of ``settings.LANGUAGES``; the switcher refuses any other."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="language_choice",
        verbose_name=_("user"),
    )
    language = models.CharField(_("language"), max_length=16)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("interface language")
        verbose_name_plural = _("interface languages")

    def __str__(self):
        return f"{self.user} · {self.language}"
