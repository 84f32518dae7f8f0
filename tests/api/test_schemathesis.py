"""The OpenAPI schema is a valid, stable contract that every operation keeps, under schemathesis' checks.

Every check runs (status codes, headers, bodies, content types, valid data accepted, invalid data
refused, ...) over every operation, on PostgreSQL, through the WSGI app with a real manage token.
Generated ids are replaced with ids of rows that exist, so writes reach the services. What no schema can
promise is configured in ``schemathesis.toml`` at the project root, with the reason (the CLI reads it too).
"""

import json
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from plans.models.base import MAX_ID
from tests.factories import KPIFactory, MeasurementFactory, MilestoneFactory, api_token
from tracker.wsgi import application

pytestmark = pytest.mark.postgres

CONFIG = SchemathesisConfig.from_path(Path(__file__).resolve().parents[2] / "schemathesis.toml")
# The coverage phase's boundary cases number in the hundreds an operation (minutes on two cores); the CI run
# keeps fuzzing, valid and invalid, under every check. `schemathesis run` from the project root runs all phases.
CONFIG.projects.default.phases.coverage.enabled = False
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


def generated_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi_3_and_the_same_on_every_generation():
    first = generated_schema()
    validate_schema(first)  # the OpenAPI 3.0 JSON Schema drf-spectacular ships
    assert json.dumps(first, sort_keys=True) == json.dumps(generated_schema(), sort_keys=True)


def test_request_bodies_are_closed_and_every_operation_documents_its_errors():
    document = generated_schema()
    for name, component in document["components"]["schemas"].items():
        if name.endswith("Request"):
            assert component["additionalProperties"] is False, name
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "429"} <= codes, (method, path)
            if "{id}" in path:
                assert "404" in codes, (method, path)
            if method in ("put", "patch", "delete"):
                assert "412" in codes, (method, path)


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


def valid_id(value) -> bool:
    """An id the schema allows (``ID_RANGE``): only those are swapped for existing ones. An id out of range is a
    negative case's invalid data, which must reach the API as generated and be refused."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def use_existing_ids(case, ids: dict, fields: dict) -> None:
    resource = case.path.split("/")[3]
    path = case.path_parameters or {}
    if resource in ids and valid_id(path.get("id")):
        path["id"] = ids[resource]
    rows = case.body.get("measurements") if isinstance(case.body, dict) else None
    for item in [case.body, *(rows if isinstance(rows, list) else [])]:
        if isinstance(item, dict):
            for name in fields.keys() & item.keys():
                if valid_id(item[name]):
                    item[name] = fields[name]


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract_under_all_checks(case, existing):
    key, ids, fields = existing
    use_existing_ids(case, ids, fields)
    case.call_and_validate(headers={"Authorization": f"Token {key}"})
