from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from plans.choices import Aggregation, Direction, Frequency, MeasurementSource, NationalSource, Status
from plans.rollup import final_figure_due_by

from .base import (
    Computed,
    Tracked,
    choices_check,
    code_validators,
    finite_check,
    finite_validators,
    multi_line_validators,
    positive_weight_check,
    single_line_validators,
    weight_field,
)
from .bilingual import NAME_ZH, UNIT_ZH, Bilingual, zh_text_field
from .milestones import fill_from_goal
from .plans import ExternalRef, Goal, Plan, date_window_errors, external_id_unique
from .teams import Team

__all__ = ["KPI", "KPI_MAX_DECIMALS", "Measurement", "MeasurementRevision", "kpi_default_range"]

# The most decimals a KPI's values are shown and exported with (a finer figure is noise in a plan's KPI).
KPI_MAX_DECIMALS = 6

# Words of a unit that name an amount that cannot be negative: money, counts, institutions.
_NON_NEGATIVE_UNIT_WORDS = (
    "yuan",
    "rmb",
    "usd",
    "dollar",
    "euro",
    "trillion",
    "billion",
    "million",
    "thousand",
    "count",
    "number",
    "institution",
    "enterprise",
    "compan",
    "firm",
    "patent",
    "item",
    "people",
    "person",
    "zone",
    "park",
    "project",
)
# Words of a KPI's name or unit that make it a rate of change, which may be negative.
_CHANGE_WORDS = ("growth", "change", "year-on-year", "yoy")


def kpi_default_range(*, unit: str, name: str = "") -> tuple[float | None, float | None]:
    """The plausible (min_value, max_value) of a KPI's values, from its unit and name; None is unbounded.

    - A rate of change ("growth", "year-on-year", ... in the name or unit): a percentage cannot fall
      below -100 and has no upper bound; in other units (index points) it is unbounded. Checked first,
      because the demo plan gives growth rates the unit "%" too (RD-GROWTH, IC-GDP-GROWTH).
    - A percentage share (unit "%", or "percent"/"share" in the unit): 0 to 100.
    - Money, counts and institutions (yuan, trillion, count, enterprises, patents, items ...): 0 or more.
    - Anything else (index points, ratios): unbounded, since a wrong guess would refuse real figures.
    """
    unit_text, name_text = unit.strip().lower(), name.strip().lower()
    is_percent = unit_text in ("%", "pct") or "percent" in unit_text
    if any(word in name_text or word in unit_text for word in _CHANGE_WORDS):
        return (-100.0, None) if is_percent else (None, None)
    if is_percent or "share" in unit_text:
        return 0.0, 100.0
    if any(word in unit_text for word in _NON_NEGATIVE_UNIT_WORDS):
        return 0.0, None
    return None, None


