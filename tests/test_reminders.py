"""Reminders: exactly the non-reporters get each kind on its day, once; escalation goes to the reviewers; the beat
task twice, two concurrent runs and a real worker against a real SMTP server send each message once; a failed
send leaves nothing recorded, so the next run sends it."""

import datetime
import threading
import time
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from celery.signals import task_postrun
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connections

from plans.choices import Aggregation, Counting, Frequency, ReminderKind, SubmissionState
from plans.models import Notification, ReminderSent, Submission
from plans.services.reminders import reminders_send
from plans.tasks import send_reminders
from tests.factories import (
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    PlanFactory,
    TeamFactory,
    UserFactory,
    ZoneFactory,
)
from tests.worker import free_port, wait_for

pytest_plugins = ["tests.worker"]

# The quarter ending 31 March 2025 is due 30 April (the plan's 30 days for a quarter): reminded 3 days before,
# on the day, the day after, and escalated 7 days after.
Q1 = datetime.date(2025, 3, 31)
BEFORE_DAY = datetime.date(2025, 4, 27)
DUE_DAY = datetime.date(2025, 4, 30)
OVERDUE_DAY = datetime.date(2025, 5, 1)
ESCALATION_DAY = datetime.date(2025, 5, 7)


def user(username, **kwargs):
    return UserFactory(username=username, email=f"{username}@example.gov.cn", **kwargs)


@pytest.fixture
def cycle(db):
    return make_cycle()


def make_cycle():
    """A plan under review with a national KPI (team members report it) and a zonal KPI (zone reporters do).

    Reported: zone 1's figure (submitted). Not reported: the national figure (a1, a2), zone 2's (its draft does
    not count; r2). Zone 3 closed before the quarter (r3 owes nothing); team B owns nothing here (b1).
    """
    plan = PlanFactory(counting=Counting.APPROVED)
    team_a, team_b = TeamFactory(name="Team A"), TeamFactory(name="Team B")
    people = {name: user(name) for name in ("a1", "a2", "b1", "r1", "r2", "r3")}
    team_a.members.add(people["a1"], people["a2"])
    team_b.members.add(people["b1"])
    people["mgr"] = user("mgr", role="manager")
    goal = GoalFactory(focus_area__plan=plan, owner_team=team_a)
    national = KPIFactory(goal=goal, code="NAT", frequency=Frequency.QUARTERLY)
    zonal = KPIFactory(goal=goal, code="ZON", frequency=Frequency.QUARTERLY, aggregation=Aggregation.SUM)
    zones = [
        ZoneFactory(code="Z1"),
        ZoneFactory(code="Z2"),
        ZoneFactory(code="Z3", active_until=datetime.date(2024, 12, 31)),
    ]
    for zone, reporter in zip(zones, ("r1", "r2", "r3"), strict=True):
        zone.reporters.add(people[reporter])
    due = plan.due_date(Frequency.QUARTERLY, Q1)
    for zone, state in ((zones[0], SubmissionState.SUBMITTED), (zones[1], SubmissionState.DRAFT)):
        Submission.objects.create(plan=plan, kpi=zonal, unit=zone, period_end=Q1, due_date=due, state=state, value=1)
    return {"plan": plan, "national": national, "zonal": zonal, "zones": zones, "people": people}


def recipients(outbox=None) -> list[str]:
    return sorted(address for message in (mail.outbox if outbox is None else outbox) for address in message.to)


def addresses(*names) -> list[str]:
    return sorted(f"{name}@example.gov.cn" for name in names)


def test_before_goes_to_exactly_the_non_reporters(cycle):
    result = reminders_send(today=BEFORE_DAY)

    assert recipients() == addresses("a1", "a2", "r2")
    assert result.messages == 3 and result.failed == 0
    by_address = {message.to[0]: message for message in mail.outbox}
    assert "NAT" in by_address[addresses("a1")[0]].body and "ZON" not in by_address[addresses("a1")[0]].body
    assert "ZON" in by_address[addresses("r2")[0]].body and "Zone" in by_address[addresses("r2")[0]].body
    html, mimetype = by_address[addresses("r2")[0]].alternatives[0]
    assert mimetype == "text/html" and "ZON" in html
    assert set(ReminderSent.objects.values_list("kind", flat=True)) == {ReminderKind.BEFORE}
    assert ReminderSent.objects.count() == 3


def test_each_reminder_creates_a_notification_for_its_recipient(cycle):
    reminders_send(today=BEFORE_DAY)

    notified = sorted(Notification.objects.values_list("recipient__username", flat=True))
    assert notified == ["a1", "a2", "r2"]
    notification = Notification.objects.get(recipient__username="r2")
    assert notification.read_at is None and "ZON" in notification.body and notification.url


