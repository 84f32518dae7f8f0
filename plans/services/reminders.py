"""Reminder e-mails to those who have not reported, escalation to the reviewers, and their in-app notifications.

``reminders_send`` runs daily (``plans.tasks.send_reminders``). For each KPI period whose due date is near,
it finds who has not reported (a fixed number of queries, whatever the number of KPIs, zones and periods),
and sends each recipient one message per kind listing all their items of that kind (a KPI, the nation or a
zone, a period):

- ``before``: ``Plan.remind_days_before`` days before the due date (or on a later day before it, if missed);
- ``due``: on the due date;
- ``overdue``: once, on the first run after the due date (within ``CATCH_UP_DAYS``);
- ``escalation``: ``Plan.escalate_after_days`` after the due date, to the reviewers (managers), listing who
  has not reported.

Once per (recipient, KPI, unit, period, kind): each message claims its ``ReminderSent`` rows with
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` in its own transaction, sends only the items it claimed, and
commits after the SMTP server accepted the message. A failed send rolls the claim (and the notification) back,
so the next run retries it: nothing is lost. A second run, or a concurrent one, finds the rows (it waits on
the unique index while the first run's transaction is open) and sends nothing: nothing is sent twice, except
if the process dies between the SMTP server's acceptance and the commit (then the message goes again).
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..choices import Aggregation, Counting, MeasurementSource, ReminderKind, SubmissionState, UnitLevel
from ..dates import period_end_containing, period_ends_between, period_start
from ..language import supported
from ..models import KPI, Measurement, Notification, Plan, ReminderSent, ReportingUnit, Submission, Team
from ..permissions import MANAGER

logger = logging.getLogger(__name__)

# A kind whose day the task missed (worker down, broker outage) is still sent this many days later.
CATCH_UP_DAYS = 7
# The SQL statement's parameters stay well under SQLite's limit.
INSERT_BATCH = 500
REPORTED_STATES = (SubmissionState.SUBMITTED, SubmissionState.APPROVED)


@dataclass(frozen=True, order=True)
class Item:
    """One figure owed: a KPI's national figure (``unit_id`` None) or a zone's, for the period ending ``period_end``."""

    kpi_id: int
    unit_id: int | None
    period_end: datetime.date

    def key(self):
        return (self.kpi_id, self.unit_id or 0, self.period_end)


@dataclass
class RemindersResult:
    messages: int = 0
    notifications: int = 0
    failed: int = 0
    items: dict[str, int] = field(default_factory=dict)


def kinds_due(*, today: datetime.date, due: datetime.date, plan: Plan) -> list[str]:
    """The kinds of reminder a period due on ``due`` calls for ``today`` (several at once is possible)."""
    kinds = []
    if 0 < (due - today).days <= plan.remind_days_before:
        kinds.append(ReminderKind.BEFORE)
    if today == due:
        kinds.append(ReminderKind.DUE)
    late = (today - due).days
    if 1 <= late <= 1 + CATCH_UP_DAYS:
        kinds.append(ReminderKind.OVERDUE)
    if plan.escalate_after_days <= late <= plan.escalate_after_days + CATCH_UP_DAYS and late >= 1:
        kinds.append(ReminderKind.ESCALATION)
    return kinds


def _plan_period_ends(plan: Plan, frequency: str, today: datetime.date) -> list[datetime.date]:
    """The plan's ``frequency`` periods whose reminders could fall on ``today`` (none of a plan ended long ago)."""
    lag = plan.due_date(frequency, today) - today
    earliest = today - lag - datetime.timedelta(days=max(plan.escalate_after_days, 1) + CATCH_UP_DAYS)
    latest = today - lag + datetime.timedelta(days=plan.remind_days_before)
    if latest < earliest:
        return []
    first = period_end_containing(frequency, plan.start_date)
    last = period_end_containing(frequency, plan.end_date)
    return [end for end in period_ends_between(frequency, earliest, latest) if first <= end <= last]


