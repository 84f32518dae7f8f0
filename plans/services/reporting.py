"""The reporting cycle's writes: submissions and their review, period reopenings.

A submission carries one KPI's figure for one reporting unit (None: the national figure) and one period
(named by its last day). It moves draft -> submitted -> approved | returned; a returned one goes back to
its author, who edits it (back to draft) and submits again. Every move is appended to
SubmissionTransition. What counts toward the statuses stays in Measurement rows, written by
``measurement_record`` according to ``Plan.counting``:

- "approved": the figure waits on its submission and is written when approved;
- "submitted": it is written, provisional, when submitted, made final when approved and taken back
  (the previous value restored from its revision, or the row deleted) when returned;
- "all": written, final, when submitted (no review needed for it to count).

An approved period is locked (``measurement_lock_check``) until a manager reopens it for one unit with a
reason and an expiry; writes under a reopening are restatements.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import ApiTokenScope, ChangeChannel, Counting, MeasurementSource, SubmissionState
from ..dates import ONE_DAY, period_end_containing, period_ends_between
from ..exceptions import PeriodLocked, SubmissionRefused
from ..models import KPI, Measurement, MeasurementRevision, PeriodReopening, ReportingUnit, Submission
from ..models import SubmissionTransition as Transition
from ..permissions import can_write_team, is_manager
from .history import author_split, definition_updated, item_values
from .kpis import kpi_series, measurement_check, measurement_delete, measurement_lock_check, measurement_record
from .plans import plan_open_check
from .rows import row_assign, row_lock


@dataclass(frozen=True)
class ReportingPeriod:
    period_end: datetime.date
    due_date: datetime.date


def reporting_periods(kpi: KPI, *, until: datetime.date | None = None) -> list[ReportingPeriod]:
    """The KPI's reporting periods: its frequency's periods from the first after its baseline date through its
    target date (those ending by ``until`` when given), each with its due date (``Plan.due_date``)."""
    last = kpi.target_date if until is None else min(kpi.target_date, until)
    first = kpi.baseline_date + ONE_DAY
    if last < first:
        return []
    ends = [end for end in period_ends_between(kpi.frequency, first, last) if until is None or end <= until]
    plan = kpi.plan
    return [ReportingPeriod(end, plan.due_date(kpi.frequency, end)) for end in ends]


def _actor(author) -> tuple:
    """(user, token) of a service's caller, as measurement rows store their author."""
    return author_split(author)


def can_report(author, kpi: KPI, unit: ReportingUnit | None) -> bool:
    """Who may report: the national figure, the KPI's owner team's members (and managers); a unit's figure,
    the unit's reporters (and managers). An API token reports what its team writes (every team without one)."""
    user, token = _actor(author)
    if token is not None:
        return token.scope != ApiTokenScope.READ and (token.team_id is None or token.team_id == kpi.owner_team_id)
    if user is None:
        return False
    if unit is None:
        return can_write_team(user, kpi.owner_team_id)
    return is_manager(user) or unit.reporters.filter(pk=user.pk).exists()


def can_review(author) -> bool:
    """Reviewers are managers; an API token reviews only when it manages or is an authoritative source."""
    user, token = _actor(author)
    if token is not None:
        return token.authoritative or token.scope == ApiTokenScope.MANAGE
    return user is not None and is_manager(user)


def _transition(submission: Submission, to_state: str, author, reason: str = "", *, new: bool = False) -> None:
    user, token = _actor(author)
    from_state = "" if new else submission.state
    submission.state = to_state
    Transition.objects.create(
        submission=submission, from_state=from_state, to_state=to_state, actor=user, actor_token=token, reason=reason
    )


def _save(submission: Submission) -> Submission:
    if submission.pk:
        submission.version += 1
    submission.full_clean()
    submission.save()
    return submission


def _check_period(kpi: KPI, period_end: datetime.date) -> None:
    if period_end_containing(kpi.frequency, period_end) != period_end or not (
        kpi.baseline_date < period_end <= period_end_containing(kpi.frequency, kpi.target_date)
    ):
        raise ValidationError(
            {
                "period_end": _("%(date)s is not the last day of one of this KPI's reporting periods.")
                % {"date": period_end}
            }
        )


