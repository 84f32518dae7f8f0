"""The OpenAPI schema: generated without warnings, served with its UIs, and honoured by every operation.

The schemathesis run sends generated requests (valid and invalid) to every operation through the WSGI
app and checks that none answers with a server error or with a body its schema does not describe.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import KPIFactory, MeasurementFactory, MilestoneFactory, api_token
from tracker.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_documentation_pages_are_served_offline(client, path, db):
    response = client.get(path)
    assert response.status_code == 200
    if path != "/api/schema/":
        assert b"cdn.jsdelivr" not in response.content


@pytest.fixture
def keep_test_connection():
    """Calls go through the raw WSGI app, whose request signals would close the test's database connection
    (Django's own test client disconnects the same handler)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def existing(db, settings, keep_test_connection):
    """A manage token and one row of each resource, whose ids replace generated ones so writes get through."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": None}}
    kpi = KPIFactory()
    measurement = MeasurementFactory(kpi=kpi)
    milestone = MilestoneFactory(goal=kpi.goal)
    _, key = api_token(scope="manage")
    ids = {
        "plans": kpi.plan_id,
        "focus-areas": kpi.goal.focus_area_id,
        "goals": kpi.goal_id,
        "kpis": kpi.pk,
        "milestones": milestone.pk,
        "measurements": measurement.pk,
        "teams": kpi.owner_team_id,
    }
    fields = {"focus_area": ids["focus-areas"], "goal": ids["goals"], "kpi": kpi.pk, "milestone": milestone.pk}
    return key, ids, {**fields, "owner_team": kpi.owner_team_id}


def use_existing_ids(case, ids: dict, fields: dict) -> None:
    resource = case.path.split("/")[3]
    if case.path_parameters and "id" in case.path_parameters and resource in ids:
        case.path_parameters["id"] = ids[resource]
    rows = case.body.get("measurements") if isinstance(case.body, dict) else None
    for item in [case.body, *(rows if isinstance(rows, list) else [])]:
        if isinstance(item, dict):
            for name in fields.keys() & item.keys():
                if isinstance(item[name], int):
                    item[name] = fields[name]


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_without_server_errors_and_as_documented(case, existing):
    key, ids, fields = existing
    use_existing_ids(case, ids, fields)
    response = case.call(headers={"Authorization": f"Token {key}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
