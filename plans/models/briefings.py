from django.db import models
from django.utils.translation import gettext_lazy as _

from .plans import Plan

__all__ = ["BriefingSent"]


class BriefingSent(models.Model):
    """The monthly PDF briefing of a plan, e-mailed once to its managers for the month ending ``period_end``.

    The unique constraint makes the beat task (plans.services.briefings) idempotent: a second run, a
    redelivery or a second beat process finds the row and sends nothing.
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+", verbose_name=_("plan"))
    period_end = models.DateField(_("period end"))
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("briefing sent")
        verbose_name_plural = _("briefings sent")
        ordering = ["-period_end", "plan"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "period_end"], name="plans_briefingsent_once_per_month"),
        ]

    def __str__(self):
        return f"{self.plan_id} {self.period_end}"
