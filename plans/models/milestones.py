from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from plans.choices import MilestoneState, Status

from .base import (
    Computed,
    Tracked,
    choices_check,
    multi_line_validators,
    positive_weight_check,
    single_line_validators,
    weight_field,
)
from .bilingual import DESCRIPTION_ZH, TITLE_ZH, Bilingual, zh_text_field
from .plans import ExternalRef, Goal, Plan, date_window_errors, external_id_unique
from .teams import Team

__all__ = ["PROGRESS_FIELDS", "Milestone", "MilestoneUpdate"]

# What staff report about a milestone; every other field is its definition, which managers own.
PROGRESS_FIELDS = ("percent_complete", "state", "completed_on")


class Milestone(Bilingual, Tracked, Computed, ExternalRef):
    """A dated deliverable of a goal, with progress logged by its owner team."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="milestones", editable=False)
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="milestones", verbose_name=_("goal"))
    BILINGUAL_FIELDS = ("title", "description")

    title = models.CharField(_("title"), max_length=300, validators=single_line_validators)
    title_zh = zh_text_field(TITLE_ZH, max_length=300)
    description = models.TextField(_("description"), blank=True, validators=multi_line_validators)
    description_zh = zh_text_field(DESCRIPTION_ZH)
    owner_team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        related_name="milestones",
        blank=True,
        verbose_name=_("owner team"),
        help_text=_("Defaults to the goal's owner team."),
    )
    start_date = models.DateField(
        _("start date"), null=True, blank=True, help_text=_("Defaults to the goal's or the plan's start.")
    )
    due_date = models.DateField(_("due date"))
    weight = weight_field()
    percent_complete = models.PositiveSmallIntegerField(
        _("percent complete"), default=0, validators=[MaxValueValidator(100)]
    )
    state = models.CharField(_("state"), max_length=16, choices=MilestoneState.choices, default=MilestoneState.PLANNED)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)

    class Meta(Tracked.Meta):
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["due_date", "id"]
        indexes = [
            *Tracked.Meta.indexes,
            models.Index(fields=["due_date", "id"], name="plans_milestone_order"),
            models.Index(fields=["owner_team", "due_date"], name="plans_milestone_team_due"),
            models.Index(fields=["plan", "status"], name="plans_milestone_plan_status"),  # the pages' counts
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent_complete__gte=0, percent_complete__lte=100),
                name="plans_milestone_percent_range",
                violation_error_message=_("Percent complete must be between 0 and 100."),
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(due_date__gte=F("start_date")),
                name="plans_milestone_due_after_start",
                violation_error_message=_("The due date cannot be before the start date."),
            ),
            positive_weight_check("plans_milestone_weight_positive"),
            external_id_unique("plans_milestone_unique_external_id"),
            choices_check("state", MilestoneState, name="plans_milestone_state_valid"),
            choices_check("status", Status, name="plans_milestone_status_valid", blank=True),
        ]

    def __str__(self):
        return self.tr.title

    def save(self, *args, **kwargs):
        fill_from_goal(self)
        super().save(*args, **kwargs)

    def clean(self):
        plan = self.plan if self.plan_id else (self.goal.plan if self.goal_id else None)
        errors = date_window_errors(plan, self, ("start_date", "due_date", "completed_on"))
        if errors:
            raise ValidationError(errors)


def fill_from_goal(item) -> None:
    """Derive the denormalised plan and the default owner team of a goal's child."""
    if item.goal_id and (not item.plan_id or not item.owner_team_id):
        item.plan_id = item.plan_id or item.goal.plan_id
        item.owner_team_id = item.owner_team_id or item.goal.owner_team_id


class MilestoneUpdate(models.Model):
    """Append-only log of milestone progress: what changed, from what, by whom and why."""

    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="updates", verbose_name=_("milestone")
    )
    percent_complete = models.PositiveSmallIntegerField(_("percent complete"), validators=[MaxValueValidator(100)])
    state = models.CharField(_("state"), max_length=16, choices=MilestoneState.choices)
    previous_percent_complete = models.PositiveSmallIntegerField(_("previous percent complete"), null=True)
    previous_state = models.CharField(_("previous state"), max_length=16, choices=MilestoneState.choices, blank=True)
    note = models.TextField(_("note"), blank=True, validators=multi_line_validators)
    evidence_url = models.URLField(_("evidence link"), blank=True, validators=single_line_validators)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("author")
    )
    author_token = models.ForeignKey(
        "plans.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author API token"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("milestone update")
        verbose_name_plural = _("milestone updates")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["milestone", "-created_at", "-id"], name="plans_msupdate_history"),
            models.Index(fields=["updated_at", "id"], name="plans_milestoneupdate_sync"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent_complete__gte=0, percent_complete__lte=100),
                name="plans_msupdate_percent_range",
            ),
            choices_check("state", MilestoneState, name="plans_milestoneupdate_state_valid"),
            choices_check(
                "previous_state", MilestoneState, name="plans_milestoneupdate_previous_state_valid", blank=True
            ),
        ]

    def __str__(self):
        return f"{self.milestone}: {self.percent_complete}% {self.get_state_display()}"
