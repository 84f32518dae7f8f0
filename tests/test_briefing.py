"""The PDF briefing: its text holds the plan's status and the seed's figures, in the reader's language; a bad
date is refused; it is read as the dashboard is; the monthly beat task mails it to the managers once a month."""

import datetime
import io
import sys

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from plans import charts
from plans.briefing import briefing_gather, briefing_html
from plans.chart_svg import kpi_chart_svg
from plans.choices import ItemType, PlanState
from plans.explain import status_label
from plans.models import KPI, BriefingSent, FocusArea, Plan, StatusSnapshot
from plans.recompute import plan_backfill
from plans.tasks import send_briefings
from tests.factories import KPIFactory, MeasurementFactory, PlanFactory, UserFactory
from tests.worker import free_port

pytestmark = pytest.mark.django_db

JUNE_END = datetime.date(2025, 6, 30)
# The 2024 baselines of the seed article (shared/seed/high-tech-zones-2025-action-plan.txt) as the briefing
# prints them: GDP 19.3 trillion yuan, industrial added value 9.8, R&D spending 1.2, 35,000 R&D institutions.
SEED_FIGURES = ("19.3", "9.8", "1.2", "35,000", "trillion yuan", "24.1", "67")
PLAN_ZH = "2025年国家高新区行动计划"
AREA_ZH = "研发能力与创新生态"


@pytest.fixture
def demo(db):
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug="high-tech-zones-2025")
    plan_backfill(plan_id=plan.pk)
    return Plan.objects.get(pk=plan.pk)


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    # Words joined by single spaces: where the PDF wraps a line is layout, not content.
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def briefing_url(plan, as_of=""):
    url = reverse("plans:briefing_pdf", args=[plan.slug])
    return f"{url}?as_of={as_of}" if as_of else url


def plan_status_on(plan, day) -> str:
    return StatusSnapshot.objects.get(plan=plan, item_type=ItemType.PLAN, item_id=plan.pk, as_of=day).status