class KPI(Bilingual, Tracked, Computed, ExternalRef):
    """A key performance indicator: from a baseline value to a target, in a direction, with a forecast."""

    # No index of their own for plan, goal and owner team: the composite indexes below (and the unique code) lead
    # with each, and answer their lookups and cascades. Every KPI row a write or a recompute rewrites (a bulk upload
    # bumps the version of each KPI it touches) updated three indexes more for nothing.
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="kpis", editable=False, db_index=False)
    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="kpis", verbose_name=_("goal"), db_index=False
    )
    code = models.CharField(
        _("code"), max_length=32, validators=code_validators, help_text=_("Unique within the plan.")
    )
    BILINGUAL_FIELDS = ("name", "unit")

    name = models.CharField(_("name"), max_length=300, validators=single_line_validators)
    name_zh = zh_text_field(NAME_ZH, max_length=300)
    unit = models.CharField(_("unit"), max_length=64, validators=single_line_validators)
    unit_zh = zh_text_field(UNIT_ZH, max_length=64)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.INCREASE)
    baseline_value = models.FloatField(_("baseline value"), validators=finite_validators)
    baseline_date = models.DateField(_("baseline date"))
    target_value = models.FloatField(_("target value"), validators=finite_validators)
    target_date = models.DateField(_("target date"))
    min_value = models.FloatField(
        _("lowest plausible value"),
        null=True,
        blank=True,
        validators=finite_validators,
        help_text=_("Values below it are refused. Empty: no lower bound. Filled from the unit when left empty."),
    )
    max_value = models.FloatField(
        _("highest plausible value"),
        null=True,
        blank=True,
        validators=finite_validators,
        help_text=_("Values above it are refused. Empty: no upper bound."),
    )
    decimals = models.PositiveSmallIntegerField(
        _("decimals"),
        default=2,
        validators=[MaxValueValidator(KPI_MAX_DECIMALS)],
        help_text=_("How many decimals the KPI's values are shown and exported with: 0 for counts, 1 for shares."),
    )
    frequency = models.CharField(_("reporting frequency"), max_length=16, choices=Frequency.choices)
    weight = weight_field()
    owner_team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        related_name="kpis",
        db_index=False,  # plans_kpi_team_code leads with it
        blank=True,
        verbose_name=_("owner team"),
        help_text=_("Defaults to the goal's owner team."),
    )
    source_note = models.TextField(_("source note"), blank=True, validators=multi_line_validators)

    # How the reporting units' values make the province's and the nation's (plans.aggregation).
    aggregation = models.CharField(
        _("aggregation over units"),
        max_length=8,
        choices=Aggregation.choices,
        default=Aggregation.NONE,
        help_text=_("How the zones' values add up to the provinces' and the nation's."),
    )
    national_source = models.CharField(
        _("national value of record"),
        max_length=8,
        choices=NationalSource.choices,
        default=NationalSource.REPORTED,
        help_text=_("Which national value the status uses when one is reported directly and one is derived."),
    )
    weight_kpi = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        db_index=False,  # indexed where set (Meta.indexes)
        blank=True,
        related_name="+",
        verbose_name=_("weight KPI"),
        help_text=_("Mean: the KPI whose unit values weigh each unit (e.g. zone GDP)."),
    )
    denominator_kpi = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        db_index=False,  # indexed where set (Meta.indexes)
        blank=True,
        related_name="+",
        verbose_name=_("denominator KPI"),
        help_text=_(
            "Ratio: where a unit reports no denominator, this KPI's value gives it (the unit's own, else the nation's)."
        ),
    )
    ratio_scale = models.FloatField(
        _("ratio scale"),
        default=100.0,
        validators=finite_validators,
        help_text=_("Ratio: numerator over denominator times this (100 for a percentage)."),
    )
    base_kpi = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        db_index=False,  # indexed where set (Meta.indexes)
        blank=True,
        related_name="+",
        verbose_name=_("base KPI"),
        help_text=_("Growth: the summed KPI whose year-on-year change this KPI is."),
    )
    comparison_kpi = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        db_index=False,  # indexed where set (Meta.indexes)
        blank=True,
        related_name="+",
        verbose_name=_("comparison denominator"),
        help_text=_("For a fair comparison of units: their values are also shown per unit of this KPI."),
    )
    comparison_scale = models.FloatField(
        _("comparison scale"),
        default=1.0,
        validators=finite_validators,
        help_text=_("Shown per this many of the comparison denominator (e.g. 10000 for per 10,000 employees)."),
    )

    forecast_value = models.FloatField(_("forecast"), null=True, blank=True, editable=False)
    forecast_low = models.FloatField(_("forecast low (95%)"), null=True, blank=True, editable=False)
    forecast_high = models.FloatField(_("forecast high (95%)"), null=True, blank=True, editable=False)
    latest_value = models.FloatField(_("latest value"), null=True, blank=True, editable=False)
    latest_date = models.DateField(_("latest date"), null=True, blank=True, editable=False)
    stale = models.BooleanField(_("stale"), default=False, editable=False)

    class Meta(Tracked.Meta):
        verbose_name = _("KPI")
        verbose_name_plural = _("KPIs")
        ordering = ["plan", "code"]
        indexes = [
            *Tracked.Meta.indexes,
            models.Index(fields=["goal", "code"], name="plans_kpi_goal_code"),
            models.Index(fields=["owner_team", "code"], name="plans_kpi_team_code"),
            # The pages' counts by status and the closure banner's final figures, read from the index alone
            # (COUNT(*)): a plan's KPI rows are wide (their explanations), and scanning 12,000 took 12 ms.
            models.Index(fields=["plan", "status", "latest_date", "target_date"], name="plans_kpi_plan_status"),
            # A page of the dashboard's KPI table, ordered by focus area and code, is found from this index alone
            # (plans.pagination.KeysFirstPaginator), not by sorting every KPI row of the plan.
            models.Index(fields=["plan", "goal", "code", "id"], name="plans_kpi_page"),
            # Every write's aggregates refresh reads the plan's aggregating KPIs (plans.aggregation._kpis): few, and
            # found here instead of by reading every KPI row of the plan (10 ms warm, 250 ms cold at scale 10).
            models.Index(fields=["plan"], condition=~Q(aggregation=Aggregation.NONE), name="plans_kpi_aggregating"),
            # A KPI's ties to other KPIs (cleared when those are deleted) are few: indexed only where set, so the
            # update of a KPI row (each recompute, each upload's version bump) adds no entry for an empty tie.
            *(
                models.Index(fields=[tie], condition=Q(**{f"{tie}__isnull": False}), name=f"plans_kpi_{tie}")
                for tie in ("weight_kpi", "denominator_kpi", "base_kpi", "comparison_kpi")
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="plans_kpi_unique_code"),
            models.CheckConstraint(
                condition=Q(target_date__gt=F("baseline_date")),
                name="plans_kpi_target_after_baseline",
                violation_error_message=_("The target date must be after the baseline date."),
            ),
            finite_check("baseline_value", name="plans_kpi_baseline_finite"),
            finite_check("target_value", name="plans_kpi_target_finite"),
            finite_check("min_value", name="plans_kpi_min_value_finite", nullable=True),
            finite_check("max_value", name="plans_kpi_max_value_finite", nullable=True),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True) | Q(max_value__isnull=True) | Q(min_value__lte=F("max_value")),
                name="plans_kpi_min_value_lte_max_value",
                violation_error_message=_("The lowest plausible value cannot be above the highest."),
            ),
            positive_weight_check("plans_kpi_weight_positive"),
            external_id_unique("plans_kpi_unique_external_id"),
            choices_check("direction", Direction, name="plans_kpi_direction_valid"),
            choices_check("frequency", Frequency, name="plans_kpi_frequency_valid"),
            choices_check("aggregation", Aggregation, name="plans_kpi_aggregation_valid"),
            choices_check("national_source", NationalSource, name="plans_kpi_national_source_valid"),
            models.CheckConstraint(
                condition=Q(ratio_scale__gt=0) & Q(comparison_scale__gt=0),
                name="plans_kpi_scales_positive",
                violation_error_message=_("Scales must be above zero."),
            ),
            choices_check("status", Status, name="plans_kpi_status_valid", blank=True),
            models.CheckConstraint(
                condition=Q(decimals__lte=KPI_MAX_DECIMALS),
                name="plans_kpi_decimals_at_most_max",
                violation_error_message=format_lazy(
                    _("A KPI is shown with at most {max} decimals."), max=KPI_MAX_DECIMALS
                ),
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.tr.name}"

    def save(self, *args, **kwargs):
        fill_from_goal(self)
        super().save(*args, **kwargs)

    def clean(self):
        # The baseline and the target are values of the KPI too: a range that excludes them is a typo.
        errors = {}
        for name in ("baseline_value", "target_value"):
            value = getattr(self, name)
            if value is not None and not self.value_in_range(value):
                errors[name] = ValidationError(
                    _("This value lies outside the KPI's plausible range, %(range)s."),
                    code="out_of_range",
                    params={"range": self.range_display()},
                )
        plan = self.plan if self.plan_id else (self.goal.plan if self.goal_id else None)
        errors.update(date_window_errors(plan, self, ("baseline_date", "target_date")))
        if errors:
            raise ValidationError(errors)

    @property
    def final_figure_due_by(self):
        """KPI rule 8: the last day its final figure may come in while a forecast stands in for it."""
        return final_figure_due_by(self.target_date, self.frequency)

    def value_in_range(self, value: float) -> bool:
        low, high = self.min_value, self.max_value
        return (low is None or value >= low) and (high is None or value <= high)

    def range_display(self) -> str:
        """The plausible range in words, for error messages: "0 to 100", "at least 0", "at most 5"."""
        low, high = self.min_value, self.max_value
        if low is not None and high is not None:
            return str(_("%(low)g to %(high)g") % {"low": low, "high": high})
        if low is not None:
            return str(_("at least %(low)g") % {"low": low})
        if high is not None:
            return str(_("at most %(high)g") % {"high": high})
        return str(_("any value"))


