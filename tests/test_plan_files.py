"""Plan files: the whole plan exported as YAML or XLSX, read back, previewed and imported (plans.plan_files,
plans.services.plan_files); a round trip reproduces the plan exactly."""

import copy
import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from plans import services
from plans.choices import ChangeChannel
from plans.models import KPI, DefinitionChange, Goal, Measurement, Milestone, MilestoneUpdate, Plan
from plans.plan_document import plan_document
from plans.plan_files import PlanFileInvalid, plan_file_read, plan_template, plan_xlsx, plan_yaml


@pytest.fixture
def demo(db):
    call_command("load_demo_plan", verbosity=0)
    return Plan.objects.get(slug="high-tech-zones-2025")


def _without_slug(document):
    return {**document, "plan": {**document["plan"], "slug": None}}


@pytest.mark.parametrize("fmt", ["yaml", "xlsx"])
def test_a_plan_file_reads_back_to_the_same_document(demo, fmt):
    document = plan_document(demo)
    data = plan_yaml(document) if fmt == "yaml" else plan_xlsx(document)
    read, _ = plan_file_read(data, filename=f"plan.{fmt}")
    assert read == document


@pytest.mark.parametrize("fmt", ["yaml", "xlsx"])
def test_round_trip_into_a_new_plan_reproduces_the_whole_plan(demo, fmt, manager):
    document = plan_document(demo)
    assert document["measurements"] and document["milestone_history"] and document["kpis"]
    data = plan_yaml(document) if fmt == "yaml" else plan_xlsx(document)
    read, first_row = plan_file_read(data, filename=f"plan.{fmt}")
    preview = services.plan_import_apply(document=read, slug="copy-2025", author=manager, first_row=first_row)
    assert preview.new_plan and preview.deleted_count == 0
    copy_plan = Plan.objects.get(slug="copy-2025")
    again = plan_document(copy_plan)
    assert _without_slug(again) == _without_slug(document)
    # And exported again, the files are the same bytes (YAML) or the same document (XLSX).
    if fmt == "yaml":
        assert plan_yaml(_without_slug(again)) == plan_yaml(_without_slug(document))
    # Written through the services: versions, history (channel import) and the recompute marker.
    assert DefinitionChange.objects.filter(channel=ChangeChannel.IMPORT, changed_by=manager).exists()
    assert copy_plan.data_revision > 0


def test_importing_the_exported_plan_into_itself_changes_nothing(demo, manager):
    document = plan_document(demo)
    versions = dict(KPI.objects.filter(plan=demo).values_list("code", "version"))
    preview = services.plan_import_preview(document=document, slug=demo.slug, author=manager)
    assert preview.unchanged
    services.plan_import_apply(document=document, slug=demo.slug, author=manager)
    assert dict(KPI.objects.filter(plan=demo).values_list("code", "version")) == versions
    assert plan_document(Plan.objects.get(pk=demo.pk)) == document


def test_preview_lists_creates_changes_and_deletes_and_writes_nothing(demo, manager):
    document = copy.deepcopy(plan_document(demo))
    kpi = document["kpis"][0]
    kpi["target_value"] = kpi["target_value"] + 1
    kpi["name_zh"] = "新名称"
    dropped = document["goals"][-1]["code"]
    document["goals"] = document["goals"][:-1]
    document["kpis"] = [k for k in document["kpis"] if k["goal"] != dropped]
    document["milestones"] = [m for m in document["milestones"] if m["goal"] != dropped]
    document["milestone_history"] = [h for h in document["milestone_history"] if h["goal"] != dropped]
    kept_codes = {k["code"] for k in document["kpis"]}
    document["measurements"] = [m for m in document["measurements"] if m["kpi"] in kept_codes]
    document["period_targets"] = [t for t in document["period_targets"] if t["kpi"] in kept_codes]
    document["focus_areas"].append({**document["focus_areas"][0], "code": "NEW", "name": "A new focus area"})
    before = plan_document(demo)

    preview = services.plan_import_preview(document=document, slug=demo.slug, author=manager)

    assert preview.of("focus_areas").created == ["NEW"]
    changed = preview.of("kpis").changed
    assert [c.label for c in changed] == [kpi["code"]]
    assert {name for name, _, _ in changed[0].fields} == {"target_value", "name_zh"}
    assert preview.of("goals").deleted == [dropped]
    assert plan_document(Plan.objects.get(pk=demo.pk)) == before  # the preview wrote nothing

    services.plan_import_apply(document=document, slug=demo.slug, author=manager)
    after = plan_document(Plan.objects.get(pk=demo.pk))
    assert after["kpis"][0]["target_value"] == kpi["target_value"] and after["kpis"][0]["name_zh"] == "新名称"
    assert not Goal.objects.filter(plan=demo, code=dropped).exists()
    assert "NEW" in {a["code"] for a in after["focus_areas"]}