def test_briefing_pdf_holds_the_plans_status_and_the_seed_baselines(client, demo):
    client.force_login(UserFactory(username="staff-reader", role="staff"))
    response = client.get(briefing_url(demo, "2025-06-30"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="high-tech-zones-2025-briefing-2025-06-30.pdf"'
    text = pdf_text(response.content)
    assert "2025 Action Plan for National High-Tech Zones" in text
    assert "As of 2025-06-30" in text
    assert f"Overall status {status_label(plan_status_on(demo, JUNE_END))}" in text.replace("▲ ", "").replace(
        "■ ", ""
    ).replace("● ", "")
    for figure in SEED_FIGURES:
        assert figure in text
    for code in KPI.objects.filter(plan=demo).values_list("code", flat=True):
        assert code in text
    assert "R&D capability and innovation ecosystem" in text


def test_briefing_reads_a_fixed_number_of_queries(demo, django_assert_max_num_queries):
    # Plan snapshot days (2), the plan's snapshot, status counts, focus areas, goals, KPIs, milestones, measurements,
    # the statuses at the previous month end, the figures that came in: whatever the plan's size.
    with django_assert_max_num_queries(12):
        briefing_html(briefing_gather(plan=demo, asked=JUNE_END, today=datetime.date(2026, 1, 10)))


def test_a_day_between_month_ends_reads_the_month_end_before_it_and_what_changed_since_the_one_before(client, demo):
    client.force_login(UserFactory(username="mgr", role="manager"))
    response = client.get(briefing_url(demo, "2025-07-15"))
    assert response.status_code == 200
    assert "briefing-2025-06-30.pdf" in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "the latest statuses recorded on or before it are those of 2025-06-30" in text
    assert "What changed since 2025-05-31" in text
    # The June figures came in during June (the seed's quarterly R&D spending: 1.25 trillion yuan on 30 June).
    came_in = text.split("Figures that came in")[1]
    assert "RD-SPEND Enterprise R&D spending in the zones 2025-06-30 1.25 trillion yuan" in came_in


def test_chinese_reader_gets_the_chinese_names(client, demo):
    Plan.objects.filter(pk=demo.pk).update(name_zh=PLAN_ZH)
    FocusArea.objects.filter(plan=demo, code="RD").update(name_zh=AREA_ZH)
    client.force_login(UserFactory(username="mgr", role="manager"))
    chinese = pdf_text(client.get(briefing_url(demo, "2025-06-30"), HTTP_ACCEPT_LANGUAGE="zh-hans").content)
    assert PLAN_ZH in chinese
    assert AREA_ZH in chinese
    assert "19.3" in chinese
    english = pdf_text(client.get(briefing_url(demo, "2025-06-30"), HTTP_ACCEPT_LANGUAGE="en").content)
    assert PLAN_ZH not in english
    assert "2025 Action Plan for National High-Tech Zones" in english


@pytest.mark.parametrize("value", ["2025-13-01", "yesterday", "30/06/2025"])
def test_a_date_that_is_not_a_date_is_refused_with_400(client, value):
    plan = PlanFactory()
    client.force_login(UserFactory(username="mgr", role="manager"))
    response = client.get(briefing_url(plan, value))
    assert response.status_code == 400
    assert "is not a date" in response.content.decode()
    assert "YYYY-MM-DD" in response.content.decode()


def test_a_date_before_any_status_is_refused_with_400(client):
    plan = PlanFactory(start_date=datetime.date(2025, 1, 1), end_date=datetime.date(2025, 12, 31))
    client.force_login(UserFactory(username="mgr", role="manager"))
    response = client.get(briefing_url(plan, "2025-02-28"))
    assert response.status_code == 400
    assert "No status of this plan was computed on or before 2025-02-28" in response.content.decode()


def test_anonymous_visitor_is_sent_to_sign_in_and_an_unknown_plan_is_404(client):
    plan = PlanFactory()
    response = client.get(briefing_url(plan))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    client.force_login(UserFactory(username="mgr", role="manager"))
    assert client.get(reverse("plans:briefing_pdf", args=["no-such-plan"])).status_code == 404


def test_without_weasyprint_the_briefing_says_it_cannot_be_made(client, monkeypatch):
    plan = PlanFactory()
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # an import of it now raises ImportError
    client.force_login(UserFactory(username="mgr", role="manager"))
    response = client.get(briefing_url(plan))
    assert response.status_code == 503
    assert "WeasyPrint" in response.content.decode()


def test_dashboard_links_to_the_briefing(client):
    plan = PlanFactory()
    client.force_login(UserFactory(username="mgr", role="manager"))
    page = client.get(reverse("plans:dashboard", args=[plan.slug])).content.decode()
    assert f'href="{briefing_url(plan)}"' in page


def test_kpi_chart_svg_draws_the_measurements_and_the_target():
    plan = PlanFactory.build()
    kpi = KPIFactory.build(
        plan=plan,
        baseline_value=10.0,
        baseline_date=datetime.date(2024, 12, 31),
        target_value=20.0,
        target_date=datetime.date(2025, 12, 31),
    )
    measurements = [
        MeasurementFactory.build(kpi=kpi, date=datetime.date(2025, 3, 31), value=12.0),
        MeasurementFactory.build(kpi=kpi, date=datetime.date(2025, 6, 30), value=14.0),
    ]
    data = charts.kpi_chart(kpi=kpi, measurements=measurements, as_of=None, forecast=None)
    svg = kpi_chart_svg(data, title="K-1 <name>")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 2
    assert "<title>K-1 &lt;name&gt;</title>" in svg
    assert "2024-12" in svg and "2025-12" in svg


def test_monthly_task_mails_the_briefing_to_each_manager_once_a_month(demo, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    UserFactory(username="mgr-a", role="manager", email="mgr-a@example.gov.cn")
    UserFactory(username="mgr-b", role="manager", email="mgr-b@example.gov.cn")
    UserFactory(username="no-mail", role="manager", email="")
    UserFactory(username="staff-x", role="staff", email="staff-x@example.gov.cn")

    assert send_briefings.apply(kwargs={"today": "2025-07-01"}).get() == {
        "plans": 1,
        "messages": 2,
        "already_sent": 0,
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["mgr-a@example.gov.cn", "mgr-b@example.gov.cn"]
    message = mail.outbox[0]
    assert "2025 Action Plan for National High-Tech Zones" in message.subject
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype) == ("high-tech-zones-2025-briefing-2025-06-30.pdf", "application/pdf")
    assert "19.3" in pdf_text(content)
    assert BriefingSent.objects.get(plan=demo).period_end == JUNE_END

    assert send_briefings.apply(kwargs={"today": "2025-07-02"}).get()["already_sent"] == 1
    assert len(mail.outbox) == 2

    send_briefings.apply(kwargs={"today": "2025-08-01"})
    assert len(mail.outbox) == 4
    assert list(BriefingSent.objects.values_list("period_end", flat=True)) == [
        datetime.date(2025, 7, 31),
        JUNE_END,
    ]


def test_a_plan_outside_the_month_gets_no_briefing(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    PlanFactory(start_date=datetime.date(2025, 1, 1), end_date=datetime.date(2025, 12, 31))
    UserFactory(username="mgr-a", role="manager", email="mgr-a@example.gov.cn")
    assert send_briefings.apply(kwargs={"today": "2026-02-01"}).get() == {"plans": 0, "messages": 0, "already_sent": 0}
    assert mail.outbox == []


def test_a_failed_send_records_nothing_so_the_retry_sends_it(demo, settings):
    UserFactory(username="mgr-a", role="manager", email="mgr-a@example.gov.cn")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(Retry):  # nothing listens on that port
        send_briefings.apply(kwargs={"today": "2025-07-01"}, throw=True)
    assert not BriefingSent.objects.exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_briefings.apply(kwargs={"today": "2025-07-01"}).get()["messages"] == 1
    assert len(mail.outbox) == 1


def test_briefings_are_scheduled_on_the_first_of_each_month():
    from tracker.celery import app as celery_app

    entry = celery_app.conf.beat_schedule["send-briefings-monthly"]
    assert entry["task"] == send_briefings.name
    assert entry["schedule"].day_of_month == {1}
    assert entry["schedule"].hour == {8}


def test_a_draft_plan_gets_no_briefing(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    PlanFactory(start_date=datetime.date(2025, 1, 1), end_date=datetime.date(2025, 12, 31), state=PlanState.DRAFT)
    UserFactory(username="mgr-a", role="manager", email="mgr-a@example.gov.cn")
    assert send_briefings.apply(kwargs={"today": "2025-07-01"}).get() == {"plans": 0, "messages": 0, "already_sent": 0}
    assert mail.outbox == []
