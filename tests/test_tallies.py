"""plans.tallies: the counts a recompute stores on its plan, read by the pages while they are current."""

import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from plans import selectors, services
from plans.choices import ItemType
from plans.models import KPI, Plan
from plans.recompute import plan_recompute
from plans.tallies import closure_counts_live, status_counts_live, tallies_current
from tests.factories import GoalFactory, KPIFactory, MeasurementFactory, MilestoneFactory, PlanFactory

TODAY = timezone.localdate()


def computed_plan() -> Plan:
    plan = PlanFactory(start_date=TODAY - datetime.timedelta(days=200), end_date=TODAY + datetime.timedelta(days=100))
    goal = GoalFactory(focus_area__plan=plan)
    for value in (50, 90):
        kpi = KPIFactory(goal=goal, baseline_date=plan.start_date, target_date=TODAY - datetime.timedelta(days=5))
        MeasurementFactory(kpi=kpi, date=TODAY - datetime.timedelta(days=3), value=value)
    KPIFactory(goal=goal, baseline_date=plan.start_date, target_date=plan.end_date)
    MilestoneFactory(goal=goal)
    plan_recompute(plan_id=plan.pk)
    return Plan.objects.get(pk=plan.pk)


def as_set(rows) -> set:
    return {(row["item_type"], row["status"], row["n"]) for row in rows}


@pytest.mark.django_db
def test_a_recompute_stores_the_counts_a_live_count_gives(django_assert_num_queries):
    plan = computed_plan()

    with django_assert_num_queries(0):
        counts = selectors.plan_status_counts(plan=plan)
        closure = selectors.plan_closure(plan=plan, today=TODAY)

    assert as_set(counts) == as_set(status_counts_live(plan.pk))
    assert sum(row["n"] for row in counts if row["item_type"] == ItemType.KPI) == 3
    live = closure_counts_live([plan.pk])[plan.pk]
    assert (closure.kpi_count, closure.final_in, closure.achieved, closure.missed) == (
        live["kpi_count"],
        live["final_n"],
        live["achieved"],
        live["missed"],
    )
    assert (closure.kpi_count, closure.final_in) == (3, 2)


@pytest.mark.django_db
def test_after_a_write_not_yet_computed_the_pages_count_live(django_assert_num_queries):
    plan = computed_plan()
    # A new KPI: the write moves the plan's data revision; its update runs once the transaction commits, which
    # this test's transaction never does, so the stored tallies no longer count the plan as it is.
    services.kpi_create(
        data={
            "goal": plan.goals.get(),
            "code": "NEW-1",
            "name": "New",
            "unit": "%",
            "baseline_value": 1.0,
            "baseline_date": plan.start_date,
            "target_value": 2.0,
            "target_date": plan.end_date,
            "frequency": "quarterly",
        }
    )
    plan = Plan.objects.get(pk=plan.pk)
    assert tallies_current(plan) is None

    with django_assert_num_queries(1):
        counts = selectors.plan_status_counts(plan=plan)
    with django_assert_num_queries(1):
        closure = selectors.plan_closure(plan=plan, today=TODAY)

    assert sum(row["n"] for row in counts if row["item_type"] == ItemType.KPI) == 4
    assert closure.kpi_count == 4


@pytest.mark.django_db
def test_a_plan_loaded_without_its_tallies_counts_live_instead_of_loading_them(django_assert_num_queries):
    plan = computed_plan()
    slim = Plan.objects.defer("tallies").get(pk=plan.pk)
    with django_assert_num_queries(1):
        closure = selectors.plan_closure(plan=slim, today=TODAY)
    assert closure.kpi_count == 3


@pytest.mark.django_db
def test_closures_of_many_plans_count_only_those_not_current(django_assert_num_queries):
    current, marked, empty = computed_plan(), computed_plan(), PlanFactory()
    Plan.objects.filter(pk=marked.pk).update(data_revision=marked.data_revision + 1)
    plans = list(Plan.objects.filter(pk__in=[current.pk, marked.pk, empty.pk]))

    with django_assert_num_queries(1):  # the marked plan and the never-computed one, together
        closures = selectors.plan_closures(plans=plans, today=TODAY)

    assert closures[current.pk].kpi_count == closures[marked.pk].kpi_count == 3
    assert closures[empty.pk].kpi_count == 0
    assert KPI.objects.filter(plan=empty).count() == 0


def dashboard_pages(client, plan, **query) -> tuple[dict, int]:
    """The dashboard's tables' paginators, and the number of queries the page cost (the page cache is cleared)."""
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("plans:dashboard", args=[plan.slug]), query)
    assert response.status_code == 200
    pages = {name: response.context[name].paginator for name in ("goals", "kpis", "milestones")}
    return {name: (p.count, p.num_pages) for name, p in pages.items()}, len(queries)


@pytest.mark.django_db
def test_the_dashboards_tables_are_counted_from_the_tallies_while_they_are_current(client, manager):
    plan = computed_plan()
    goal = plan.goals.get()
    for i in range(30):  # more than a page of each
        KPIFactory(goal=goal, code=f"EXTRA-{i:02}")
        MilestoneFactory(goal=goal, due_date=TODAY - datetime.timedelta(days=40))  # overdue once computed
    plan_recompute(plan_id=plan.pk)
    client.force_login(manager)

    stored, stored_queries = dashboard_pages(client, plan)
    Plan.objects.filter(pk=plan.pk).update(data_revision=plan.data_revision + 5)  # a write not yet computed
    live, live_queries = dashboard_pages(client, plan)

    assert stored == live
    assert stored["kpis"] == (33, 2) and stored["milestones"][0] >= 30
    # The tables' three counts, and the tiles' and banner's two, are read from the tallies.
    assert live_queries - stored_queries == 5
    filtered, _ = dashboard_pages(client, plan, status="on_track")  # a filter counts the rows it keeps
    assert filtered["kpis"][0] < 33
