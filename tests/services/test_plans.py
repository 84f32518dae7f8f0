"""plan_mark_changed, as every write calls it: the plan stays marked until recomputed, one recompute per transaction."""

import datetime

import pytest
from django.db import transaction

from plans import services
from plans.models import Plan
from plans.recompute import plan_recompute
from tests.factories import KPIFactory


@pytest.mark.django_db
def test_write_marks_plan_until_recomputed():
    kpi = KPIFactory()
    plan_recompute(plan_id=kpi.plan_id)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 3, 31), value=65)
    assert Plan.objects.get(pk=kpi.plan_id).needs_recompute
    plan_recompute(plan_id=kpi.plan_id)
    assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute


def test_one_recompute_is_enqueued_per_plan_per_transaction(db, django_capture_on_commit_callbacks):
    kpi = KPIFactory()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for day in range(1, 20):
            services.measurement_record(kpi=kpi, date=datetime.date(2025, 1, day), value=60 + day)
    assert len(callbacks) == 1
