"""The dashboard says when its statuses are being recomputed, not yet computed, or old."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from plans import services
from plans.models import Plan
from plans.recompute import plan_recompute
from tests.factories import KPIFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kpi():
    return KPIFactory()


def dashboard(client, manager, plan) -> str:
    client.force_login(manager)
    return client.get(reverse("plans:dashboard", args=[plan.slug])).content.decode()


def test_plan_never_computed_says_so(client, manager, kpi):
    assert "have not been computed" in dashboard(client, manager, kpi.plan)


def test_pending_write_says_statuses_are_being_recomputed(client, manager, kpi):
    plan_recompute(plan_id=kpi.plan_id)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 3, 31), value=65)
    assert "being recomputed" in dashboard(client, manager, Plan.objects.get(pk=kpi.plan_id))


def test_fresh_statuses_show_no_banner(client, manager, kpi):
    plan_recompute(plan_id=kpi.plan_id)
    assert "recompute-banner" not in dashboard(client, manager, Plan.objects.get(pk=kpi.plan_id))


def test_statuses_older_than_a_day_are_flagged(client, manager, kpi):
    plan_recompute(plan_id=kpi.plan_id)
    Plan.objects.filter(pk=kpi.plan_id).update(computed_at=timezone.now() - datetime.timedelta(days=3))
    assert "nightly recompute may not have run" in dashboard(client, manager, Plan.objects.get(pk=kpi.plan_id))


def test_home_page_flags_a_plan_awaiting_its_recompute(client, manager, kpi):
    plan_recompute(plan_id=kpi.plan_id)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 3, 31), value=65)
    client.force_login(manager)
    assert "being recomputed" in client.get(reverse("plans:home")).content.decode()
