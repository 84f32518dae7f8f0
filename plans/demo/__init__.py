"""The demo plan: the 2025 Action Plan for National High-Tech Zones, with illustrative 2025 data."""

import json
from pathlib import Path

DEMO_PLAN_FILE = Path(__file__).with_name("high_tech_zones_2025.json")
# The example register file of `import_units` and the register page (the demo's own zones).
UNITS_TEMPLATE_FILE = Path(__file__).with_name("units_template.csv")


def demo_plan_data() -> dict:
    return json.loads(DEMO_PLAN_FILE.read_text(encoding="utf-8"))


# The review story of the demo plan (counting "approved"): every loaded figure approved, two figures awaiting
# review and one returned to its author with a reason: (note, return reason or "").
REVIEW_STORY = [
    ("Count from the certification register", "This counts firms certified after the period ended: use the period."),
    ("Preliminary figure from the quarterly enterprise survey", ""),
    ("First estimate from the provincial statistics bureaus", ""),
]


def demo_review_story(plan) -> None:
    """Approve the figures the loader stored and, the first time only, have the first KPIs (by code) whose next
    period has ended without a figure submit one (a step toward the target) and return the first with a reason."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from plans import services
    from plans.choices import Counting, SubmissionState
    from plans.dates import ONE_DAY, period_end_containing
    from plans.models import KPI, Measurement, Submission

    if plan.counting != Counting.APPROVED:
        return
    if Submission.objects.filter(plan=plan).exclude(state=SubmissionState.APPROVED).exists():
        return  # the story was told already: what people did with it since is kept
    manager = get_user_model().objects.filter(username="manager").first()
    services.submissions_approve_recorded(plan=plan, author=manager)
    today, story = timezone.localdate(), iter(REVIEW_STORY)
    for kpi in KPI.objects.filter(plan=plan).select_related("plan", "owner_team").order_by("code"):
        latest = Measurement.objects.filter(kpi=kpi, unit__isnull=True).order_by("-date", "-recorded_at").first()
        author = kpi.owner_team.members.order_by("username").first() if kpi.owner_team else None
        if latest is None or author is None:
            continue
        period_end = period_end_containing(kpi.frequency, latest.date + ONE_DAY)
        if period_end > min(today, kpi.target_date) or Submission.objects.filter(kpi=kpi, period_end=period_end):
            continue
        note, reason = next(story, (None, None))
        if note is None:
            return
        value = round(latest.value + (kpi.target_value - latest.value) / 4, 3)
        submission = services.submission_save(
            kpi=kpi, period_end=period_end, value=value, note=note, author=author, submit=True
        )
        if reason and manager is not None:
            services.submission_return(submission=submission, reason=reason, author=manager)


# The demo's figures were reported this many days after the date they are for: within every period's due lag
# (15 days for a month, 30 for a quarter), so the closed plan's completeness reads "on time" as it would have.
DEMO_REPORTING_DELAY_DAYS = 12


def demo_backdate(plan, *, loaded_since) -> int:
    """Date the figures this load stored (recorded since ``loaded_since``) as reported ``DEMO_REPORTING_DELAY_DAYS``
    after their own date, never in the future; their first revisions and approved submissions with them.
    Loading happens today, long after the plan's periods: without this every loaded figure would read as
    late. Rows recorded before this load (entered by people since) are not touched. Returns the rows dated."""
    import datetime

    from django.utils import timezone

    from plans.choices import SubmissionState
    from plans.models import Measurement, MeasurementRevision, Submission, SubmissionTransition

    now = timezone.now()
    zone = timezone.get_current_timezone()

    def reported(day: datetime.date, extra_days: int = 0) -> datetime.datetime:
        day += datetime.timedelta(days=DEMO_REPORTING_DELAY_DAYS + extra_days)
        return min(datetime.datetime.combine(day, datetime.time(10), tzinfo=zone), now)

    measurements = list(Measurement.objects.filter(kpi__plan=plan, recorded_at__gte=loaded_since).only("date"))
    for measurement in measurements:
        measurement.recorded_at = reported(measurement.date)
    Measurement.objects.bulk_update(measurements, ["recorded_at"], batch_size=500)
    revisions = list(
        MeasurementRevision.objects.filter(measurement__in=measurements, created_at__gte=loaded_since).select_related(
            "measurement"
        )
    )
    for revision in revisions:
        revision.created_at = revision.measurement.recorded_at
    MeasurementRevision.objects.bulk_update(revisions, ["created_at"], batch_size=500)
    approved = list(Submission.objects.filter(plan=plan, state=SubmissionState.APPROVED, reviewed_at__gte=loaded_since))
    for submission in approved:
        submission.submitted_at, submission.reviewed_at = (
            reported(submission.period_end),
            reported(submission.period_end, 2),
        )
    Submission.objects.bulk_update(approved, ["submitted_at", "reviewed_at"], batch_size=500)
    transitions = list(SubmissionTransition.objects.filter(submission__in=approved, at__gte=loaded_since))
    by_id = {submission.pk: submission for submission in approved}
    for transition in transitions:
        submission = by_id[transition.submission_id]
        transition.at = (
            submission.reviewed_at if transition.to_state == SubmissionState.APPROVED else submission.submitted_at
        )
    SubmissionTransition.objects.bulk_update(transitions, ["at"], batch_size=500)
    return len(measurements)