def test_nothing_before_the_reminder_day(cycle):
    reminders_send(today=BEFORE_DAY - datetime.timedelta(days=1))

    assert mail.outbox == [] and not ReminderSent.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize(
    ("today", "kind"), [(DUE_DAY, ReminderKind.DUE), (OVERDUE_DAY, ReminderKind.OVERDUE)], ids=["due", "overdue"]
)
def test_due_and_overdue_go_to_the_non_reporters_on_their_day(cycle, today, kind):
    reminders_send(today=today)

    assert recipients() == addresses("a1", "a2", "r2")
    assert set(ReminderSent.objects.values_list("kind", flat=True)) == {kind}


def test_each_kind_goes_once_over_the_days(cycle):
    day = BEFORE_DAY
    while day < ESCALATION_DAY:
        reminders_send(today=day)
        day += datetime.timedelta(days=1)

    kinds = sorted(ReminderSent.objects.values_list("recipient__username", "kind"))
    assert kinds == sorted((name, kind) for name in ("a1", "a2", "r2") for kind in ("before", "due", "overdue"))
    assert len(mail.outbox) == 9


def test_escalation_goes_to_the_reviewers_listing_who_has_not_reported(cycle):
    reminders_send(today=ESCALATION_DAY)

    escalations = ReminderSent.objects.filter(kind=ReminderKind.ESCALATION)
    assert set(escalations.values_list("recipient__username", flat=True)) == {"mgr"}
    assert sorted(escalations.values_list("kpi__code", "unit__code")) == [("NAT", None), ("ZON", "Z2")]
    (message,) = [m for m in mail.outbox if m.to == addresses("mgr")]
    a1, a2, r2 = (cycle["people"][name] for name in ("a1", "a2", "r2"))
    assert a1.get_full_name() in message.body and a2.get_full_name() in message.body
    assert r2.get_full_name() in message.body
    assert cycle["people"]["r1"].get_full_name() not in message.body


def test_nobody_who_submitted_gets_one(cycle):
    due = cycle["plan"].due_date(Frequency.QUARTERLY, Q1)
    Submission.objects.create(
        plan=cycle["plan"], kpi=cycle["national"], period_end=Q1, due_date=due, state=SubmissionState.APPROVED, value=1
    )
    Submission.objects.filter(unit=cycle["zones"][1]).update(state=SubmissionState.SUBMITTED)

    for day in (BEFORE_DAY, DUE_DAY, OVERDUE_DAY, ESCALATION_DAY):
        reminders_send(today=day)

    assert mail.outbox == [] and not ReminderSent.objects.exists()


def test_returned_submission_still_owes_a_figure(cycle):
    Submission.objects.filter(unit=cycle["zones"][1]).update(state=SubmissionState.RETURNED)
    Submission.objects.filter(unit=cycle["zones"][0]).update(state=SubmissionState.RETURNED)

    reminders_send(today=DUE_DAY)

    assert recipients() == addresses("a1", "a2", "r1", "r2")


def test_without_review_a_measurement_in_the_period_counts_as_reported(cycle):
    plan = cycle["plan"]
    plan.counting = Counting.ALL
    plan.save(update_fields=["counting"])
    MeasurementFactory(kpi=cycle["national"], date=datetime.date(2025, 2, 15))  # in the quarter
    MeasurementFactory(kpi=cycle["zonal"], unit=cycle["zones"][1], date=datetime.date(2024, 12, 31))  # before it

    reminders_send(today=DUE_DAY)

    assert recipients() == addresses("r2")


def test_a_plan_ended_long_ago_sends_nothing(cycle):
    reminders_send(today=datetime.date(2026, 6, 30))

    assert mail.outbox == []


def test_the_beat_task_run_twice_sends_once(cycle):
    first = send_reminders.apply(kwargs={"today": DUE_DAY.isoformat()}).get()
    second = send_reminders.apply(kwargs={"today": DUE_DAY.isoformat()}).get()

    assert first == {"messages": 3, "notifications": 3}
    assert second == {"messages": 0, "notifications": 0}
    assert recipients() == addresses("a1", "a2", "r2")
    assert Notification.objects.count() == 3


def test_the_beat_schedule_runs_the_task_daily():
    from tracker.celery import app

    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "plans.tasks.send_reminders")
    assert entry["schedule"].hour == {8} and entry["schedule"].minute == {0}


class SlowLocmemBackend(LocmemBackend):
    """The test outbox, slow enough that two concurrent runs overlap while sending."""

    def send_messages(self, messages):
        time.sleep(0.05)
        return super().send_messages(messages)


def test_two_concurrent_runs_send_once(requires_postgres, transactional_db, settings):
    settings.EMAIL_BACKEND = "tests.test_reminders.SlowLocmemBackend"
    # Many recipients, so the runs' claims interleave.
    plan = PlanFactory(counting=Counting.APPROVED)
    team = TeamFactory(name="Team C")
    for n in range(12):
        team.members.add(user(f"c{n}"))
    KPIFactory(goal=GoalFactory(focus_area__plan=plan, owner_team=team), frequency=Frequency.QUARTERLY)
    start = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(reminders_send(today=DUE_DAY))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert recipients() == addresses(*(f"c{n}" for n in range(12)))
    assert sum(result.messages for result in results) == 12
    assert ReminderSent.objects.count() == 12 and Notification.objects.count() == 12


