import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from plans.choices import Counting, PlanState, Status

from .base import (
    Computed,
    Tracked,
    choices_check,
    code_validators,
    multi_line_validators,
    positive_weight_check,
    single_line_validators,
    weight_field,
)
from .bilingual import DESCRIPTION_ZH, NAME_ZH, TITLE_ZH, Bilingual, zh_text_field
from .teams import Team

__all__ = ["FocusArea", "Goal", "Plan", "date_window_errors"]

# Dates an item of a plan may carry: from the year before its baseline year to five years past its end.
# A year-1 date is a typo, and one would make every recompute walk thousands of month ends.
WINDOW_YEARS_AFTER_END = 5


def date_window_errors(plan, item, names) -> dict[str, ValidationError]:
    """The fields of ``item`` among ``names`` whose date falls outside ``plan``'s window (``Plan.date_window``)."""
    if plan is None:
        return {}
    first, last = plan.date_window()
    errors = {}
    for name in names:
        value = getattr(item, name)
        if value is not None and not first <= value <= last:
            errors[name] = ValidationError(
                _("The date must lie between %(first)s and %(last)s, the plan's period with its margins."),
                code="outside_plan_window",
                params={"first": first.isoformat(), "last": last.isoformat()},
            )
    return errors


def external_id_unique(name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["source", "external_id"],
        condition=~Q(external_id=""),
        name=name,
        violation_error_message=_("This external id is already used for this source."),
    )


class ExternalRef(models.Model):
    """The id an external system (``source``) knows this row by; unique per source when set."""

    source = models.CharField(_("source system"), max_length=64, blank=True, validators=single_line_validators)
    external_id = models.CharField(_("external id"), max_length=128, blank=True, validators=single_line_validators)

    class Meta:
        abstract = True


