from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .plans import Plan

__all__ = ["PlanVisit"]


class PlanVisit(models.Model):
    """When a user last read what changed in a plan: "What changed" starts from there the next time.

    One row per user and plan, moved forward by every read of the page (plans.services.visits.plan_visit_record).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_visits", verbose_name=_("user")
    )
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="visits", verbose_name=_("plan"))
    visited_at = models.DateTimeField(_("visited at"))

    class Meta:
        verbose_name = _("plan visit")
        verbose_name_plural = _("plan visits")
        ordering = ["user", "plan"]
        constraints = [models.UniqueConstraint(fields=["user", "plan"], name="plans_planvisit_unique_user_plan")]

    def __str__(self):
        return f"{self.user_id}:{self.plan_id} {self.visited_at:%Y-%m-%d %H:%M}"