def test_errors_are_listed_by_sheet_row_and_column_and_nothing_is_written(demo, manager):
    document = copy.deepcopy(plan_document(demo))
    document["kpis"][1]["goal"] = "NO-SUCH-GOAL"
    document["goals"][0]["weight"] = -1.0
    document["measurements"][0]["value"] = 1e12  # outside the KPI's plausible range, or a jump without a note
    counts = (Goal.objects.count(), KPI.objects.count(), Measurement.objects.count(), MilestoneUpdate.objects.count())

    with pytest.raises(PlanFileInvalid) as refused:
        services.plan_import_preview(document=document, slug=demo.slug, author=manager)
    assert [(e.sheet, e.row, e.field) for e in refused.value.errors] == [("KPIs", 3, "goal")]

    document["kpis"][1]["goal"] = document["goals"][0]["code"]
    with pytest.raises(PlanFileInvalid) as refused:
        services.plan_import_apply(document=document, slug=demo.slug, author=manager)
    located = {(e.sheet, e.row, e.field) for e in refused.value.errors}
    assert ("Goals", 2, "weight") in located
    assert any(sheet == "Measurements" and row == 2 for sheet, row, _ in located)
    after = (Goal.objects.count(), KPI.objects.count(), Measurement.objects.count(), MilestoneUpdate.objects.count())
    assert after == counts


def test_bad_files_are_refused_with_the_place_of_each_problem():
    with pytest.raises(PlanFileInvalid):
        plan_file_read(b"not: [yaml", filename="plan.yaml")
    with pytest.raises(PlanFileInvalid):
        plan_file_read(b"PK garbage", filename="plan.xlsx")
    with pytest.raises(PlanFileInvalid):
        plan_file_read(b"", filename="plan.csv")
    document = plan_template()
    document["kpis"][0]["baseline_date"] = "31/12/2025"
    document["kpis"][0]["frequency"] = "weekly"
    document["kpis"][0]["colour"] = "red"
    with pytest.raises(PlanFileInvalid) as refused:
        plan_file_read(plan_yaml(document), filename="plan.yaml")
    assert {(e.sheet, e.row, e.field) for e in refused.value.errors} == {
        ("kpis", 1, "colour"),
        ("kpis", 1, "baseline_date"),
        ("kpis", 1, "frequency"),
    }


@pytest.mark.parametrize("fmt", ["yaml", "xlsx"])
def test_the_template_imports_as_a_new_plan(db, manager, fmt):
    data = plan_yaml(plan_template()) if fmt == "yaml" else plan_xlsx(plan_template())
    document, first_row = plan_file_read(data, filename=f"template.{fmt}")
    services.plan_import_apply(document=document, slug="example", author=manager, first_row=first_row)
    plan = Plan.objects.get(slug="example")
    assert plan.name_zh == "2026年示例行动计划"
    kpi = KPI.objects.get(plan=plan, code="RD-SPEND")
    assert (kpi.unit_zh, kpi.max_value) == ("万亿元", None)
    assert kpi.period_targets.count() == 2
    assert Milestone.objects.get(plan=plan).title_zh == "发布研发激励指引"


def test_a_new_history_entry_is_appended_back_dated(demo, manager):
    document = copy.deepcopy(plan_document(demo))
    milestone = next(m for m in document["milestones"] if m["state"] == "in_progress")
    day = datetime.date(2025, 3, 2)
    entry = {
        "goal": milestone["goal"],
        "milestone": milestone["title"],
        "date": day,
        "percent_complete": milestone["percent_complete"],
        "state": "in_progress",
        "note": "Checked on site.",
        "evidence_url": "",
    }
    document["milestone_history"].append(entry)
    preview = services.plan_import_preview(document=document, slug=demo.slug, author=manager)
    assert len(preview.of("milestone_history").created) == 1
    services.plan_import_apply(document=document, slug=demo.slug, author=manager)
    stored = Milestone.objects.get(plan=demo, title=milestone["title"]).updates.get(note="Checked on site.")
    assert stored.created_at.date() == day
    assert services.plan_import_preview(document=document, slug=demo.slug, author=manager).unchanged


# The pages -------------------------------------------------------------------------------------------------


@pytest.fixture
def small_plan(db, manager):
    """The template imported as a plan: every sheet in use, quickly."""
    services.plan_import_apply(document=plan_template(), slug="example", author=manager)
    return Plan.objects.get(slug="example")


