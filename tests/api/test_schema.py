"""The OpenAPI schema: generated without warnings and served with its UIs (its contract: test_schemathesis.py)."""

import pytest
from django.core.management import call_command


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_documentation_pages_are_served_offline(client, path, db):
    response = client.get(path)
    assert response.status_code == 200
    if path != "/api/schema/":
        assert b"cdn.jsdelivr" not in response.content