@dataclass
class _Owed:
    """What the run found: per kind, the items owed; who reports each; the KPIs, plans and units involved."""

    by_kind: dict[str, set[Item]] = field(default_factory=lambda: defaultdict(set))
    kpis: dict[int, KPI] = field(default_factory=dict)
    plans: dict[int, Plan] = field(default_factory=dict)
    units: dict[int, ReportingUnit] = field(default_factory=dict)
    team_members: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    unit_reporters: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    def reporters(self, item: Item) -> set[int]:
        if item.unit_id is None:
            return self.team_members.get(self.kpis[item.kpi_id].owner_team_id, set())
        return self.unit_reporters.get(item.unit_id, set())


def _first_start(kpis, ends) -> datetime.date:
    """The first day of the earliest period the run looks at, among ``kpis``."""
    return min(period_start(kpi.frequency, end) for kpi in kpis for end, _kinds in ends[kpi.plan_id, kpi.frequency])


def owed_items(*, today: datetime.date) -> _Owed:
    """Every figure not yet reported whose reminder of some kind falls on ``today``, in a fixed number of queries."""
    owed = _Owed()
    plans = {plan.pk: plan for plan in Plan.objects.all()}
    kpis = list(
        KPI.objects.filter(plan_id__in=plans)
        .only("id", "plan_id", "code", "name", "name_zh", "frequency", "aggregation", "owner_team_id")
        .order_by("plan_id", "code")
    )
    # The period ends each (plan, frequency) may remind about today, and the kinds each calls for.
    ends: dict[tuple[int, str], list[tuple[datetime.date, list[str]]]] = {}
    for plan in plans.values():
        for frequency in {kpi.frequency for kpi in kpis if kpi.plan_id == plan.pk}:
            ends[plan.pk, frequency] = [
                (end, kinds)
                for end in _plan_period_ends(plan, frequency, today)
                if (kinds := kinds_due(today=today, due=plan.due_date(frequency, end), plan=plan))
            ]
    kpis = [kpi for kpi in kpis if ends.get((kpi.plan_id, kpi.frequency))]
    if not kpis:
        return owed
    all_ends = {end for periods in ends.values() for end, _kinds in periods}
    zones = []
    if any(kpi.aggregation != Aggregation.NONE for kpi in kpis):
        earliest_start = min(
            period_start(kpi.frequency, end) for kpi in kpis for end, _k in ends[kpi.plan_id, kpi.frequency]
        )
        zones = list(
            ReportingUnit.objects.filter(level=UnitLevel.ZONE)
            .filter(Q(active_from__isnull=True) | Q(active_from__lte=max(all_ends)))
            .filter(Q(active_until__isnull=True) | Q(active_until__gte=earliest_start))
            .only("id", "code", "name_en", "name_zh", "active_from", "active_until")
        )

    reported = set(
        Submission.objects.filter(
            kpi__in=[kpi.pk for kpi in kpis], period_end__in=all_ends, state__in=REPORTED_STATES
        ).values_list("kpi_id", "unit_id", "period_end")
    )
    counting_all = [kpi for kpi in kpis if plans[kpi.plan_id].counting == Counting.ALL]
    if counting_all:
        # Without review, a figure recorded in the period is a report (a derived national value is not).
        frequency_of = {kpi.pk: kpi.frequency for kpi in counting_all}
        first = min(
            period_start(kpi.frequency, end) for kpi in counting_all for end, _k in ends[kpi.plan_id, kpi.frequency]
        )
        rows = (
            Measurement.objects.filter(kpi__in=list(frequency_of), date__gte=first, date__lte=max(all_ends))
            .exclude(source=MeasurementSource.DERIVED)
            .values_list("kpi_id", "unit_id", "date")
            .distinct()
        )
        reported.update((k, u, period_end_containing(frequency_of[k], d)) for k, u, d in rows)

    for kpi in kpis:
        for end, kinds in ends[kpi.plan_id, kpi.frequency]:
            if kpi.aggregation == Aggregation.NONE:
                expected = [None]
            else:
                start = period_start(kpi.frequency, end)
                expected = [
                    zone.pk
                    for zone in zones
                    if (zone.active_from is None or zone.active_from <= end)
                    and (zone.active_until is None or zone.active_until >= start)
                ]
            for unit_id in expected:
                if (kpi.pk, unit_id, end) not in reported:
                    for kind in kinds:
                        owed.by_kind[kind].add(Item(kpi.pk, unit_id, end))
    if not owed.by_kind:
        return owed

    owed.kpis = {kpi.pk: kpi for kpi in kpis}
    owed.plans = plans
    owed.units = {zone.pk: zone for zone in zones}
    team_ids = {kpi.owner_team_id for kpi in kpis}
    for team_id, user_id in Team.members.through.objects.filter(team_id__in=team_ids).values_list("team_id", "user_id"):
        owed.team_members[team_id].add(user_id)
    if zones:
        for unit_id, user_id in ReportingUnit.reporters.through.objects.filter(
            reportingunit_id__in=owed.units
        ).values_list("reportingunit_id", "user_id"):
            owed.unit_reporters[unit_id].add(user_id)
    return owed