def test_export_downloads_need_sign_in_and_give_the_plan(client, small_plan, staff):
    assert client.get("/plans/example/export.yaml").status_code == 302  # to the sign-in page
    client.force_login(staff)
    response = client.get("/plans/example/export.yaml")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="example.yaml"'
    document, _ = plan_file_read(response.content, filename="example.yaml")
    assert document == plan_document(small_plan)
    response = client.get("/plans/example/export.xlsx")
    assert plan_file_read(response.content, filename="example.xlsx")[0] == plan_document(small_plan)
    assert client.get("/plans/example/import/template.xlsx").status_code == 200
    assert client.get("/plans/no-such-plan/export.yaml").status_code == 404


def test_staff_see_the_exports_but_cannot_import(client, small_plan, staff):
    client.force_login(staff)
    page = client.get("/plans/example/import/")
    assert page.status_code == 200 and b"Only managers import plan files." in page.content
    upload = SimpleUploadedFile("plan.yaml", plan_yaml(plan_template()))
    assert client.post("/plans/example/import/", {"file": upload}).status_code == 403
    assert client.post("/plans/example/import/apply/", {"token": "x"}).status_code == 403


def test_manager_previews_then_applies_the_previewed_document_by_its_token(client, small_plan, manager):
    client.force_login(manager)
    document = plan_template()
    document["kpis"][0]["target_value"] = 1.4
    upload = SimpleUploadedFile("plan.yaml", plan_yaml(document))
    preview = client.post("/plans/example/import/", {"file": upload})
    assert preview.status_code == 200
    assert preview.context["preview"].of("kpis").changed[0].fields == [("target_value", 1.3, 1.4)]
    assert KPI.objects.get(plan=small_plan).target_value == 1.3
    token = preview.context["token"]

    refused = client.post("/plans/example/import/apply/", {"token": "not-the-token"})
    assert refused.status_code == 302 and KPI.objects.get(plan=small_plan).target_value == 1.3
    applied = client.post("/plans/example/import/apply/", {"token": token})
    assert applied.status_code == 302 and applied["Location"] == "/plans/example/"
    assert KPI.objects.get(plan=small_plan).target_value == 1.4
    again = client.post("/plans/example/import/apply/", {"token": token})  # applied once only
    assert again.status_code == 302 and again["Location"] == "/plans/example/import/"


def test_an_invalid_upload_lists_its_errors_and_changes_nothing(client, small_plan, manager):
    client.force_login(manager)
    document = plan_template()
    document["goals"][0]["owner_team"] = "Nobody's team"
    response = client.post("/plans/example/import/", {"file": SimpleUploadedFile("plan.yaml", plan_yaml(document))})
    assert response.status_code == 400
    assert [(e.sheet, e.row, e.field) for e in response.context["import_errors"]] == [("Goals", 1, "owner_team")]
    assert b"nothing was changed" in response.content
    response = client.post("/plans/example/import/", {"file": SimpleUploadedFile("plan.csv", b"a,b")})
    assert response.status_code == 400 and response.context["form"].errors["file"]


def test_the_commands_export_and_import_a_plan(small_plan, tmp_path, capsys):
    path = tmp_path / "example.xlsx"
    call_command("export_plan", "example", output=str(path))
    call_command("import_plan", str(path), slug="example-copy")
    assert plan_document(Plan.objects.get(slug="example-copy"))["kpis"] == plan_document(small_plan)["kpis"]
    call_command("import_plan", str(path), slug="example-copy", dry_run=True)
    assert "Would import example.xlsx into example-copy: 0 created, 0 changed, 0 deleted." in capsys.readouterr().out


def test_a_zone_reporters_export_holds_the_national_figures_and_their_zones_only(demo, client):
    from django.contrib.auth import get_user_model

    reporter = get_user_model().objects.get(username="reporter.hefei")
    client.force_login(reporter)
    document, _ = plan_file_read(client.get(f"/plans/{demo.slug}/export.yaml").content, filename="plan.yaml")
    zones = {m["zone"] for m in document["measurements"]}
    assert zones == {"", "AH-HF"}
    assert len({m["zone"] for m in plan_document(demo)["measurements"]}) > 2


def test_xlsx_keeps_text_that_looks_like_a_formula_and_floats_to_the_last_digit():
    document = plan_template()
    document["goals"][0]["description"] = "=SUM(A1:A2) is a note, not a formula"
    document["kpis"][0]["baseline_value"] = 2.8666666666666667  # 17 significant digits; openpyxl writes 16
    read, first_row = plan_file_read(plan_xlsx(document), filename="plan.xlsx")
    assert read == document and first_row == 2
