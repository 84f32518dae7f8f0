"""A manager exports the demo plan as XLSX, edits it, uploads it, reads the preview and applies it; the plan
exported again is the edited file exactly (screenshots: test-artifacts/plan-import-*.png)."""

import io

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from plans.models import KPI, FocusArea, Milestone, Plan
from plans.plan_document import plan_document
from plans.plan_files import plan_file_read
from tests.conftest import ARTIFACTS, sign_in
from tests.test_dashboard_browser import SLUG, axe_violations


def _edited(xlsx: bytes) -> tuple[bytes, dict]:
    """The export with the first KPI's target and Chinese name changed, a focus area added, the last milestone
    left out."""
    book = load_workbook(io.BytesIO(xlsx))
    kpis = book["KPIs"]
    header = [c.value for c in kpis[1]]
    kpis.cell(row=2, column=header.index("target_value") + 1).value = 50
    kpis.cell(row=2, column=header.index("name_zh") + 1).value = "科技领军企业"
    areas = book["Focus areas"]
    areas.append(["NEW", "Open data for the zones", "园区开放数据", "", "", 9, 1])
    milestones = book["Milestones"]
    header = [c.value for c in milestones[1]]
    dropped = milestones.cell(row=milestones.max_row, column=header.index("title") + 1).value
    milestones.delete_rows(milestones.max_row)
    history = book["Milestone history"]
    header = [c.value for c in history[1]]
    for row in range(history.max_row, 1, -1):
        if history.cell(row=row, column=header.index("milestone") + 1).value == dropped:
            history.delete_rows(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), {"dropped": dropped}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_previews_and_applies_an_xlsx_import_and_the_export_round_trips(page, tmp_path):
    call_command("load_demo_plan", verbosity=0)
    plan = Plan.objects.get(slug=SLUG)
    first_kpi = KPI.objects.filter(plan=plan).order_by("code").first()

    sign_in(page, "manager", "manager-demo-2025")
    page.goto(f"/plans/{SLUG}/")
    page.get_by_role("link", name="Import and export the plan (XLSX, YAML)").click()
    assert page.get_by_role("heading", level=1, name="Import and export the whole plan").is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the plan (XLSX, one sheet per kind of record)").click()
    exported = download.value.path().read_bytes()
    edited, facts = _edited(exported)
    upload = tmp_path / "plan-edited.xlsx"
    upload.write_bytes(edited)
    page.screenshot(path=ARTIFACTS / "plan-import-upload.png", full_page=True)
    assert axe_violations(page, "plan-import-upload") == []

    page.get_by_label("Plan file").set_input_files(str(upload))
    page.get_by_role("button", name="Preview the import").click()
    assert page.get_by_role("heading", level=1, name="What plan-edited.xlsx will change").is_visible()
    created = page.locator("section[aria-labelledby='created-heading']")
    changed = page.locator("section[aria-labelledby='changed-heading']")
    deleted = page.locator("section[aria-labelledby='deleted-heading']")
    assert "NEW" in created.inner_text()
    assert first_kpi.code in changed.inner_text() and "target_value" in changed.inner_text()
    assert facts["dropped"] in deleted.inner_text()
    assert FocusArea.objects.filter(plan=plan, code="NEW").count() == 0  # the preview wrote nothing
    page.screenshot(path=ARTIFACTS / "plan-import-preview.png", full_page=True)
    assert axe_violations(page, "plan-import-preview") == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/plans/{SLUG}/import/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "plan-import-upload-390.png", full_page=True)
    page.get_by_label("Plan file").set_input_files(str(upload))
    page.get_by_role("button", name="Preview the import").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "plan-import-preview-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/plans/{SLUG}/import/")

    page.get_by_label("Plan file").set_input_files(str(upload))
    page.get_by_role("button", name="Preview the import").click()
    page.get_by_role("button", name="Apply the import").click()
    page.wait_for_load_state()
    assert "plan-edited.xlsx imported: 1 created, 1 changed, 1 deleted." in page.locator(".messages").inner_text()
    first_kpi.refresh_from_db()
    assert (first_kpi.target_value, first_kpi.name_zh) == (50, "科技领军企业")
    assert FocusArea.objects.get(plan=plan, code="NEW").name_zh == "园区开放数据"
    assert not Milestone.objects.filter(plan=plan, title=facts["dropped"]).exists()

    # The round trip: the plan exported now is the uploaded file's document, exactly.
    page.goto(f"/plans/{SLUG}/import/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the plan (XLSX, one sheet per kind of record)").click()
    again, _ = plan_file_read(download.value.path().read_bytes(), filename="again.xlsx")
    uploaded, _ = plan_file_read(edited, filename="plan-edited.xlsx")
    assert again == uploaded == plan_document(Plan.objects.get(slug=SLUG))

    # In Chinese: the pages, and the preview of the original export (which would undo the edits).
    original = tmp_path / "plan-original.xlsx"
    original.write_bytes(exported)
    page.context.set_extra_http_headers({"Accept-Language": "zh-hans"})
    page.goto(f"/plans/{SLUG}/import/")
    assert page.get_by_role("heading", level=1, name="导入和导出整个计划").is_visible()
    page.screenshot(path=ARTIFACTS / "plan-import-upload-zh.png", full_page=True)
    page.locator("input[type=file]").set_input_files(str(original))
    page.get_by_role("button", name="预览导入").click()
    assert page.get_by_role("heading", level=1, name="plan-original.xlsx 将做出的更改").is_visible()
    page.screenshot(path=ARTIFACTS / "plan-import-preview-zh.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/plans/{SLUG}/import/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "plan-import-upload-zh-390.png", full_page=True)
