"""Plan content in two languages: the import takes both, the exports carry both, explanations name records in the
reader's language (the API's side: tests/api/test_bilingual.py; the demo plan's: tests/test_demo_plan.py)."""

import csv
import datetime
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from plans import rollup, services
from plans.breakdowns import coverage_sentence
from plans.explain import explain
from plans.models import KPI, DefinitionChange, FocusArea, Goal, Milestone, Plan, Team
from plans.recompute import plan_recompute
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory
from tests.test_dashboard_views import build_plan
from tests.test_exports import export, read_csv, read_xlsx
from tests.test_write_rules import plan_file
from tests.test_zone_pages import build_zones


def bilingual_plan_file() -> dict:
    data = plan_file()
    data["teams"] = [{"name": "Team A", "name_zh": "甲处"}]
    data["plan"].update(name_zh="导入的计划", description_zh="计划说明")
    area = data["focus_areas"][0]
    area.update(name_zh="领域", description_zh="领域说明")
    goal = area["goals"][0]
    goal.update(title_zh="增长", description_zh="目标说明")
    goal["kpis"][0].update(name_zh="国家高新区占全国产出比重", unit_zh="%")
    goal["milestones"][0].update(title_zh="孵化器投入运营", description_zh="里程碑说明")
    return data


def chinese_names() -> dict:
    return {
        "team": Team.objects.get().name_zh,
        "plan": Plan.objects.values_list("name_zh", "description_zh").get(),
        "area": FocusArea.objects.values_list("name_zh", "description_zh").get(),
        "goal": Goal.objects.values_list("title_zh", "description_zh").get(),
        "kpi": KPI.objects.values_list("name_zh", "unit_zh").get(),
        "milestone": Milestone.objects.values_list("title_zh", "description_zh").get(),
    }


EXPECTED = {
    "team": "甲处",
    "plan": ("导入的计划", "计划说明"),
    "area": ("领域", "领域说明"),
    "goal": ("增长", "目标说明"),
    "kpi": ("国家高新区占全国产出比重", "%"),
    "milestone": ("孵化器投入运营", "里程碑说明"),
}


def test_the_plan_import_takes_both_languages_of_every_record(db):
    plan, changed = services.plan_import(data=bilingual_plan_file())
    assert changed
    assert chinese_names() == EXPECTED
    assert plan.name == "Imported plan"
    assert Team.objects.get().name == "Team A"


def test_importing_the_same_bilingual_file_twice_changes_nothing(db):
    services.plan_import(data=bilingual_plan_file())
    changes = DefinitionChange.objects.count()
    _, changed = services.plan_import(data=bilingual_plan_file())
    assert not changed
    assert DefinitionChange.objects.count() == changes


def test_a_file_without_chinese_names_still_imports(db):
    services.plan_import(data=plan_file())
    assert KPI.objects.get().name_zh == ""
    with translation.override("zh-hans"):
        assert KPI.objects.get().tr.name == "Zones' share of national output"


def test_without_overwrite_blank_chinese_names_are_filled_and_written_ones_kept(db):
    services.plan_import(data=plan_file())
    Goal.objects.update(title_zh="人工填写的标题")
    _, changed = services.plan_import(data=bilingual_plan_file(), overwrite=False)
    assert changed
    names = chinese_names()
    assert names["goal"] == ("人工填写的标题", "目标说明")  # the title a person wrote is kept; the blank one filled
    assert names["kpi"] == EXPECTED["kpi"]
    assert names["team"] == EXPECTED["team"]
    assert KPI.objects.get().name == "Zones' share of national output"
    assert DefinitionChange.objects.filter(item_type="kpi", field="name_zh").exists()


def test_without_overwrite_only_the_chinese_twins_change(db):
    services.plan_import(data=plan_file())
    data = bilingual_plan_file()
    data["focus_areas"][0]["goals"][0]["kpis"][0]["target_value"] = 99
    services.plan_import(data=data, overwrite=False)
    assert KPI.objects.get().target_value == 80


def test_a_bad_chinese_name_names_its_row_and_writes_nothing(db):
    data = bilingual_plan_file()
    data["focus_areas"][0]["goals"][0]["kpis"][0]["unit_zh"] = "万亿\n元"
    with pytest.raises(ValidationError) as caught:
        services.plan_import(data=data)
    assert "unit_zh" in str(caught.value)
    assert not Plan.objects.exists() and not Team.objects.exists()


def test_a_bad_chinese_team_name_names_the_team(db):
    data = bilingual_plan_file()
    data["teams"] = [{"name": "Team A", "name_zh": "长" * 201}]
    with pytest.raises(ValidationError) as caught:
        services.plan_import(data=data)
    assert "team 'Team A'" in str(caught.value.message_dict)
    assert not Team.objects.exists()


# --- exports ---------------------------------------------------------------------------------------------------


def test_the_kpi_and_milestone_exports_carry_both_languages_names(client, manager):
    plan = build_plan(goals=1)
    plan.name_zh = "测试计划"
    plan.save()
    KPI.objects.update(name_zh="国家高新区生产总值", unit_zh="万亿元")
    Milestone.objects.update(title_zh="发布路线图")
    Team.objects.filter(name="Team North").update(name_zh="北方处")
    client.force_login(manager)
    _meta, _header, [kpi] = read_csv(export(client, plan, "kpis", "csv"))
    assert (kpi["KPI"], kpi["KPI (Chinese)"]) == ("KPI number 0", "国家高新区生产总值")
    assert (kpi["Unit (Chinese)"], kpi["Owner team"], kpi["Owner team (Chinese)"]) == ("万亿元", "Team North", "北方处")
    _sheet, _meta, _header, [milestone] = read_xlsx(export(client, plan, "milestones", "xlsx"))
    assert (milestone["Milestone"], milestone["Milestone (Chinese)"]) == ("Milestone 0", "发布路线图")


