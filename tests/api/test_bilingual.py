"""The API carries plan content in both languages: every bilingual field with its Chinese twin, read and written."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from plans.api import serializers
from plans.models import KPI, FocusArea, Goal, Milestone, Plan, Team
from tests.api.test_resources import kpi_body
from tests.factories import FocusAreaFactory, GoalFactory, KPIFactory, MilestoneFactory, PlanFactory, TeamFactory

SERIALIZERS = [
    (serializers.TeamSerializer, Team),
    (serializers.PlanSerializer, Plan),
    (serializers.FocusAreaSerializer, FocusArea),
    (serializers.GoalSerializer, Goal),
    (serializers.MilestoneSerializer, Milestone),
    (serializers.KPISerializer, KPI),
]


@pytest.mark.parametrize(("serializer", "model"), SERIALIZERS)
def test_every_bilingual_field_is_in_the_api_with_its_chinese_twin(serializer, model):
    fields = serializer.Meta.fields
    for name in model.BILINGUAL_FIELDS:
        assert name in fields
        assert f"{name}_zh" in fields


@pytest.mark.parametrize(
    ("route", "factory", "values"),
    [
        ("teams", TeamFactory, {"name_zh": "高新技术发展司"}),
        ("plans", PlanFactory, {"name_zh": "2025年国家高新区行动计划", "description_zh": "示例"}),
        ("focus-areas", FocusAreaFactory, {"name_zh": "产业集聚", "description_zh": "区域特色"}),
        ("goals", GoalFactory, {"title_zh": "提升工业增加值", "description_zh": "9.8万亿元"}),
        ("milestones", MilestoneFactory, {"title_zh": "发布路线图", "description_zh": "按计划推进"}),
        ("kpis", KPIFactory, {"name_zh": "国家高新区生产总值", "unit_zh": "万亿元"}),
    ],
)
def test_lists_and_details_return_both_languages(writer, route, factory, values):
    item = factory(**values)
    [row] = writer.get(f"/api/v1/{route}/").json()["results"]
    english = {name.removesuffix("_zh"): getattr(item, name.removesuffix("_zh")) for name in values}
    assert {name: row[name] for name in values} == values
    assert {name: row[name] for name in english} == english
    assert writer.get(f"/api/v1/{route}/{item.pk}/").json() == row


def test_a_kpi_is_created_with_chinese_names(writer, goal):
    response = writer.post("/api/v1/kpis/", kpi_body(goal, name_zh="每万人发明专利拥有量", unit_zh="件"))
    assert response.status_code == 201, response.json()
    kpi = KPI.objects.get()
    assert (kpi.name, kpi.name_zh, kpi.unit_zh) == ("Patents per 10,000 people", "每万人发明专利拥有量", "件")


def test_a_patch_changes_only_the_chinese_title(writer, goal):
    response = writer.patch(f"/api/v1/goals/{goal.pk}/", {"title_zh": "提升研发投入"})
    assert response.status_code == 200, response.json()
    goal.refresh_from_db()
    assert (goal.title_zh, goal.version) == ("提升研发投入", 2)
    assert response.json()["title"] == goal.title


def test_upsert_by_external_id_takes_and_updates_the_chinese_twins(writer, goal):
    url = "/api/v1/milestones/by-external-id/pm-tool/M-8/"
    body = {"goal": goal.pk, "title": "Pilot", "title_zh": "试点", "due_date": "2025-06-30"}
    assert writer.put(url, body).status_code == 201
    changed = writer.put(url, {**body, "title_zh": "开展试点", "description_zh": "三个国家高新区"})
    assert changed.status_code == 200, changed.json()
    milestone = Milestone.objects.get()
    assert (milestone.title_zh, milestone.description_zh, milestone.version) == ("开展试点", "三个国家高新区", 2)


def test_a_chinese_name_breaks_the_same_rules_as_the_english_one(writer, goal):
    too_long = writer.post("/api/v1/kpis/", kpi_body(goal, name_zh="长" * 301))
    two_lines = writer.post("/api/v1/kpis/", kpi_body(goal, code="K-2", unit_zh="万亿\n元"))
    assert too_long.status_code == 400 and "name_zh" in too_long.json()
    assert two_lines.status_code == 400 and "unit_zh" in two_lines.json()
    assert not KPI.objects.exists()


def test_the_openapi_schema_documents_the_chinese_twins():
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    shown = {
        "Team": ("name_zh",),
        "Plan": ("name_zh", "description_zh"),
        "FocusArea": ("name_zh", "description_zh"),
        "Goal": ("title_zh", "description_zh"),
        "Milestone": ("title_zh", "description_zh"),
        "KPI": ("name_zh", "unit_zh"),
    }
    written = ("GoalRequest", "PatchedMilestoneRequest", "KPIRequest", "KPIByExternalIdRequest")
    for component, names in shown.items():
        for name in names:
            assert components[component]["properties"][name]["type"] == "string", (component, name)
    for component in written:
        twins = {name for name in components[component]["properties"] if name.endswith("_zh")}
        assert twins in ({"title_zh", "description_zh"}, {"name_zh", "unit_zh"}), component
        assert not set(components[component].get("required", [])) & twins  # a record may have one language only