class Plan(Bilingual, Tracked, Computed):
    """An action plan: tracked from its baseline year to its end date.

    ``data_revision`` counts committed writes that can change a status; ``computed_revision`` is
    the revision the last recompute read. A plan needs a recompute while they differ, so a write
    that could not reach the broker is caught up by the next recompute from any trigger.
    ``marked_at`` is when the last such write committed: the catch-up task (plans.tasks) recomputes
    a plan still marked a while after it, when that write's own enqueue was evidently lost.
    The ``recompute_*`` fields record failed recomputes (plans.recompute_failures): since when, the last
    one, how many in a row, the error's kind, and when the catch-up tries again; the next success clears them.
    """

    BILINGUAL_FIELDS = ("name", "description")

    name = models.CharField(_("name"), max_length=300, validators=single_line_validators)
    name_zh = zh_text_field(NAME_ZH, max_length=300)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True, validators=multi_line_validators)
    description_zh = zh_text_field(DESCRIPTION_ZH)
    baseline_year = models.PositiveSmallIntegerField(_("baseline year"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    # Lifecycle (plans.services.lifecycle): drafts are seen by managers only; a closed plan refuses every write.
    state = models.CharField(
        _("state"),
        max_length=8,
        choices=PlanState.choices,
        default=PlanState.ACTIVE,
        db_default=PlanState.ACTIVE,
        editable=False,
    )
    data_revision = models.PositiveBigIntegerField(default=0, editable=False)
    computed_revision = models.PositiveBigIntegerField(default=0, editable=False)
    marked_at = models.DateTimeField(null=True, editable=False)
    recompute_failures = models.PositiveIntegerField(default=0, editable=False)
    recompute_failing_since = models.DateTimeField(null=True, editable=False)
    recompute_failed_at = models.DateTimeField(null=True, editable=False)
    recompute_error = models.CharField(max_length=200, blank=True, editable=False)
    recompute_retry_at = models.DateTimeField(null=True, editable=False)
    # Its items counted by status and its KPIs' final figures, at the revision they were counted (plans.tallies).
    tallies = models.JSONField(null=True, blank=True, editable=False)

    # Reporting cycle (plans.reporting): which values count, when each period is due, when to remind.
    counting = models.CharField(
        _("values that count"),
        max_length=16,
        choices=Counting.choices,
        default=Counting.APPROVED,
        help_text=_("Whether only approved values count toward the statuses."),
    )
    due_lag_monthly = models.PositiveSmallIntegerField(
        _("days to report a month"), default=15, help_text=_("A monthly period is due this many days after it ends.")
    )
    due_lag_quarterly = models.PositiveSmallIntegerField(_("days to report a quarter"), default=30)
    due_lag_annual = models.PositiveSmallIntegerField(_("days to report a year"), default=60)
    remind_days_before = models.PositiveSmallIntegerField(_("remind this many days before the due date"), default=3)
    escalate_after_days = models.PositiveSmallIntegerField(
        _("escalate to reviewers this many days after the due date"), default=7
    )

    class Meta(Tracked.Meta):
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["-start_date", "name"]
        indexes = [*Tracked.Meta.indexes, models.Index(fields=["-start_date", "name"], name="plans_plan_order")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")),
                name="plans_plan_end_after_start",
                violation_error_message=_("The end date must be after the start date."),
            ),
            choices_check("status", Status, name="plans_plan_status_valid", blank=True),
            choices_check("counting", Counting, name="plans_plan_counting_valid"),
            choices_check("state", PlanState, name="plans_plan_state_valid"),
        ]

    def __str__(self):
        return self.tr.name

    @property
    def is_draft(self) -> bool:
        return self.state == PlanState.DRAFT

    @property
    def is_closed(self) -> bool:
        return self.state == PlanState.CLOSED

    def date_window(self) -> tuple[datetime.date, datetime.date]:
        """The dates an item of this plan may carry (see ``date_window_errors``)."""
        end = self.end_date
        last = end.replace(year=end.year + WINDOW_YEARS_AFTER_END, day=min(end.day, 28) if end.month == 2 else end.day)
        return datetime.date(self.baseline_year - 1, 1, 1), last

    def due_date(self, frequency: str, period_end: datetime.date) -> datetime.date:
        """When figures for the ``frequency`` period ending ``period_end`` are due (period end + the lag)."""
        lag = {"monthly": self.due_lag_monthly, "quarterly": self.due_lag_quarterly, "annual": self.due_lag_annual}
        return period_end + datetime.timedelta(days=lag[str(frequency)])

    @property
    def needs_recompute(self) -> bool:
        return self.data_revision != self.computed_revision


class FocusArea(Bilingual, Tracked, Computed):
    """A strand of the plan, such as "R&D capability and innovation ecosystem"."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="focus_areas", verbose_name=_("plan"))
    code = models.CharField(_("code"), max_length=32, validators=code_validators)
    BILINGUAL_FIELDS = ("name", "description")

    name = models.CharField(_("name"), max_length=300, validators=single_line_validators)
    name_zh = zh_text_field(NAME_ZH, max_length=300)
    description = models.TextField(_("description"), blank=True, validators=multi_line_validators)
    description_zh = zh_text_field(DESCRIPTION_ZH)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    weight = weight_field()

    class Meta(Tracked.Meta):
        verbose_name = _("focus area")
        verbose_name_plural = _("focus areas")
        ordering = ["plan", "order", "code"]
        indexes = [*Tracked.Meta.indexes, models.Index(fields=["plan", "order", "code"], name="plans_focusarea_order")]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="plans_focusarea_unique_code"),
            positive_weight_check("plans_focusarea_weight_positive"),
            choices_check("status", Status, name="plans_focusarea_status_valid", blank=True),
        ]

    def __str__(self):
        return f"{self.code} {self.tr.name}"


class Goal(Bilingual, Tracked, Computed, ExternalRef):
    """An objective within a focus area, owned by a team, measured by KPIs and milestones."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="goals", editable=False)
    focus_area = models.ForeignKey(
        FocusArea, on_delete=models.CASCADE, related_name="goals", verbose_name=_("focus area")
    )
    code = models.CharField(_("code"), max_length=32, validators=code_validators)
    BILINGUAL_FIELDS = ("title", "description")

    title = models.CharField(_("title"), max_length=300, validators=single_line_validators)
    title_zh = zh_text_field(TITLE_ZH, max_length=300)
    description = models.TextField(_("description"), blank=True, validators=multi_line_validators)
    description_zh = zh_text_field(DESCRIPTION_ZH)
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="goals", verbose_name=_("owner team"))
    weight = weight_field()
    start_date = models.DateField(_("start date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)

    class Meta(Tracked.Meta):
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        ordering = ["plan", "code"]
        indexes = [
            *Tracked.Meta.indexes,
            models.Index(fields=["focus_area", "code"], name="plans_goal_order"),
            models.Index(fields=["plan", "status"], name="plans_goal_plan_status"),  # the pages' counts
            # The goal table's page keys (KeysFirstPaginator), and the goals' focus areas for the KPI table's, read
            # from the index alone: a goal's row holds its explanation, so a scan of the rows reads ~100x the pages.
            models.Index(fields=["plan", "focus_area", "code", "id"], name="plans_goal_page"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="plans_goal_unique_code"),
            models.CheckConstraint(
                condition=Q(due_date__gte=F("start_date")) | Q(start_date__isnull=True) | Q(due_date__isnull=True),
                name="plans_goal_due_after_start",
                violation_error_message=_("The due date cannot be before the start date."),
            ),
            positive_weight_check("plans_goal_weight_positive"),
            external_id_unique("plans_goal_unique_external_id"),
            choices_check("status", Status, name="plans_goal_status_valid", blank=True),
        ]

    def __str__(self):
        return f"{self.code} {self.tr.title}"

    def save(self, *args, **kwargs):
        if self.focus_area_id and not self.plan_id:
            self.plan_id = self.focus_area.plan_id
        super().save(*args, **kwargs)

    def clean(self):
        if self.focus_area_id and self.plan_id and self.focus_area.plan_id != self.plan_id:
            raise ValidationError({"focus_area": _("The focus area belongs to another plan.")})
        plan = self.plan if self.plan_id else (self.focus_area.plan if self.focus_area_id else None)
        errors = date_window_errors(plan, self, ("start_date", "due_date"))
        if errors:
            raise ValidationError(errors)
