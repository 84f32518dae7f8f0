"""Indexes on a KPI row are kept to what reads need: a KPI's update (every recompute, every upload's version bump)
pays for each index entry it adds."""

import pytest
from django.db import connection

from plans.models import KPI
from tests.factories import KPIFactory

TIES = ("weight_kpi_id", "denominator_kpi_id", "base_kpi_id", "comparison_kpi_id")


@pytest.mark.postgres
def test_a_tie_between_kpis_is_indexed_only_where_set(requires_postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'plans_kpi'")
        definitions = [row[0] for row in cursor.fetchall()]
    for column in TIES:
        on_column = [d for d in definitions if f"({column})" in d]
        assert on_column and all(f"WHERE ({column} IS NOT NULL)" in d for d in on_column), (column, on_column)


@pytest.mark.django_db
def test_deleting_a_kpi_clears_the_ties_to_it():
    base = KPIFactory()
    growth = KPIFactory(goal=base.goal, base_kpi=base, comparison_kpi=base)
    base.delete()
    growth.refresh_from_db()
    assert (growth.base_kpi_id, growth.comparison_kpi_id) == (None, None)
    assert KPI.objects.filter(pk=growth.pk).exists()
