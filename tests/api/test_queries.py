"""Query counts of every list endpoint, pinned at two data sizes: the bound must not grow with the data."""

import pytest

from plans.services import goal_delete
from tests.factories import (
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    UserFactory,
    ZoneFactory,
    api_client,
    api_token,
)

ROUTES = [
    "teams",
    "units",
    "plans",
    "focus-areas",
    "goals",
    "milestones",
    "kpis",
    "measurements",
    "milestone-updates",
    "deletions",
]
# Token lookup and the page itself.
MAX_QUERIES = 2


def build(size: int) -> None:
    import datetime

    from plans.services import milestone_progress_record

    for _ in range(size):
        goal = GoalFactory()
        kpi = KPIFactory(goal=goal)
        for month in range(1, 4):
            MeasurementFactory(kpi=kpi, date=datetime.date(2025, month, 28))
        zone = ZoneFactory()
        MeasurementFactory(kpi=kpi, unit=zone, date=datetime.date(2025, 3, 28))
        milestone = MilestoneFactory(goal=goal)
        milestone_progress_record(milestone=milestone, percent_complete=50, state="in_progress")
        doomed = GoalFactory(focus_area=goal.focus_area)
        KPIFactory(goal=doomed)
        goal_delete(goal=doomed)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("size", [2, 20])
def test_list_query_count_does_not_grow_with_the_data(reader, route, size, django_assert_max_num_queries):
    build(size)
    reader.get("/api/v1/teams/")  # records last_used_at, once a minute
    with django_assert_max_num_queries(MAX_QUERIES):
        response = reader.get(f"/api/v1/{route}/", {"page_size": 1000})
    assert response.status_code == 200
    assert len(response.json()["results"]) >= size


@pytest.mark.parametrize("route", ["kpis", "milestones", "measurements"])
def test_a_signed_in_user_list_costs_the_session_and_user_lookups_more(manager, route, django_assert_max_num_queries):
    build(5)
    client = api_client(user=manager)
    with django_assert_max_num_queries(MAX_QUERIES + 1):
        assert client.get(f"/api/v1/{route}/").status_code == 200


@pytest.mark.parametrize("size", [2, 20])
def test_the_measurements_list_by_unit_and_level_costs_the_same(reader, size, django_assert_max_num_queries):
    build(size)
    code = ZoneFactory._meta.model.objects.filter(level="zone").values_list("code", flat=True).first()
    reader.get("/api/v1/teams/")
    for params in ({"unit": code}, {"level": "zone"}, {"level": "nation"}):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = reader.get("/api/v1/measurements/", {"page_size": 1000, **params})
        assert response.status_code == 200
        assert response.json()["results"]


@pytest.mark.parametrize("size", [2, 20])
def test_a_zone_reporters_or_unit_tokens_measurements_list_costs_no_more(db, size, django_assert_max_num_queries):
    build(size)
    zone = ZoneFactory._meta.model.objects.filter(level="zone").first()
    reporter = UserFactory(username="zone-reporter", role="staff")
    zone.reporters.add(reporter)
    _, key = api_token(scope="write", units=[zone])
    token_client = api_client(key)
    token_client.get("/api/v1/teams/")
    # Token lookup and the page: the units are a subquery of the page's query.
    with django_assert_max_num_queries(MAX_QUERIES):
        response = token_client.get("/api/v1/measurements/", {"page_size": 1000})
    assert response.status_code == 200 and len(response.json()["results"]) >= size * 3
    reporter_client = api_client(user=reporter)
    with django_assert_max_num_queries(MAX_QUERIES + 1):  # session and user instead of the token
        response = reporter_client.get("/api/v1/measurements/", {"page_size": 1000})
    assert response.status_code == 200 and len(response.json()["results"]) >= size * 3


@pytest.mark.parametrize("size", [2, 20])
def test_submission_list_query_count_does_not_grow_with_the_data(reader, size, django_assert_max_num_queries):
    import datetime

    from plans.services import submission_save

    for _ in range(size):
        kpi = KPIFactory()
        submission_save(
            kpi=kpi,
            period_end=datetime.date(2025, 3, 31),
            value=61.0,
            note="checked",
            submit=True,
            author=kpi.owner_team.members.create(username=f"reporter-{kpi.pk}"),
        )
    reader.get("/api/v1/teams/")  # records last_used_at, once a minute
    with django_assert_max_num_queries(MAX_QUERIES + 1):  # and the transitions of the page's submissions
        response = reader.get("/api/v1/submissions/", {"page_size": 1000})
    assert response.status_code == 200
    assert len(response.json()["results"]) == size
