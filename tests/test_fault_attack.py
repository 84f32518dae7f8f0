"""Issue 11's fault-and-attack run, end to end: real PostgreSQL, a Redis server of the test's own that it stops and
starts, and a real Celery worker and beat run as docker-compose.yml runs them (production settings, .env.example).

The web and API checks go through Django's test client on the same database and the shared Redis cache (the sign-in
throttle and the API throttle read it); the outage check runs the worker, beat and a writer in subprocesses.
Each check also asserts that a refused request changed nothing.
"""

import datetime
import json
import sys
import time

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from plans import services, signin_throttle
from plans.api.parsers import BULK_MAX_BODY_BYTES, MAX_DEPTH
from plans.dates import month_ends_between
from plans.models import KPI, FocusArea, Goal, Measurement, Milestone, MilestoneUpdate, Plan
from plans.recompute import plan_recompute
from tests.api.test_cross_team import kpi_body
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
from tests.test_compose import ROOT
from tests.test_worker_resilience import WRITE, achieved, beat_start
from tests.test_write_rules import plan_file
from tests.worker import Process, wait_for

pytest_plugins = ["tests.worker"]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]

YEAR_ONE = "0001-01-01"


@pytest.fixture(autouse=True)
def _production_like(requires_postgres, requires_redis, settings):
    """PostgreSQL and Redis are required (CI fails without them); DEBUG off as in production; fresh throttles."""
    settings.DEBUG = False
    cache.clear()
    signin_throttle.breaker.reset()
    yield
    cache.clear()


def rows() -> tuple:
    """Every row a refused request must leave as it was."""
    return tuple(
        sorted(model.objects.values_list("id", "version"))
        for model in (Plan, FocusArea, Goal, KPI, Milestone, Measurement)
    ) + (MilestoneUpdate.objects.count(), sorted(Plan.objects.values_list("id", "data_revision")))


@pytest.fixture
def manage_api():
    _, key = api_token(scope="manage")
    return api_client(key)


# --- a year-1 date, on every channel ---


def test_a_year_one_date_is_refused_on_every_channel(client, staff, team, manage_api):
    kpi = KPIFactory(goal=GoalFactory(owner_team=team))
    milestone = MilestoneFactory(goal=kpi.goal, percent_complete=40, state="in_progress")
    before = rows()

    client.force_login(staff)
    form = client.post(
        reverse("plans:measurement_create", kwargs={"pk": kpi.pk}),
        {"version": kpi.version, "date": YEAR_ONE, "value": "61"},
    )
    assert form.status_code == 200 and "date" in form.context["form"].errors

    single = manage_api.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": YEAR_ONE, "value": 61}, format="json")
    bulk_rows = [{"kpi": kpi.pk, "date": "2025-03-31", "value": 61}, {"kpi": kpi.pk, "date": YEAR_ONE, "value": 61}]
    bulk = manage_api.post("/api/v1/measurements/bulk/", {"measurements": bulk_rows}, format="json")
    done = {"milestone": milestone.pk, "percent_complete": 100, "state": "done", "completed_on": YEAR_ONE}
    completion = manage_api.post("/api/v1/milestone-updates/", done, format="json")
    due = manage_api.patch(f"/api/v1/milestones/{milestone.pk}/", {"due_date": YEAR_ONE}, format="json")
    assert [r.status_code for r in (single, bulk, completion, due)] == [400] * 4
    assert "date" in single.json() and set(bulk.json()["measurements"]) == {"1"}
    assert "completed_on" in completion.json() and "due_date" in due.json()
    assert rows() == before

    for data in (
        plan_file(milestone_fields={"percent_complete": 100, "state": "done", "completed_on": YEAR_ONE}),
        plan_file({"measurements": [[YEAR_ONE, 61]]}),
        plan_file({"baseline_date": YEAR_ONE}),
    ):
        with pytest.raises(ValidationError):
            services.plan_import(data=data)
    assert rows() == before


# --- the recompute's cost after the widest input the app accepts ---


