"""``?expand=explanation``: explanations only on request, so a page of 100 KPIs stays small."""

import datetime
import json

import pytest

from plans.models import KPI, Goal
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, PlanFactory

ROWS = 100
# At national scale 1 a KPI's explanation lists 200 measurements (28.7 KB); a list row without it stays
# under 2 KB, so a page of 100 rows stays under 200 KB whatever the explanations weigh.
MAX_BYTES_PER_ROW = 2_000


def explanation(points: int = 200) -> dict:
    start = datetime.date(2009, 1, 31)
    return {
        "method_version": 2,
        "status": "on_track",
        "points": [
            {"date": (start + datetime.timedelta(days=30 * i)).isoformat(), "value": 60 + i * 0.137, "used": True}
            for i in range(points)
        ],
        "fit": {"slope": 0.137, "intercept": 60.0, "residual_sd": 1.234},
    }


@pytest.fixture
def big_plan(db):
    """A plan of ~100 KPIs (and their goals) whose stored explanations weigh what they do at scale 1."""
    plan = PlanFactory()
    goals = [GoalFactory(focus_area__plan=plan) for _ in range(4)]
    for i in range(ROWS):
        KPIFactory(goal=goals[i % len(goals)])
    KPI.objects.filter(plan=plan).update(explanation=explanation())
    Goal.objects.filter(plan=plan).update(explanation=explanation(20))
    return plan


def test_a_page_of_100_kpis_stays_small_and_explanations_come_on_request(reader, big_plan):
    page = reader.get("/api/v1/kpis/", {"page_size": ROWS})
    assert page.status_code == 200
    rows = page.json()["results"]
    assert len(rows) == ROWS
    assert all("explanation" not in row for row in rows)
    assert len(page.content) < MAX_BYTES_PER_ROW * len(rows)

    expanded = reader.get("/api/v1/kpis/", {"page_size": ROWS, "expand": "explanation"})
    assert [row["explanation"] for row in expanded.json()["results"]] == [explanation()] * ROWS
    assert len(expanded.content) > len(json.dumps(explanation(), separators=(",", ":"))) * ROWS


@pytest.mark.parametrize("route", ["plans", "focus-areas", "goals", "milestones", "kpis"])
def test_every_resource_with_a_status_leaves_the_explanation_out_of_lists_and_details(reader, route, big_plan):
    MilestoneFactory(goal=big_plan.goals.first())
    row = reader.get(f"/api/v1/{route}/").json()["results"][0]
    assert "explanation" not in row and "status" in row
    detail = reader.get(f"/api/v1/{route}/{row['id']}/")
    assert "explanation" not in detail.json()
    assert "explanation" in reader.get(f"/api/v1/{route}/{row['id']}/", {"expand": "explanation"}).json()
    assert "explanation" in reader.get(f"/api/v1/{route}/", {"expand": "explanation"}).json()["results"][0]


def test_the_detail_explanation_is_the_stored_one(reader, big_plan):
    kpi = KPI.objects.filter(plan=big_plan).first()
    body = reader.get(f"/api/v1/kpis/{kpi.pk}/", {"expand": "explanation"}).json()
    assert body["explanation"] == explanation()


def test_an_unknown_expand_is_refused_with_the_accepted_values_and_writes_nothing(writer, kpi):
    response = writer.get("/api/v1/kpis/", {"expand": "explanation,measurements"})
    assert response.status_code == 400
    assert response.json()["expand"] == ["Unknown value measurements; accepted: explanation."]
    patched = writer.patch(f"/api/v1/kpis/{kpi.pk}/?expand=everything", {"name": "Renamed"})
    assert patched.status_code == 400
    kpi.refresh_from_db()
    assert (kpi.name, kpi.version) != ("Renamed", 2)


@pytest.mark.parametrize("query", ["expand=", "expand=%20", "expand=&expand=explanation"])
def test_a_blank_expand_is_refused_as_a_blank_filter_is(reader, kpi, query):
    for path in ("/api/v1/kpis/", f"/api/v1/kpis/{kpi.pk}/"):
        response = reader.get(f"{path}?{query}")
        assert response.status_code == 400
        assert response.json()["expand"] == ["This value may not be blank."]


def test_writes_answer_with_the_explanation_only_when_asked(writer, kpi):
    assert "explanation" not in writer.patch(f"/api/v1/kpis/{kpi.pk}/", {"name": "A"}).json()
    assert "explanation" in writer.patch(f"/api/v1/kpis/{kpi.pk}/?expand=explanation", {"name": "B"}).json()


def test_the_schema_documents_expand_on_reads_and_the_explanation_as_optional(reader):
    schema = reader.get("/api/schema/?format=json").json()
    for path in ("/api/v1/kpis/", "/api/v1/kpis/{id}/", "/api/v1/goals/", "/api/v1/plans/{id}/"):
        names = {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}
        assert "expand" in names, path
    assert "expand" not in {p["name"] for p in schema["paths"]["/api/v1/teams/"]["get"].get("parameters", [])}
    kpi = schema["components"]["schemas"]["KPI"]
    assert "explanation" in kpi["properties"] and "explanation" not in kpi["required"]