def _figure_check(submission: Submission, *, today=None) -> None:
    """The rules ``measurement_record`` applies to the figure: its date lies in the period, the value meets
    ``measurement_check`` (range, date window, jump note), a ratio's denominator is not zero."""
    kpi = submission.kpi
    date = submission.date or submission.period_end
    errors = {}
    start = period_end_containing(kpi.frequency, date)
    if start != submission.period_end:
        errors["date"] = [_("The date must lie in the period ending %(date)s.") % {"date": submission.period_end}]
    if submission.denominator == 0:
        errors["denominator"] = [_("A denominator cannot be zero.")]
    if submission.value is None:
        errors["value"] = [_("Enter the value.")]
    if submission.unit_id and not submission.unit.active_on(date):
        errors["unit"] = [_("This unit is not active on %(date)s.") % {"date": date}]
    if errors:
        raise ValidationError(errors)
    if submission.unit_id:
        # A unit's figure is judged against its own series by the zones' rules, not the national one's jump.
        jump_basis = lambda: (submission.value, None)  # noqa: E731
        series = None
    else:
        jump_basis = None
        series = {} if submission.note.strip() else kpi_series([kpi.pk])[kpi.pk]
        series.pop(date, None)
    submission.value = measurement_check(
        kpi=kpi,
        date=date,
        value=submission.value,
        note=submission.note,
        series=series,
        jump_basis=jump_basis,
        today=today,
    )


def _locked_for(submission: Submission, *, now=None) -> bool:
    """Refuse (PeriodLocked) edits of an approved period; True when the period is reopened."""
    return measurement_lock_check(kpi=submission.kpi, unit=submission.unit_id, date=submission.period_end, now=now)


