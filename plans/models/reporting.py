"""Reporting cycles: per-period targets, submissions with their review history, period reopenings,
reminders sent, and in-app notifications.

Periods themselves are not stored: they follow from a KPI's frequency and the plan's calendar
(``plans.dates``); a period is named by its last day (``period_end``) and is due ``Plan.due_lag_*``
days later. A submission gathers the figures of one KPI for one reporting unit (none: the national
figure, which the KPI's owner team reports) and one period, and moves draft -> submitted -> approved
or returned; every move is kept in ``SubmissionTransition``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from plans.choices import MeasurementSource, ReminderKind, SubmissionState

from .base import Tracked, choices_check, finite_check, finite_validators, multi_line_validators
from .kpis import KPI
from .plans import Plan
from .units import ReportingUnit

__all__ = [
    "Notification",
    "PeriodReopening",
    "PeriodTarget",
    "ReminderSent",
    "Submission",
    "SubmissionTransition",
]


class PeriodTarget(models.Model):
    """A planned value of a KPI at the end of one reporting period (an S-curve instead of a straight line).

    Drawn on the charts and compared in the breakdowns; the status stays METHOD.md's.
    """

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="period_targets", verbose_name=_("KPI"))
    period_end = models.DateField(_("period end"))
    target_value = models.FloatField(_("planned value"), validators=finite_validators)

    class Meta:
        verbose_name = _("period target")
        verbose_name_plural = _("period targets")
        ordering = ["kpi", "period_end"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "period_end"], name="plans_periodtarget_unique"),
            finite_check("target_value", name="plans_periodtarget_value_finite"),
        ]

    def __str__(self):
        return f"{self.kpi_id} {self.period_end}: {self.target_value:g}"


class Submission(Tracked):
    """One KPI's figures for one reporting unit (None: national) and one period, and their review."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="submissions", editable=False)
    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="submissions", verbose_name=_("KPI"))
    unit = models.ForeignKey(
        ReportingUnit,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="submissions",
        verbose_name=_("reporting unit"),
    )
    period_end = models.DateField(_("period end"))
    due_date = models.DateField(_("due date"))
    state = models.CharField(_("state"), max_length=16, choices=SubmissionState.choices, default=SubmissionState.DRAFT)
    # The figure under review; it becomes (or updates) a Measurement when it counts (Plan.counting).
    date = models.DateField(_("date"), null=True, blank=True, help_text=_("Empty: the period end."))
    value = models.FloatField(_("value"), null=True, blank=True, validators=finite_validators)
    numerator = models.FloatField(_("numerator"), null=True, blank=True, validators=finite_validators)
    denominator = models.FloatField(_("denominator"), null=True, blank=True, validators=finite_validators)
    note = models.TextField(_("note"), blank=True, validators=multi_line_validators)
    source = models.CharField(
        _("source"), max_length=16, choices=MeasurementSource.choices, default=MeasurementSource.MANUAL
    )
    submitted_by_token = models.ForeignKey(
        "plans.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    return_reason = models.TextField(_("reason returned"), blank=True, validators=multi_line_validators)

    class Meta(Tracked.Meta):
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        ordering = ["-period_end", "kpi", "unit"]
        indexes = [
            *Tracked.Meta.indexes,
            models.Index(fields=["plan", "state", "period_end"], name="plans_submission_queue"),
            models.Index(fields=["plan", "period_end", "kpi"], name="plans_submission_period"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_end"], condition=Q(unit__isnull=True), name="plans_submission_unique_national"
            ),
            models.UniqueConstraint(
                fields=["kpi", "unit", "period_end"],
                condition=Q(unit__isnull=False),
                name="plans_submission_unique_unit",
            ),
            choices_check("state", SubmissionState, name="plans_submission_state_valid"),
            choices_check("source", MeasurementSource, name="plans_submission_source_valid"),
            finite_check("value", name="plans_submission_value_finite", nullable=True),
        ]

    def __str__(self):
        return f"{self.kpi_id} @ {self.unit_id or 'national'} {self.period_end}: {self.state}"


class SubmissionTransition(models.Model):
    """One move of a submission (who, when, from, to, why); append-only."""

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("submission")
    )
    from_state = models.CharField(_("from"), max_length=16, choices=SubmissionState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=16, choices=SubmissionState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_token = models.ForeignKey(
        "plans.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True, validators=multi_line_validators)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("submission transition")
        verbose_name_plural = _("submission transitions")
        ordering = ["submission", "at", "id"]
        constraints = [
            choices_check(
                "from_state", SubmissionState, name="plans_submissiontransition_from_state_valid", blank=True
            ),
            choices_check("to_state", SubmissionState, name="plans_submissiontransition_to_state_valid"),
        ]

    def __str__(self):
        return f"{self.submission_id}: {self.from_state or '-'} -> {self.to_state}"


class PeriodReopening(models.Model):
    """A manager reopened an approved period for one unit (None: national) until ``expires_at``.

    After it expires the period is locked again by itself: a lock is "approved and no live reopening".
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="reopenings")
    unit = models.ForeignKey(ReportingUnit, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    period_end = models.DateField(_("period end"))
    reason = models.TextField(_("reason"), validators=multi_line_validators)
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("period reopening")
        verbose_name_plural = _("period reopenings")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["plan", "period_end", "expires_at"], name="plans_reopening_live")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="plans_reopening_reason_given",
                violation_error_message=_("Give a reason for reopening the period."),
            ),
        ]

    def __str__(self):
        return f"{self.plan_id} {self.unit_id or 'national'} {self.period_end} until {self.expires_at}"


class ReminderSent(models.Model):
    """A reminder e-mail sent once per (recipient, KPI, unit, period, kind); the unique constraint makes
    the beat task idempotent even when it runs twice or two beat processes run."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(ReportingUnit, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    period_end = models.DateField(_("period end"))
    kind = models.CharField(_("kind"), max_length=16, choices=ReminderKind.choices)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder sent")
        verbose_name_plural = _("reminders sent")
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kpi", "period_end", "kind"],
                condition=Q(unit__isnull=True),
                name="plans_remindersent_once_national",
            ),
            models.UniqueConstraint(
                fields=["recipient", "kpi", "unit", "period_end", "kind"],
                condition=Q(unit__isnull=False),
                name="plans_remindersent_once_unit",
            ),
            choices_check("kind", ReminderKind, name="plans_remindersent_kind_valid"),
        ]

    def __str__(self):
        return f"{self.recipient_id} {self.kpi_id} {self.period_end} {self.kind}"


class Notification(models.Model):
    """An in-app message to one user (a reminder, a returned submission ...); unread until read_at."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="plans_notification_inbox")]

    def __str__(self):
        return f"{self.recipient_id}: {self.title}"
