from django.db import models
from django.utils.translation import gettext_lazy as _

from plans.choices import ItemType, Status

from .base import choices_check
from .plans import Plan

__all__ = ["StatusSnapshot"]


class StatusSnapshot(models.Model):
    """An item's computed status as of a date: the plan's month ends plus the current day (the latest recompute's).

    Month-end rows also keep the explanation (what the dashboards' "Why?" shows at a past date); the
    current day's keeps only the outcome. Other days are dropped by the next recompute (plans.recompute),
    which bounds the table by the plan's months, not by the days it has been running.
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("plan"))
    item_type = models.CharField(_("item type"), max_length=16, choices=ItemType.choices)
    item_id = models.PositiveBigIntegerField(_("item id"))
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    score = models.FloatField(_("score"), null=True, blank=True)
    progress = models.FloatField(_("progress"), null=True, blank=True)
    forecast = models.FloatField(_("forecast"), null=True, blank=True)
    explanation = models.JSONField(
        _("explanation"),
        null=True,
        blank=True,
        help_text=_("Kept for month ends, so past statuses explain themselves."),
    )

    class Meta:
        verbose_name = _("status snapshot")
        verbose_name_plural = _("status snapshots")
        ordering = ["plan", "as_of", "item_type", "item_id"]
        indexes = [
            models.Index(fields=["plan", "as_of", "item_type", "item_id"], name="plans_snapshot_plan_day"),
            # What the dashboards count on a day (the status trend, the tiles at a past date): read from
            # the index alone, without visiting the wide month-end rows that carry explanations.
            models.Index(fields=["plan", "as_of", "status", "item_type"], name="plans_snapshot_day_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["item_type", "item_id", "as_of"], name="plans_snapshot_unique_item_day"),
            choices_check("item_type", ItemType, name="plans_statussnapshot_item_type_valid"),
            choices_check("status", Status, name="plans_statussnapshot_status_valid"),
        ]

    def __str__(self):
        return f"{self.item_type}:{self.item_id} {self.as_of} {self.status}"