def test_a_chinese_reader_gets_the_plan_in_chinese_and_the_same_columns(client, manager):
    plan = build_plan(goals=1)
    plan.name_zh = "测试计划"
    plan.save()
    client.force_login(manager)
    english = read_csv(export(client, plan, "kpis", "csv"))
    url = reverse("plans:dashboard_export", args=[plan.slug, "kpis", "csv"])
    chinese = read_csv(client.get(url, headers={"accept-language": "zh-hans"}))
    assert english[0]["Plan"] == plan.name
    assert list(chinese[0].values())[0] == "测试计划"
    assert len(chinese[1]) == len(english[1])
    assert [list(row.values()) for row in chinese[2]][0][:3] == [list(row.values()) for row in english[2]][0][:3]


def test_the_breakdown_export_names_zones_in_both_languages(client, manager):
    zones = build_zones(2)
    zone = zones.zones[0]
    zone.name_zh = "中关村科技园区"
    zone.save()
    client.force_login(manager)
    response = client.get(reverse("plans:kpi_breakdown_export", args=[zones.plan.slug, zones.kpi.code, "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header = next(row for row in rows if row and row[0] == "Level")
    row = dict(zip(header, next(row for row in rows if len(row) > 4 and row[4] == zone.code), strict=True))
    assert (row["Zone"], row["Zone (Chinese)"]) == (zone.name_en, "中关村科技园区")
    assert "Province (Chinese)" in row and "Unit (Chinese)" in row


# --- explanations ----------------------------------------------------------------------------------------------


def goal_with_children():
    goal = GoalFactory()
    named = KPIFactory(goal=goal, code="K-A", name="Exports", name_zh="出口额")
    english_only = KPIFactory(goal=goal, code="K-B", name="Patents")
    milestone = MilestoneFactory(goal=goal, title="Open the lab", title_zh="实验室投入运行")
    children = [
        rollup.Child(f"kpi:{named.pk}", "K-A Exports", weight=2, status="on_track", score=3.0, progress=0.5),
        rollup.Child(f"kpi:{english_only.pk}", "K-B Patents", weight=1, status="at_risk", score=-1.0, progress=0.4),
        rollup.Child(f"milestone:{milestone.pk}", "Open the lab", weight=1, status="off_track", score=-4, progress=0.1),
    ]
    explanation = rollup.rollup_status(as_of=datetime.date(2025, 7, 1), children=children).explanation
    return explanation, named, english_only, milestone


def test_a_chinese_reader_reads_the_children_of_a_roll_up_by_their_chinese_names(db, django_assert_num_queries):
    explanation, *_ = goal_with_children()
    with translation.override("zh-hans"), django_assert_num_queries(2):  # one per kind of child
        why = explain(explanation)
    assert [child.label for child in why.children] == ["实验室投入运行", "K-B Patents", "K-A 出口额"]
    assert any("实验室投入运行" in sentence for sentence in why.sentences)  # the largest drag
    assert why.drags[0].startswith("实验室投入运行")


def test_an_english_reader_reads_the_stored_labels_without_a_query(db, django_assert_num_queries):
    explanation, *_ = goal_with_children()
    with translation.override("en"), django_assert_num_queries(0):
        why = explain(explanation)
    assert [child.label for child in why.children] == ["Open the lab", "K-B Patents", "K-A Exports"]


def test_a_child_deleted_since_keeps_its_stored_label(db):
    explanation, named, _english_only, milestone = goal_with_children()
    milestone.delete()
    with translation.override("zh-hans"):
        labels = [child.label for child in explain(explanation).children]
    assert labels == ["Open the lab", "K-B Patents", "K-A 出口额"]


def test_the_stored_explanation_keeps_one_language(db):
    explanation, *_ = goal_with_children()
    assert {key for row in explanation["inputs"]["children"] for key in row if "zh" in key} == set()
    assert "出口额" not in json.dumps(explanation, ensure_ascii=False)


def test_a_recomputed_plan_explains_its_focus_areas_in_chinese(db):
    plan = build_plan(goals=2)
    FocusArea.objects.filter(code="FA1").update(name_zh="创新")
    plan_recompute(plan_id=plan.pk)
    plan.refresh_from_db()
    with translation.override("zh-hans"):
        labels = {child.label for child in explain(plan.explanation).children}
    assert labels == {"FA1 创新", "FA2 Industry"}


# --- pages and sentences that name records ---------------------------------------------------------------------


def test_a_kpi_page_is_titled_in_the_readers_language(client, manager):
    plan = build_plan(goals=1)
    KPI.objects.update(name_zh="国家高新区生产总值")
    client.force_login(manager)
    url = reverse("plans:dashboard_kpi", args=[plan.slug, "K00"])
    chinese = client.get(url, headers={"accept-language": "zh-hans"}).content.decode()
    english = client.get(url, headers={"accept-language": "en"}).content.decode()
    assert "<title>K00 国家高新区生产总值" in chinese
    assert "<title>K00 KPI number 0" in english


def test_the_zones_coverage_sentence_names_the_kpi_and_unit_in_the_readers_language(db):
    kpi = KPIFactory(name="GDP", name_zh="国家高新区生产总值", unit="trillion yuan", unit_zh="万亿元")
    with translation.override("zh-hans"):
        assert "国家高新区生产总值" in coverage_sentence(kpi, None, None)
    with translation.override("en"):
        assert coverage_sentence(kpi, None, None) == "No zone has reported GDP yet."