def test_after_the_widest_accepted_dates_a_recompute_walks_no_more_than_the_plans_month_ends(manage_api, team):
    goal = GoalFactory(owner_team=team)
    plan = goal.plan
    first, last = plan.date_window()
    kpi = KPIFactory(goal=goal)
    accepted = [
        manage_api.patch(f"/api/v1/goals/{goal.pk}/", {"start_date": first, "due_date": last}, format="json"),
        manage_api.patch(
            f"/api/v1/kpis/{kpi.pk}/", {"baseline_date": first, "target_date": last}, format="json"
        ),
        manage_api.post(
            "/api/v1/milestones/",
            {"goal": goal.pk, "title": "Widest", "start_date": first, "due_date": last, "completed_on": first},
            format="json",
        ),
        manage_api.post(
            "/api/v1/measurements/", {"kpi": kpi.pk, "date": first + datetime.timedelta(days=1), "value": 61},
            format="json",
        ),
    ]  # fmt: skip
    assert [r.status_code for r in accepted] == [200, 200, 201, 201], [r.content for r in accepted]
    period = month_ends_between(plan.start_date, plan.end_date)

    summary = plan_recompute(plan_id=plan.pk, backfill=True)
    assert len(summary.month_ends) <= len(period)
    assert all(plan.start_date <= day <= plan.end_date for day in summary.month_ends)
    assert not Plan.objects.get(pk=plan.pk).needs_recompute


# --- the admin login ---