class MeasurementQuerySet(models.QuerySet):
    def national(self):
        """The national series (reported directly or derived), which the status method reads."""
        return self.filter(unit__isnull=True)

    def of_units(self):
        """The reporting units' own values."""
        return self.filter(unit__isnull=False)


class Measurement(Tracked):
    """The current value of a KPI on a date for one reporting unit (none: the nation) from one source.

    Revisions are kept in MeasurementRevision. A ratio KPI's unit rows carry their numerator (and
    denominator where the unit has one); ``value`` is then numerator / denominator x the KPI's scale.
    """

    objects = MeasurementQuerySet.as_manager()

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="measurements", verbose_name=_("KPI"))
    # None: the national value (reported directly, or derived from the units when source is "derived").
    unit = models.ForeignKey(
        "plans.ReportingUnit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="measurements",
        verbose_name=_("reporting unit"),
        help_text=_("Empty: the national figure."),
    )
    date = models.DateField(_("date"))
    value = models.FloatField(_("value"), validators=finite_validators)
    numerator = models.FloatField(_("numerator"), null=True, blank=True, validators=finite_validators)
    denominator = models.FloatField(_("denominator"), null=True, blank=True, validators=finite_validators)
    note = models.TextField(_("note"), blank=True, validators=multi_line_validators)
    source = models.CharField(
        _("source"), max_length=16, choices=MeasurementSource.choices, default=MeasurementSource.MANUAL
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_by_token = models.ForeignKey(
        "plans.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by API token"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    external_id = models.CharField(_("external id"), max_length=128, blank=True, validators=single_line_validators)
    # Measurement rows are the values that count. Under review (Plan.counting "approved") a figure waits
    # on its Submission until approved; under "submitted" it is written when submitted, provisional until
    # approved, and taken back if returned.
    provisional = models.BooleanField(
        _("provisional"),
        default=False,
        db_default=False,
        help_text=_("Submitted, counted provisionally until it is reviewed."),
    )
    restatement = models.BooleanField(
        _("restatement"),
        default=False,
        db_default=False,
        help_text=_("A correction recorded after its period was approved."),
    )

    class Meta(Tracked.Meta):
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")
        ordering = ["kpi", "date", "recorded_at"]
        indexes = [
            *Tracked.Meta.indexes,
            # A KPI's series in the order the status method reads it (the latest recorded value of a date
            # wins), with the value: an index-only scan instead of sorting every measurement on disk.
            # Only the national series: the units' rows are read by plans.aggregation through the next index.
            models.Index(
                fields=["kpi", "date", "recorded_at", "id"],
                include=["value"],
                condition=Q(unit__isnull=True),
                name="plans_measurement_series",
            ),
            models.Index(
                fields=["kpi", "unit", "date"],
                include=["value", "numerator", "denominator"],
                condition=Q(unit__isnull=False),
                name="plans_measurement_unit_series",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "date", "source"],
                condition=Q(unit__isnull=True),
                name="plans_measurement_unique_per_source",
            ),
            models.UniqueConstraint(
                fields=["kpi", "unit", "date", "source"],
                condition=Q(unit__isnull=False),
                name="plans_measurement_unit_unique_per_source",
            ),
            # Derived values exist for the nation only; a province's are in UnitAggregate.
            models.CheckConstraint(
                condition=~Q(source=MeasurementSource.DERIVED) | Q(unit__isnull=True),
                name="plans_measurement_derived_is_national",
            ),
            models.CheckConstraint(
                condition=Q(denominator__isnull=True) | ~Q(denominator=0),
                name="plans_measurement_denominator_not_zero",
                violation_error_message=_("A denominator cannot be zero."),
            ),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="plans_measurement_unique_external_id",
            ),
            finite_check("value", name="plans_measurement_value_finite"),
            choices_check("source", MeasurementSource, name="plans_measurement_source_valid"),
        ]

    def __str__(self):
        return f"{self.kpi.code} {self.date}: {self.value:g}"


class MeasurementRevision(models.Model):
    """Append-only history of a measurement: every write, with the value it replaced."""

    # Indexed by plans_msrevision_history, which leads with it: a bulk upload writes one revision per row.
    measurement = models.ForeignKey(
        Measurement, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("measurement"), db_index=False
    )
    previous_value = models.FloatField(_("previous value"), null=True, blank=True)
    value = models.FloatField(_("value"))
    note = models.TextField(_("note"), blank=True, validators=multi_line_validators)
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

    class Meta:
        verbose_name = _("measurement revision")
        verbose_name_plural = _("measurement revisions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["measurement", "-created_at"], name="plans_msrevision_history")]

    def __str__(self):
        return f"{self.measurement}: {self.previous_value} -> {self.value}"