def _reviewer_ids() -> set[int]:
    User = get_user_model()
    return set(
        User.objects.filter(Q(groups__name=MANAGER) | Q(is_superuser=True), is_active=True).values_list("id", flat=True)
    )


def recipient_language(user) -> str:
    """The language a user reads their mail in: the one they chose with the switcher (plans.language), else the
    site's."""
    try:
        chosen = user.language_choice.language
    except ObjectDoesNotExist:
        chosen = ""
    return supported(chosen) or settings.LANGUAGE_CODE


def _claim(*, recipient_id: int, kind: str, items: list[Item]) -> list[Item]:
    """Insert the ReminderSent rows of ``items`` that do not exist yet; the items whose row this call inserted.

    In the caller's transaction: a concurrent run inserting the same row waits on the unique index until this
    transaction ends, then skips it (committed) or inserts it (rolled back).
    """
    now = timezone.now()
    if connection.vendor not in ("postgresql", "sqlite"):
        claimed = []
        for item in items:
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(
                        recipient_id=recipient_id,
                        kpi_id=item.kpi_id,
                        unit_id=item.unit_id,
                        period_end=item.period_end,
                        kind=kind,
                    )
            except IntegrityError:
                continue
            claimed.append(item)
        return claimed
    ops = connection.ops
    table = connection.ops.quote_name(ReminderSent._meta.db_table)
    sent_at = ops.adapt_datetimefield_value(now)
    claimed = []
    for start in range(0, len(items), INSERT_BATCH):
        batch = items[start : start + INSERT_BATCH]
        params = []
        for item in batch:
            params += [
                recipient_id,
                item.kpi_id,
                item.unit_id,
                ops.adapt_datefield_value(item.period_end),
                kind,
                sent_at,
            ]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
        # No conflict target: either partial unique index (national or unit) makes a row a duplicate.
        sql = (
            f"INSERT INTO {table} (recipient_id, kpi_id, unit_id, period_end, kind, sent_at) VALUES {values} "
            "ON CONFLICT DO NOTHING RETURNING kpi_id, unit_id, period_end"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for kpi_id, unit_id, period_end in rows:
            if isinstance(period_end, str):  # SQLite returns the raw text
                period_end = datetime.date.fromisoformat(period_end)
            claimed.append(Item(kpi_id, unit_id, period_end))
    return sorted(claimed)


def _site_url(path: str) -> str:
    return settings.TRACKER_SITE_URL.rstrip("/") + path


def _item_lines(owed: _Owed, items: list[Item], *, with_reporters: dict[int, str] | None = None) -> list[dict]:
    lines = []
    for item in items:
        kpi = owed.kpis[item.kpi_id]
        plan = owed.plans[kpi.plan_id]
        who = str(_("national figure")) if item.unit_id is None else owed.units[item.unit_id].name
        line = {
            "plan": plan.tr.name,
            "kpi": f"{kpi.code} {kpi.tr.name}",
            "who": who,
            "period_end": item.period_end,
            "due": plan.due_date(kpi.frequency, item.period_end),
            "url": _site_url(reverse("plans:dashboard_kpi", kwargs={"slug": plan.slug, "code": kpi.code})),
        }
        if with_reporters is not None:
            names = sorted(with_reporters[uid] for uid in owed.reporters(item) if uid in with_reporters)
            line["reporters"] = ", ".join(names) or str(_("nobody is assigned"))
        lines.append(line)
    return lines


def _subject(kind: str, count: int) -> str:
    if kind == ReminderKind.BEFORE:
        return ngettext("%(count)d figure is due soon", "%(count)d figures are due soon", count) % {"count": count}
    if kind == ReminderKind.DUE:
        return ngettext("%(count)d figure is due today", "%(count)d figures are due today", count) % {"count": count}
    if kind == ReminderKind.OVERDUE:
        return ngettext("%(count)d figure is overdue", "%(count)d figures are overdue", count) % {"count": count}
    return ngettext(
        "%(count)d figure is overdue and not yet reported", "%(count)d figures are overdue and not yet reported", count
    ) % {"count": count}


def _message(*, owed: _Owed, user, kind: str, items: list[Item], names: dict[int, str]):
    """The e-mail and the notification of one recipient's claimed items of one kind, in the recipient's language."""
    with translation.override(recipient_language(user)):
        escalation = kind == ReminderKind.ESCALATION
        lines = _item_lines(owed, items, with_reporters=names if escalation else None)
        subject = _subject(kind, len(items))
        link = reverse("plans:my_work") if not escalation else reverse("plans:home")
        if len(items) == 1:
            kpi = owed.kpis[items[0].kpi_id]
            link = reverse("plans:dashboard_kpi", kwargs={"slug": owed.plans[kpi.plan_id].slug, "code": kpi.code})
        context = {
            "user": user,
            "kind": kind,
            "kind_label": ReminderKind(kind).label,
            "escalation": escalation,
            "subject": subject,
            "lines": lines,
            "link": _site_url(link),
        }
        text = render_to_string("emails/reminder.txt", context)
        html = render_to_string("emails/reminder.html", context)
        summary = "\n".join(f"{line['kpi']} ({line['who']}, {line['period_end']:%Y-%m-%d})" for line in lines)
    message = None
    if user.email:
        message = mail.EmailMultiAlternatives(subject=subject, body=text, to=[user.email])
        message.attach_alternative(html, "text/html")
    notification = Notification(recipient_id=user.pk, title=subject[:300], body=summary, url=link)
    return message, notification


def reminders_send(*, today: datetime.date | None = None) -> RemindersResult:
    """Send today's reminders (see the module docstring); a message that fails is left for the next run."""
    today = today or timezone.localdate()
    owed = owed_items(today=today)
    result = RemindersResult(items={kind: len(items) for kind, items in owed.by_kind.items()})
    if not owed.by_kind:
        return result
    # Per (recipient, kind): the items to remind them of, in a fixed order, so concurrent runs lock alike.
    wanted: dict[tuple[int, str], set[Item]] = defaultdict(set)
    for kind, items in owed.by_kind.items():
        if kind == ReminderKind.ESCALATION:
            for reviewer_id in _reviewer_ids():
                wanted[reviewer_id, kind] |= items
            continue
        for item in items:
            for user_id in owed.reporters(item):
                wanted[user_id, kind].add(item)
    User = get_user_model()
    user_ids = set().union(*(owed.reporters(item) for item in owed.by_kind.get(ReminderKind.ESCALATION, ())))
    user_ids |= {user_id for user_id, _kind in wanted}
    users = {user.pk: user for user in User.objects.filter(pk__in=user_ids, is_active=True)}
    names = {pk: user.get_full_name() or user.username for pk, user in users.items()}

    smtp = mail.get_connection()
    try:
        smtp.open()  # one connection for the run; if the server is down, each send below fails and is retried
    except Exception:
        logger.warning("The mail server does not answer; today's reminders wait for the next run", exc_info=True)
    try:
        for (user_id, kind), items in sorted(wanted.items()):
            user = users.get(user_id)
            if user is None:
                continue
            try:
                with transaction.atomic():
                    claimed = _claim(recipient_id=user_id, kind=kind, items=sorted(items))
                    if not claimed:
                        continue
                    message, notification = _message(owed=owed, user=user, kind=kind, items=claimed, names=names)
                    notification.save()  # its recipient's unread count is forgotten (post_save)
                    if message is not None:
                        message.connection = smtp
                        message.send()  # raises: the claim and the notification roll back
            except Exception:
                # Any failure, the SMTP server's or ours: this message is retried by the next run, the others go on.
                logger.exception("Reminder to user %s (%s) not sent; the next run retries it", user_id, kind)
                result.failed += 1
                continue
            result.notifications += 1
            result.messages += message is not None
    finally:
        smtp.close()
    return result
