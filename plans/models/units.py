"""Reporting units (nation > province > zone) and what the recompute derives for them.

The national high-tech zones report their own figures (``Measurement.unit``); ``plans.aggregation``
derives each province's and the nation's value per KPI and period from them (``UnitAggregate``, with
its coverage) and each unit's status on its own series (``UnitStatus``, against ``UnitTarget`` where a
unit has one). The register is shared by every plan: a zone exists whatever plan it reports to.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from plans.choices import Status, UnitLevel

from .base import Tracked, choices_check, code_validators, finite_check, finite_validators, single_line_validators
from .kpis import KPI
from .plans import ExternalRef, external_id_unique

__all__ = ["ReportingUnit", "UnitAggregate", "UnitStatus", "UnitTarget"]


class ReportingUnit(Tracked, ExternalRef):
    """A nation, province (or region) or national high-tech zone that reports or aggregates figures.

    ``zone_count`` is how many zones the unit stands for: 1 for a zone, N for a unit that carries
    "the other N zones" as one, so coverage reads "162 of 178 zones" honestly. A zone is active from
    its designation (``active_from``) until it is merged or revoked (``active_until``, inclusive).
    """

    code = models.CharField(
        _("code"), max_length=32, unique=True, validators=code_validators, help_text=_("Unique in the register.")
    )
    name_en = models.CharField(_("name (English)"), max_length=200, validators=single_line_validators)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True, validators=single_line_validators)
    level = models.CharField(_("level"), max_length=16, choices=UnitLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent unit"),
    )
    zone_count = models.PositiveIntegerField(
        _("zones represented"), default=1, help_text=_("How many zones this unit stands for (1 for one zone).")
    )
    active_from = models.DateField(_("active from"), null=True, blank=True)
    active_until = models.DateField(_("active until"), null=True, blank=True)
    reporters = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="reporting_units",
        blank=True,
        verbose_name=_("reporters"),
        help_text=_("Zone staff who see and record this unit's figures only."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta(Tracked.Meta):
        verbose_name = _("reporting unit")
        verbose_name_plural = _("reporting units")
        ordering = ["level", "order", "code"]
        indexes = [
            *Tracked.Meta.indexes,
            models.Index(fields=["level", "order", "code"], name="plans_unit_level_order"),
            models.Index(fields=["parent", "code"], name="plans_unit_parent_code"),
        ]
        constraints = [
            choices_check("level", UnitLevel, name="plans_reportingunit_level_valid"),
            # The nation is the root; every province and zone hangs under a parent.
            models.CheckConstraint(
                condition=(Q(level=UnitLevel.NATION) & Q(parent__isnull=True))
                | (~Q(level=UnitLevel.NATION) & Q(parent__isnull=False)),
                name="plans_unit_parent_by_level",
                violation_error_message=_("The nation has no parent unit; provinces and zones need one."),
            ),
            models.CheckConstraint(
                condition=Q(active_from__isnull=True)
                | Q(active_until__isnull=True)
                | Q(active_until__gte=F("active_from")),
                name="plans_unit_active_period",
                violation_error_message=_("A unit cannot stop being active before it starts."),
            ),
            models.CheckConstraint(condition=Q(zone_count__gte=1), name="plans_unit_zone_count_positive"),
            external_id_unique("plans_unit_unique_external_id"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        """The name in the reader's language, falling back to the other."""
        if (get_language() or "").lower().startswith("zh"):
            return self.name_zh or self.name_en
        return self.name_en or self.name_zh

    def active_on(self, date) -> bool:
        return (self.active_from is None or self.active_from <= date) and (
            self.active_until is None or date <= self.active_until
        )


class UnitTarget(models.Model):
    """A unit's own baseline and target for a KPI (optional): its status is judged against them."""

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="unit_targets", verbose_name=_("KPI"))
    unit = models.ForeignKey(
        ReportingUnit, on_delete=models.CASCADE, related_name="targets", verbose_name=_("reporting unit")
    )
    baseline_value = models.FloatField(_("baseline value"), validators=finite_validators)
    target_value = models.FloatField(_("target value"), validators=finite_validators)

    class Meta:
        verbose_name = _("unit target")
        verbose_name_plural = _("unit targets")
        ordering = ["kpi", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "unit"], name="plans_unittarget_unique"),
            finite_check("baseline_value", name="plans_unittarget_baseline_finite"),
            finite_check("target_value", name="plans_unittarget_target_finite"),
        ]

    def __str__(self):
        return f"{self.kpi.code} @ {self.unit.code}: {self.baseline_value:g} -> {self.target_value:g}"


class UnitAggregate(models.Model):
    """A KPI's value for a province or the nation in one period, derived from its zones, with coverage.

    Refreshed set-based by ``plans.aggregation`` (one query per level) whenever the recompute runs;
    never written by hand. ``reported_value`` is the value reported directly for the unit (a
    statistics bureau's national figure), kept beside the derived one so the gap shows.
    """

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="aggregates", verbose_name=_("KPI"))
    unit = models.ForeignKey(
        ReportingUnit, on_delete=models.CASCADE, related_name="aggregates", verbose_name=_("reporting unit")
    )
    period_end = models.DateField(_("period end"))
    value = models.FloatField(_("derived value"), null=True, blank=True)
    numerator = models.FloatField(_("sum of numerators"), null=True, blank=True)
    denominator = models.FloatField(_("sum of denominators"), null=True, blank=True)
    reported_zones = models.PositiveIntegerField(_("zones reported"), default=0)
    expected_zones = models.PositiveIntegerField(_("zones expected"), default=0)
    weight_coverage = models.FloatField(
        _("share of last year's weight"),
        null=True,
        blank=True,
        help_text=_("The reporting zones' share of the weight all expected zones carried a year earlier."),
    )
    reported_value = models.FloatField(_("reported value"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("unit aggregate")
        verbose_name_plural = _("unit aggregates")
        ordering = ["kpi", "unit", "period_end"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "unit", "period_end"], name="plans_unitaggregate_unique"),
        ]

    def __str__(self):
        return f"{self.kpi_id} @ {self.unit_id} {self.period_end}: {self.value}"


class UnitStatus(models.Model):
    """A unit's status for a KPI on its own series (METHOD.md), written by the recompute."""

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="unit_statuses", verbose_name=_("KPI"))
    unit = models.ForeignKey(
        ReportingUnit, on_delete=models.CASCADE, related_name="statuses", verbose_name=_("reporting unit")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    score = models.FloatField(_("score"), null=True, blank=True)
    progress = models.FloatField(_("progress"), null=True, blank=True)
    latest_value = models.FloatField(_("latest value"), null=True, blank=True)
    latest_date = models.DateField(_("latest date"), null=True, blank=True)
    forecast_value = models.FloatField(_("forecast"), null=True, blank=True)
    explanation = models.JSONField(_("explanation"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("unit status")
        verbose_name_plural = _("unit statuses")
        ordering = ["kpi", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "unit"], name="plans_unitstatus_unique"),
            choices_check("status", Status, name="plans_unitstatus_status_valid"),
        ]

    def __str__(self):
        return f"{self.kpi_id} @ {self.unit_id}: {self.status}"
