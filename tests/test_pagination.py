"""plans.pagination.KeysFirstPaginator gives the pages Django's Paginator gives, reading the page's rows by key."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans import selectors
from plans.pagination import KeysFirstPaginator
from tests.test_dashboard_views import build_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def kpis():
    plan = build_plan(goals=7)  # 14 KPIs over two focus areas
    return selectors.dashboard_kpi_list(plan_id=plan.pk, explained=False)


@pytest.mark.parametrize(("per_page", "orphans"), [(3, 0), (4, 1), (5, 2), (20, 0)])
def test_every_page_holds_the_rows_django_s_paginator_holds_in_its_order(kpis, per_page, orphans):
    ours, django = KeysFirstPaginator(kpis, per_page, orphans=orphans), Paginator(kpis, per_page, orphans=orphans)
    assert ours.num_pages == django.num_pages
    for number in [*ours.page_range, "last", 0, 99, "x"]:
        mine, theirs = ours.get_page(number), django.get_page(number)
        assert [k.code for k in mine] == [k.code for k in theirs]
        assert (mine.number, mine.has_next(), mine.start_index()) == (
            theirs.number,
            theirs.has_next(),
            theirs.start_index(),
        )
        # The rows keep the queryset's annotations and related rows.
        assert [(k.as_of_status, k.goal.focus_area.code) for k in mine] == [
            (k.as_of_status, k.goal.focus_area.code) for k in theirs
        ]


def test_the_keys_are_ordered_without_reading_the_rows(kpis):
    with CaptureQueriesContext(connection) as queries:
        list(KeysFirstPaginator(kpis, 5).page(2))
    ordered, read = (q["sql"] for q in queries.captured_queries if "COUNT" not in q["sql"])
    assert ordered.split(" FROM ")[0] in ('SELECT "plans_kpi"."id" AS "pk"', 'SELECT "plans_kpi"."id"')
    assert "ORDER BY" in ordered and "ORDER BY" not in read