@transaction.atomic
def submission_save(
    *,
    kpi: KPI,
    period_end: datetime.date,
    value: float | None,
    unit: ReportingUnit | None = None,
    numerator: float | None = None,
    denominator: float | None = None,
    note: str = "",
    date: datetime.date | None = None,
    author=None,
    source: str = MeasurementSource.MANUAL,
    submit: bool = False,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> Submission:
    """Create or edit the draft figure of ``kpi`` for ``unit`` (None: national) in the period ending ``period_end``.

    Only someone allowed to report it may (``can_report``; PermissionDenied). A submitted figure awaits its
    review and cannot be edited (SubmissionRefused); a returned one becomes a draft again; an approved one
    only under a live reopening (else PeriodLocked), and its next approval is a restatement. The figure must
    meet the rules of ``measurement_record`` (ValidationError by field, nothing written). ``submit`` also
    submits it (``submission_submit``).
    """
    if not can_report(author, kpi, unit):
        raise PermissionDenied(_("You may not report this figure."))
    plan_open_check(plan_id=kpi.plan_id)
    _check_period(kpi, period_end)
    kpi = KPI.objects.select_related("plan").get(pk=kpi.pk)
    submission = (
        Submission.objects.select_for_update(of=("self",))
        .filter(kpi=kpi, unit=unit, period_end=period_end)
        .order_by("pk")
        .first()
    )
    if submission is None:
        submission = Submission(
            plan=kpi.plan,
            kpi=kpi,
            unit=unit,
            period_end=period_end,
            due_date=kpi.plan.due_date(kpi.frequency, period_end),
        )
    elif submission.state == SubmissionState.SUBMITTED:
        raise SubmissionRefused(_("This figure is submitted and awaiting review; it can be changed once returned."))
    else:
        _locked_for(submission, now=now)  # once approved, PeriodLocked unless a manager reopened it
    submission.kpi = kpi
    submission.value, submission.numerator, submission.denominator = value, numerator, denominator
    submission.note, submission.date, submission.source = note.strip(), date, source
    _figure_check(submission, today=today)
    user, token = _actor(author)
    if submission.pk is None:
        submission.submitted_by, submission.submitted_by_token = user, token
        _save(submission)
        _transition(submission, SubmissionState.DRAFT, author, new=True)
    else:
        if submission.state != SubmissionState.DRAFT:
            _transition(submission, SubmissionState.DRAFT, author)
        _save(submission)
    if submit:
        return submission_submit(submission=submission, author=author, now=now)
    return submission


def _count(submission: Submission, *, provisional: bool, author, now=None) -> None:
    """Write the submission's figure as the Measurement that counts (``measurement_record``'s rules and lock)."""
    measurement_record(
        kpi=submission.kpi,
        unit=submission.unit_id,
        date=submission.date or submission.period_end,
        value=submission.value,
        note=submission.note,
        source=submission.source,
        recorded_by=author,
        provisional=provisional,
        now=now,
    )


def _take_back(submission: Submission, *, author) -> None:
    """Undo a provisional figure: restore the value its last revision replaced, or delete the row it created."""
    measurement = Measurement.objects.filter(
        kpi=submission.kpi,
        unit=submission.unit_id,
        date=submission.date or submission.period_end,
        source=submission.source,
        provisional=True,
    ).first()
    if measurement is None:
        return
    last = MeasurementRevision.objects.filter(measurement=measurement).order_by("-created_at", "-id").first()
    if last is None or last.previous_value is None:
        measurement_delete(measurement=measurement, deleted_by=author)
        return
    measurement_record(
        kpi=submission.kpi,
        unit=submission.unit_id,
        date=measurement.date,
        value=last.previous_value,
        note=_("Restored: the submitted figure was returned."),
        source=measurement.source,
        recorded_by=author,
    )


def _locked_submission(submission: Submission) -> Submission:
    return Submission.objects.select_for_update(of=("self",)).select_related("kpi__plan", "unit").get(pk=submission.pk)


@transaction.atomic
def submission_submit(*, submission: Submission, author=None, now=None) -> Submission:
    """Submit a draft for review (its author's side: ``can_report``). Under counting "submitted" the figure
    counts at once, provisionally; under "all" it counts at once."""
    submission = _locked_submission(submission)
    if not can_report(author, submission.kpi, submission.unit):
        raise PermissionDenied(_("You may not report this figure."))
    if submission.state != SubmissionState.DRAFT:
        raise SubmissionRefused(
            _("Only a draft can be submitted; this figure is %(state)s.") % {"state": submission.get_state_display()}
        )
    _figure_check(submission)
    counting = submission.kpi.plan.counting
    if counting != Counting.APPROVED:
        _count(submission, provisional=counting == Counting.SUBMITTED, author=author, now=now)
    user, token = _actor(author)
    submission.submitted_by, submission.submitted_by_token = user, token
    submission.submitted_at = now or timezone.now()
    _transition(submission, SubmissionState.SUBMITTED, author)
    return _save(submission)


@transaction.atomic
def submission_approve(*, submission: Submission, author=None, now=None) -> Submission:
    """Approve a submitted figure (managers): it counts from now on, and its period is locked."""
    submission = _locked_submission(submission)
    if not can_review(author):
        raise PermissionDenied(_("Only managers review submitted figures."))
    if submission.state != SubmissionState.SUBMITTED:
        raise SubmissionRefused(
            _("Only a submitted figure can be approved; this one is %(state)s.")
            % {"state": submission.get_state_display()}
        )
    _count(submission, provisional=False, author=author, now=now)
    user, _token = _actor(author)
    submission.reviewed_by, submission.reviewed_at, submission.return_reason = user, now or timezone.now(), ""
    _transition(submission, SubmissionState.APPROVED, author)
    return _save(submission)


@transaction.atomic
def submission_return(*, submission: Submission, reason: str, author=None, now=None) -> Submission:
    """Return a submitted figure to its author with a reason (managers). A figure that counted provisionally
    is taken back."""
    submission = _locked_submission(submission)
    if not can_review(author):
        raise PermissionDenied(_("Only managers review submitted figures."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the figure is returned.")]})
    if submission.state != SubmissionState.SUBMITTED:
        raise SubmissionRefused(
            _("Only a submitted figure can be returned; this one is %(state)s.")
            % {"state": submission.get_state_display()}
        )
    if submission.kpi.plan.counting != Counting.APPROVED:
        _take_back(submission, author=author)
    user, _token = _actor(author)
    submission.reviewed_by, submission.reviewed_at, submission.return_reason = user, now or timezone.now(), reason
    _transition(submission, SubmissionState.RETURNED, author, reason)
    return _save(submission)


@transaction.atomic
def submissions_approve_bulk(*, ids, author=None, now=None) -> dict:
    """Approve many submissions in one transaction, each checked on its own: those that cannot be approved
    are skipped with the reason, the others approved. Returns {"approved": [ids], "skipped": [{id, reason}]}."""
    if not can_review(author):
        raise PermissionDenied(_("Only managers review submitted figures."))
    approved, skipped = [], []
    found = set(Submission.objects.filter(pk__in=list(ids)).values_list("pk", flat=True))
    for pk in dict.fromkeys(ids):
        if pk not in found:
            skipped.append({"id": pk, "reason": _("No such submission.")})
            continue
        try:
            with transaction.atomic():
                submission_approve(submission=Submission(pk=pk), author=author, now=now)
        except (SubmissionRefused, ValidationError, PermissionDenied, PeriodLocked) as exc:
            message = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            skipped.append({"id": pk, "reason": " ".join(str(m) for m in message)})
        else:
            approved.append(pk)
    return {"approved": approved, "skipped": skipped}


@transaction.atomic
def period_reopen(
    *,
    plan,
    period_end: datetime.date,
    reason: str,
    expires_at: datetime.datetime,
    unit: ReportingUnit | None = None,
    author=None,
    now: datetime.datetime | None = None,
) -> PeriodReopening:
    """Reopen an approved period of ``plan`` for one unit (None: national) until ``expires_at`` (managers).

    Writes to it are restatements until then; afterwards the period is locked again by itself.
    """
    user, token = _actor(author)
    if not (token.scope == ApiTokenScope.MANAGE if token is not None else user is not None and is_manager(user)):
        raise PermissionDenied(_("Only managers reopen periods."))
    errors = {}
    if not (reason or "").strip():
        errors["reason"] = [_("Give a reason for reopening the period.")]
    if expires_at <= (now or timezone.now()):
        errors["expires_at"] = [_("The expiry must be in the future.")]
    if errors:
        raise ValidationError(errors)
    reopening = PeriodReopening(
        plan=plan, unit=unit, period_end=period_end, reason=reason.strip(), expires_at=expires_at, created_by=user
    )
    reopening.full_clean()
    reopening.save()
    return reopening


@transaction.atomic
def submissions_approve_recorded(*, plan, author=None, now: datetime.datetime | None = None) -> int:
    """Record the national figures already stored for ``plan`` as approved submissions, one per KPI and period
    that has none (the latest figure of the period), each with its transition: for a plan that starts reviewing
    figures it already holds (the demo loader's). Idempotent; returns how many it created. Set-based: one read
    of the figures, one insert of submissions and one of transitions."""
    now = now or timezone.now()
    user, token = _actor(author)
    kpis = {kpi.pk: kpi for kpi in KPI.objects.filter(plan=plan).only("id", "frequency", "plan_id")}
    taken = set(Submission.objects.filter(plan=plan, unit__isnull=True).values_list("kpi_id", "period_end"))
    latest: dict[tuple[int, datetime.date], tuple] = {}
    rows = (
        Measurement.objects.filter(kpi__plan=plan, unit__isnull=True, provisional=False)
        .order_by("kpi_id", "date", "recorded_at", "id")
        .values_list("kpi_id", "date", "value", "note", "source")
    )
    for kpi_id, date, value, note, source in rows:
        key = (kpi_id, period_end_containing(kpis[kpi_id].frequency, date))
        if key not in taken:
            latest[key] = (date, value, note, source)
    created = [
        Submission(
            plan=plan,
            kpi_id=kpi_id,
            period_end=period_end,
            due_date=plan.due_date(kpis[kpi_id].frequency, period_end),
            state=SubmissionState.APPROVED,
            date=date,
            value=value,
            note=note,
            source=source,
            submitted_at=now,
            reviewed_at=now,
            reviewed_by=user,
        )
        for (kpi_id, period_end), (date, value, note, source) in sorted(latest.items())
    ]
    Submission.objects.bulk_create(created, batch_size=1000)
    # bulk_create sets primary keys on PostgreSQL and SQLite alike (RETURNING).
    Transition.objects.bulk_create(
        [
            Transition(
                submission=submission,
                from_state=SubmissionState.SUBMITTED,
                to_state=SubmissionState.APPROVED,
                actor=user,
                actor_token=token,
                reason=_("Approved when the plan started reviewing its figures."),
            )
            for submission in created
        ],
        batch_size=1000,
    )
    return len(created)


REVIEW_SETTINGS = (
    "counting",
    "due_lag_monthly",
    "due_lag_quarterly",
    "due_lag_annual",
    "remind_days_before",
    "escalate_after_days",
)


@transaction.atomic
def plan_review_settings_update(*, plan, data: dict, expected_version: int | None = None, author=None):
    """Change a plan's reporting-cycle settings (``REVIEW_SETTINGS``: which values count, due lags, reminder
    days); managers only. Version-checked (StaleVersionError) and kept as a DefinitionChange like any
    definition. Stored measurements are not touched: a new counting mode applies to the figures that come."""
    user, token = _actor(author)
    if not (token.scope == ApiTokenScope.MANAGE if token is not None else user is not None and is_manager(user)):
        raise PermissionDenied(_("Only managers change how a plan reviews its figures."))
    unknown = set(data) - set(REVIEW_SETTINGS)
    if unknown:
        raise ValidationError({name: [_("Not a review setting.")] for name in sorted(unknown)})
    plan_open_check(plan_id=plan.pk)
    row = row_lock(plan, expected_version)
    before = item_values(row)
    if not row_assign(row, data):
        return row
    row.version += 1
    row.full_clean()
    row.save()
    definition_updated(row, before, author=author, channel=ChangeChannel.WEB)
    return row