class Inbox:
    """An aiosmtpd handler that keeps what it was sent: (recipient, subject) per message and recipient."""

    def __init__(self):
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content)
        subject = str(make_header(decode_header(message["Subject"])))
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt, subject))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free port (``start()``/``stop()`` it); what it received is in ``.inbox``."""

    class Server:
        def __init__(self):
            self.port = free_port()
            self.inbox = Inbox()
            self.controller = None

        def start(self):
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
            self.controller.start()

        def stop(self):
            if self.controller is not None:
                self.controller.stop()
                self.controller = None

    server = Server()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return settings


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_running_the_task_twice_sends_each_non_reporter_one_message_per_kind(
    celery_worker, smtp_server, smtp_settings
):
    """THE end-to-end test of the issue: the beat task twice on a real worker, against a real SMTP server."""
    make_cycle()
    smtp_server.start()
    finished = []

    def count(sender=None, **kwargs):
        if getattr(sender, "name", None) == send_reminders.name:
            finished.append(kwargs.get("retval"))

    task_postrun.connect(count, weak=False)
    try:
        for day in (DUE_DAY, DUE_DAY, ESCALATION_DAY, ESCALATION_DAY):
            send_reminders.delay(today=day.isoformat())
            runs = len(finished) + 1
            assert wait_for(lambda runs=runs: len(finished) >= runs, timeout=60)
    finally:
        task_postrun.disconnect(count)

    none = {"messages": 0, "notifications": 0}
    assert finished == [{"messages": 3, "notifications": 3}, none, {"messages": 4, "notifications": 4}, none]
    # Due day: the non-reporters' "due today". Escalation day: their "overdue" (not sent before) and the managers'
    # escalation. Nothing from the second run of each day.
    received = sorted(smtp_server.inbox.received)
    expected = [(address, "1 figure is due today") for address in addresses("a1", "a2", "r2")]
    expected += [(address, "1 figure is overdue") for address in addresses("a1", "a2", "r2")]
    expected += [(addresses("mgr")[0], "2 figures are overdue and not yet reported")]
    assert received == sorted(expected)


def test_a_failing_smtp_server_leaves_nothing_recorded_and_the_next_run_sends(cycle, smtp_server, smtp_settings):
    smtp_server.start()
    smtp_server.stop()  # nothing listens on the port: every send fails

    failed = reminders_send(today=DUE_DAY)

    assert failed.failed == 3 and failed.messages == 0
    assert not ReminderSent.objects.exists() and not Notification.objects.exists()

    smtp_server.start()
    sent = reminders_send(today=DUE_DAY)

    assert sent.messages == 3 and sent.failed == 0
    assert sorted(rcpt for rcpt, _subject in smtp_server.inbox.received) == addresses("a1", "a2", "r2")
    assert ReminderSent.objects.count() == 3 and Notification.objects.count() == 3


def test_the_task_asks_for_a_retry_when_a_message_could_not_be_sent(cycle, smtp_server, smtp_settings):
    with pytest.raises(Retry):  # the server never started
        send_reminders.apply(kwargs={"today": DUE_DAY.isoformat()}, throw=True)

    assert not ReminderSent.objects.exists()


@pytest.mark.parametrize("extra", [0, 20])
def test_finding_the_non_reporters_takes_the_same_few_queries_whatever_the_size(
    cycle, extra, django_assert_max_num_queries
):
    from plans.services.reminders import owed_items

    goal = cycle["national"].goal
    for n in range(extra):
        KPIFactory(goal=goal, code=f"X{n}", frequency=Frequency.QUARTERLY, aggregation=Aggregation.SUM)
        ZoneFactory(code=f"ZX{n}").reporters.add(user(f"zx{n}"))
    # plans, KPIs, zones, submissions, team members, zone reporters
    with django_assert_max_num_queries(6):
        owed = owed_items(today=DUE_DAY)

    # the national figure, and each zonal KPI for each active zone, but zone 1's submitted ZON
    assert len(owed.by_kind[ReminderKind.DUE]) == 1 + (1 + extra) * (2 + extra) - 1


def test_messages_are_rendered_in_the_site_language_when_users_have_none(cycle, settings):
    settings.LANGUAGE_CODE = "zh-hans"

    reminders_send(today=DUE_DAY)

    html, _mimetype = mail.outbox[0].alternatives[0]
    assert '<html lang="zh-hans">' in html


def test_the_text_body_lists_each_item_with_its_period_due_date_and_link(cycle, settings):
    settings.TRACKER_SITE_URL = "https://tracker.example.gov.cn"

    reminders_send(today=DUE_DAY)

    (message,) = [m for m in mail.outbox if m.to == addresses("r2")]
    assert message.subject == "1 figure is due today"
    assert "period ending 2025-03-31, due 2025-04-30" in message.body
    assert f"https://tracker.example.gov.cn/plans/{cycle['plan'].slug}/kpis/ZON/" in message.body
