"""``field__any`` (plans.lookups) selects what ``field__in`` selects, as one array parameter on PostgreSQL."""

import datetime

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from plans.models import KPI, Measurement
from tests.factories import KPIFactory

pytestmark = pytest.mark.django_db


def test_any_selects_what_in_selects():
    kpis = [KPIFactory() for _ in range(4)]
    for i, kpi in enumerate(kpis):
        Measurement.objects.create(kpi=kpi, date=datetime.date(2025, 1 + i, 1), value=i)
    ids = [kpis[0].pk, kpis[2].pk, kpis[2].pk, None, 10**12]
    dates = [datetime.date(2025, 2, 1), datetime.date(2025, 4, 1)]
    cases = [
        (KPI.objects, "pk", ids),
        (KPI.objects, "pk", set(ids[:2])),
        (KPI.objects, "pk", []),
        (KPI.objects, "pk", [None]),
        (Measurement.objects, "kpi_id", ids),
        (Measurement.objects, "kpi", ids),
        (Measurement.objects, "date", dates),
    ]
    for manager, field, values in cases:
        expected = set(manager.filter(**{f"{field}__in": values}).values_list("pk", flat=True))
        assert set(manager.filter(**{f"{field}__any": values}).values_list("pk", flat=True)) == expected
        assert set(manager.exclude(**{f"{field}__any": values}).values_list("pk", flat=True)) == set(
            manager.exclude(**{f"{field}__in": values}).values_list("pk", flat=True)
        )
    assert set(KPI.objects.filter(Q(pk__any=ids[:1]) | Q(pk__any=ids[2:3])).values_list("pk", flat=True)) == {
        kpis[0].pk,
        kpis[2].pk,
    }


def test_any_sends_one_parameter_on_postgresql_whatever_the_number_of_values():
    kpi = KPIFactory()
    with CaptureQueriesContext(connection) as queries:
        assert list(KPI.objects.filter(pk__any=[kpi.pk, *range(10**9, 10**9 + 5000)]).values_list("pk", flat=True)) == [
            kpi.pk
        ]
    sql = queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and len(sql) < 60_000  # one array literal, not 5,001 placeholders
    else:
        assert " IN (" in sql