def test_the_admin_login_is_throttled_and_then_refuses_the_right_password(client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(signin_throttle.FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": "root", "password": "wrong"})
    right = client.post(reverse("admin:login"), {"username": "root", "password": "secret-pass-123"})
    assert right.status_code == 200 and "Too many failed sign-in attempts" in right.content.decode()
    assert "_auth_user_id" not in client.session


# --- a slash in a code ---


def test_a_slash_code_is_refused_by_the_api_the_admin_and_the_import(client, manage_api):
    goal = GoalFactory(code="G-1")
    before = rows()
    api = manage_api.patch(f"/api/v1/goals/{goal.pk}/", {"code": "BG/1"}, format="json")
    assert api.status_code == 400 and "code" in api.json()

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    admin = client.post(
        reverse("admin:plans_focusarea_add"), {"plan": goal.plan_id, "code": "A/B", "name": "Area", "weight": "1"}
    )
    assert admin.status_code == 200 and "code" in admin.context["adminform"].form.errors

    data = plan_file()
    data["focus_areas"][0]["goals"][0]["code"] = "G/1"
    with pytest.raises(ValidationError):
        services.plan_import(data=data)
    assert rows() == before


# --- cross-team cascades and injections ---


@pytest.fixture
def theirs(other_team):
    """Team B's goal, with a KPI and a milestone."""
    goal = GoalFactory(owner_team=other_team)
    return goal, KPIFactory(goal=goal), MilestoneFactory(goal=goal, percent_complete=10, state="in_progress")


@pytest.fixture(params=["token", "session"])
def team_a_api(request, team, staff):
    """Team A's API access: a manage token for team A, or the session of team A's staff member."""
    if request.param == "token":
        _, key = api_token(scope="manage", team=team)
        return api_client(key)
    session = api_client()
    session.force_login(staff)
    return session


def test_team_a_cannot_cascade_into_or_inject_into_team_bs_goals_through_the_api(
    team_a_api, team, theirs, team_a_goal_with_team_b_items
):
    api = team_a_api
    their_goal, their_kpi, their_milestone = theirs
    our_kpi = KPIFactory(goal=GoalFactory(owner_team=team, focus_area=their_goal.focus_area))
    our_milestone = MilestoneFactory(goal=our_kpi.goal)
    before = rows()
    responses = [
        api.delete(f"/api/v1/goals/{team_a_goal_with_team_b_items.pk}/"),
        api.post("/api/v1/kpis/", kpi_body(their_goal, team), format="json"),
        api.post("/api/v1/milestones/", {"goal": their_goal.pk, "owner_team": team.pk, "title": "Ours",
                                         "due_date": "2025-12-31"}, format="json"),
        api.put("/api/v1/kpis/by-external-id/ours/K-9/", kpi_body(their_goal, team, "K9"), format="json"),
        api.patch(f"/api/v1/kpis/{our_kpi.pk}/", {"goal": their_goal.pk}, format="json"),
        api.patch(f"/api/v1/milestones/{our_milestone.pk}/", {"goal": their_goal.pk}, format="json"),
        api.post("/api/v1/measurements/", {"kpi": their_kpi.pk, "date": "2025-03-31", "value": 1}, format="json"),
        api.post("/api/v1/milestone-updates/", {"milestone": their_milestone.pk, "percent_complete": 20,
                                                "state": "in_progress"}, format="json"),
    ]  # fmt: skip
    assert [r.status_code for r in responses] == [403] * len(responses), [r.content for r in responses]
    assert rows() == before


def test_the_web_refuses_another_teams_items_and_goal_deletes_by_staff(
    client, staff, theirs, team_a_goal_with_team_b_items
):
    their_goal, their_kpi, their_milestone = theirs
    before = rows()
    client.force_login(staff)
    measurement = client.post(
        reverse("plans:measurement_create", kwargs={"pk": their_kpi.pk}),
        {"version": their_kpi.version, "date": "2025-03-31", "value": "61"},
    )
    progress = client.post(
        reverse("plans:milestone_update", kwargs={"pk": their_milestone.pk}),
        {"version": their_milestone.version, "percent_complete": "20", "state": "in_progress"},
    )
    assert (measurement.status_code, progress.status_code) == (403, 403)
    # A staff member given the admin (is_staff) still cannot delete or define: definitions are for managers.
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    delete = client.post(reverse("admin:plans_goal_delete", args=[team_a_goal_with_team_b_items.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert rows() == before


# --- the parser: deep JSON and oversized bodies on every write endpoint ---


def write_operations() -> list[tuple[str, str]]:
    """(method, path template) of every write operation the API documents."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "put", "patch")
    )


@pytest.fixture
def write_urls(team):
    """Every write operation's URL, with the ids of items that exist (a missing one would answer 404 first)."""
    kpi = KPIFactory(goal=GoalFactory(owner_team=team))
    items = {
        "goals": kpi.goal_id,
        "kpis": kpi.pk,
        "milestones": MilestoneFactory(goal=kpi.goal).pk,
        "measurements": MeasurementFactory(kpi=kpi, date=datetime.date(2025, 3, 31)).pk,
        "units": ZoneFactory().pk,
    }
    urls = []
    for method, path in write_operations():
        resource = path.split("/")[3]
        url = path.replace("{id}", str(items.get(resource, 0))).replace("{source}", "s").replace("{external_id}", "e")
        urls.append((method, url))
    assert len(urls) >= 12, urls  # create, update (PUT, PATCH) and by-external-id of each resource, bulk, progress
    return urls


def test_deep_json_is_400_on_every_write_endpoint(manage_api, write_urls):
    before = rows()
    deep = "[" * 1000 + "]" * 1000
    for method, url in write_urls:
        response = getattr(manage_api, method)(url, deep, content_type="application/json")
        assert response.status_code == 400, (method, url, response.status_code)
        assert f"nested deeper than {MAX_DEPTH} levels" in response.json()["detail"], (method, url)
    assert rows() == before


def test_an_oversized_body_is_413_on_every_write_endpoint(manage_api, write_urls, settings):
    before = rows()
    for method, url in write_urls:
        # Claimed by Content-Length: refused before a byte is read, past the largest limit (the bulk one).
        response = getattr(manage_api, method)(
            url, "{}", content_type="application/json", CONTENT_LENGTH=str(BULK_MAX_BODY_BYTES + 1)
        )
        assert response.status_code == 413, (method, url, response.status_code)
    # Sent for real: the parser stops reading at the limit.
    body = json.dumps({"title": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = manage_api.post("/api/v1/goals/", body, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert rows() == before


# --- the broker: Redis stopped for 40 s, with no write after it ---

OUTAGE_SECONDS = 40
CAUGHT_UP_WITHIN = 120


def test_the_worker_survives_a_40_second_redis_outage_and_statuses_catch_up_with_no_later_write(
    redis_server, compose_worker, worker_env, tmp_path
):
    """A write committed while Redis is down loses its enqueue; beat's catch-up (every 2 s here instead of every
    minute, so the test does not wait a whole tick) recomputes the plan once it has been marked for a minute."""
    redis_server.start()
    worker = compose_worker()
    beat = beat_start(worker_env, tmp_path)
    try:
        # Never computed, so the write cannot be brought up to date in-process (plans.incremental falls back)
        # and needs the whole-plan recompute, whose enqueue the outage loses.
        kpi = KPIFactory(baseline_value=60, target_value=80)
        assert wait_for(lambda: "ready." in worker.output(), timeout=60), worker.output()

        redis_server.stop()
        stopped = time.monotonic()
        write = Process([sys.executable, "-c", WRITE, str(kpi.pk)], worker_env, tmp_path / "write.log", cwd=ROOT)
        assert write.popen.wait(timeout=60) == 0, write.output()
        assert "stays marked" in write.output()  # the enqueue failed; the write committed all the same
        assert Plan.objects.get(pk=kpi.plan_id).needs_recompute
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        redis_server.start()

        assert wait_for(achieved(kpi), timeout=CAUGHT_UP_WITHIN), worker.output() + beat.output()
        assert time.monotonic() - stopped < OUTAGE_SECONDS + CAUGHT_UP_WITHIN
        assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute
        assert worker.alive and beat.alive, worker.output() + beat.output()
        assert "AttributeError" not in worker.output()
    finally:
        beat.stop()
