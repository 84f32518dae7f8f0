import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook

from plans import services
from plans.choices import UnitLevel
from plans.demo import UNITS_TEMPLATE_FILE
from plans.exceptions import StaleVersionError
from plans.models import ReportingUnit
from plans.services.units import COLUMNS, UnitImportInvalid
from tests.factories import NationFactory, ProvinceFactory, UserFactory, ZoneFactory

pytestmark = pytest.mark.django_db

HEADER = ",".join(COLUMNS)
REGISTER = f"""{HEADER}
CN,中国,China,nation,,,,
CN-AH,安徽省,Anhui,province,CN,,,
AH-HF,合肥高新技术产业开发区,Hefei High-Tech Zone,zone,CN-AH,1,1991-03-06,
OTHER,其他,Other provinces,province,CN,,,
OTHER-Z,其他国家高新区,Other national high-tech zones (177),zone,OTHER,177,,
"""


def register_state():
    return sorted(
        ReportingUnit.objects.values_list(
            "code",
            "name_en",
            "name_zh",
            "level",
            "parent__code",
            "zone_count",
            "active_from",
            "active_until",
            "version",
        )
    )


def rows_of(text: str):
    return services.units_read_file(io.BytesIO(text.encode()), filename="units.csv")


def xlsx_of(text: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for line in text.strip().splitlines():
        cells = line.split(",")
        sheet.append(
            [int(c) if c.isdigit() else (datetime.date.fromisoformat(c) if c[:2] == "19" else c or None) for c in cells]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- services ----------------------------------------------------------------------------------------


def test_unit_create_builds_the_tree_nation_province_zone():
    nation = services.unit_create(code="CN", name_en="China", name_zh="中国", level=UnitLevel.NATION)
    province = services.unit_create(code="CN-AH", name_en="Anhui", level=UnitLevel.PROVINCE, parent=nation)
    zone = services.unit_create(code="AH-HF", name_en="Hefei", level=UnitLevel.ZONE, parent=province)
    assert zone.parent.parent == nation
    assert [u.code for u in nation.children.all()] == ["CN-AH"]


def test_unit_create_refuses_a_zone_directly_under_the_nation():
    nation = NationFactory()
    with pytest.raises(ValidationError) as caught:
        services.unit_create(code="Z1", name_en="Zone", level=UnitLevel.ZONE, parent=nation)
    assert "parent" in caught.value.message_dict
    assert not ReportingUnit.objects.filter(code="Z1").exists()


def test_unit_create_refuses_a_second_nation():
    NationFactory()
    with pytest.raises(ValidationError) as caught:
        services.unit_create(code="XX", name_en="Another", level=UnitLevel.NATION)
    assert "level" in caught.value.message_dict


def test_unit_update_changes_fields_and_reporters_and_moves_the_version_once():
    zone = ZoneFactory()
    reporter = UserFactory()
    updated = services.unit_update(unit=zone, data={"name_en": "Renamed"}, reporters=[reporter], expected_version=1)
    assert (updated.name_en, updated.version) == ("Renamed", 2)
    assert list(updated.reporters.all()) == [reporter]


def test_unit_update_with_nothing_different_keeps_the_version():
    zone = ZoneFactory()
    assert services.unit_update(unit=zone, data={"name_en": zone.name_en}).version == 1


def test_unit_update_refuses_a_stale_version_and_writes_nothing():
    zone = ZoneFactory()
    services.unit_update(unit=zone, data={"name_en": "First"}, expected_version=1)
    with pytest.raises(StaleVersionError):
        services.unit_update(unit=zone, data={"name_en": "Second"}, expected_version=1)
    assert ReportingUnit.objects.get(pk=zone.pk).name_en == "First"


def test_unit_update_refuses_turning_a_province_with_zones_into_a_zone():
    zone = ZoneFactory()
    other = ProvinceFactory()
    with pytest.raises(ValidationError) as caught:
        services.unit_update(unit=zone.parent, data={"level": UnitLevel.ZONE, "parent": other})
    assert "level" in caught.value.message_dict
    assert ReportingUnit.objects.get(pk=zone.parent_id).level == UnitLevel.PROVINCE


# --- the import --------------------------------------------------------------------------------------


def test_units_import_creates_the_register_then_a_second_import_changes_nothing():
    result = services.units_import(rows=rows_of(REGISTER))
    assert result.created == ["CN", "CN-AH", "OTHER", "AH-HF", "OTHER-Z"]
    hefei = ReportingUnit.objects.get(code="AH-HF")
    assert (hefei.parent.code, hefei.name_zh, hefei.active_from) == (
        "CN-AH",
        "合肥高新技术产业开发区",
        datetime.date(1991, 3, 6),
    )
    assert ReportingUnit.objects.get(code="OTHER-Z").zone_count == 177
    before = register_state()
    again = services.units_import(rows=rows_of(REGISTER))
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], 5)
    assert register_state() == before


def test_units_import_updates_by_code_and_moves_a_zone():
    services.units_import(rows=rows_of(REGISTER))
    changed = REGISTER.replace("Hefei High-Tech Zone,zone,CN-AH", "Hefei National High-Tech Zone,zone,OTHER")
    result = services.units_import(rows=rows_of(changed))
    assert result.updated == ["AH-HF"]
    hefei = ReportingUnit.objects.get(code="AH-HF")
    assert (hefei.name_en, hefei.parent.code, hefei.version) == ("Hefei National High-Tech Zone", "OTHER", 2)


def test_units_import_takes_parents_already_in_the_register():
    services.units_import(rows=rows_of(REGISTER))
    result = services.units_import(rows=rows_of(f"{HEADER}\nAH-WH,,Wuhu High-Tech Zone,zone,CN-AH,,,\n"))
    assert result.created == ["AH-WH"]
    assert ReportingUnit.objects.get(code="AH-WH").parent.code == "CN-AH"


def test_units_import_reports_every_bad_row_with_its_number_and_column_and_writes_nothing():
    services.units_import(rows=rows_of(REGISTER))
    before = register_state()
    bad = f"""{HEADER}
CN-AH,安徽省,Anhui renamed,province,CN,,,
AH-X1,,Under nothing,zone,NOPE,,,
AH-X2,,Zone under a zone,zone,AH-HF,,,
AH-X3,,Bad dates,zone,CN-AH,,2025-13-01,2020-01-01
AH-X4,,Ends before it starts,zone,CN-AH,,2025-01-01,2024-01-01
AH-X5,,Zero zones,zone,CN-AH,0,,
AH-X5,,Twice,zone,CN-AH,,,
,,No code,zone,CN-AH,,,
BAD CODE,,Spaces,zone,CN-AH,,,
AH-X6,,,zone,CN-AH,,,
AH-X7,,Wrong level,district,CN-AH,,,
CN2,,A second nation,nation,,,,
CN-ZJ,,Province under a province,province,CN-AH,,,
"""
    with pytest.raises(UnitImportInvalid) as caught:
        services.units_import(rows=rows_of(bad))
    found = {(e.row, e.field) for e in caught.value.errors}
    assert {
        (3, "parent_code"),
        (4, "parent_code"),
        (5, "active_from"),
        (6, "active_until"),
        (7, "zone_count"),
        (8, "code"),
        (9, "code"),
        (10, "code"),
        (11, "name_en"),
        (12, "level"),
        (13, "level"),
        (14, "parent_code"),
    } <= found
    assert 2 not in {e.row for e in caught.value.errors}
    assert len(caught.value.errors) == len({(e.row, e.field) for e in caught.value.errors})  # one message a cell
    assert register_state() == before


def test_units_import_refuses_a_level_change_that_strands_units_below():
    services.units_import(rows=rows_of(REGISTER))
    with pytest.raises(UnitImportInvalid) as caught:
        services.units_import(rows=rows_of(f"{HEADER}\nCN-AH,,Anhui,zone,OTHER,,,\n"))
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "level")]
    assert ReportingUnit.objects.get(code="CN-AH").level == UnitLevel.PROVINCE


def test_units_read_file_refuses_a_file_without_the_required_columns():
    with pytest.raises(UnitImportInvalid) as caught:
        rows_of("code,name\nCN,China\n")
    assert "level" in str(caught.value.errors[0]) and "name_en" in str(caught.value.errors[0])


def test_units_read_file_keeps_row_numbers_across_blank_lines():
    rows = rows_of(f"{HEADER}\nCN,,China,nation,,,,\n\nCN-AH,,Anhui,province,NOPE,,,\n")
    with pytest.raises(UnitImportInvalid) as caught:
        services.units_import(rows=rows)
    assert [(e.row, e.field) for e in caught.value.errors] == [(4, "parent_code")]


def test_units_read_file_reads_xlsx_with_dates_and_numbers_as_cells():
    rows = services.units_read_file(io.BytesIO(xlsx_of(REGISTER)), filename="units.xlsx")
    services.units_import(rows=rows)
    assert ReportingUnit.objects.get(code="AH-HF").active_from == datetime.date(1991, 3, 6)
    assert ReportingUnit.objects.get(code="OTHER-Z").zone_count == 177


def test_units_read_file_refuses_a_corrupt_xlsx():
    with pytest.raises(UnitImportInvalid):
        services.units_read_file(io.BytesIO(b"not a zip"), filename="units.xlsx")


# --- the command -------------------------------------------------------------------------------------


def test_import_units_command_imports_a_csv(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(REGISTER, encoding="utf-8-sig")
    out = io.StringIO()
    call_command("import_units", str(path), stdout=out)
    assert "5 created, 0 updated, 0 unchanged" in out.getvalue()
    assert ReportingUnit.objects.count() == 5


def test_import_units_command_imports_an_xlsx(tmp_path):
    path = tmp_path / "units.xlsx"
    path.write_bytes(xlsx_of(REGISTER))
    call_command("import_units", str(path), stdout=io.StringIO())
    assert ReportingUnit.objects.get(code="AH-HF").parent.code == "CN-AH"


def test_import_units_command_reports_each_error_and_fails_writing_nothing(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(REGISTER + "AH-X1,,Orphan,zone,NOPE,,,\nAH-X2,,Zero,zone,CN-AH,0,,\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 error"):
        call_command("import_units", str(path), stdout=io.StringIO(), stderr=err)
    assert "row 7, parent_code: NOPE is not in the file or the register." in err.getvalue()
    assert "row 8, zone_count" in err.getvalue()
    assert not ReportingUnit.objects.exists()


def test_import_units_command_exits_non_zero_on_error(tmp_path):
    from django.core.management import ManagementUtility

    path = tmp_path / "units.csv"
    path.write_text(f"{HEADER}\nZ,,Zone,zone,NOPE,,,\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "import_units", str(path)]).execute()
    assert exited.value.code != 0


def test_the_example_register_imports_cleanly():
    call_command("import_units", str(UNITS_TEMPLATE_FILE), stdout=io.StringIO())
    assert ReportingUnit.objects.filter(level=UnitLevel.NATION).count() == 1
    assert sum(ReportingUnit.objects.filter(level=UnitLevel.ZONE).values_list("zone_count", flat=True)) == 178


# --- the page ----------------------------------------------------------------------------------------


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def upload(client, content: bytes, name: str = "units.csv"):
    return client.post(reverse("plans:unit_register"), {"file": SimpleUploadedFile(name, content)})


def test_register_page_is_for_managers_only(client, staff):
    client.force_login(staff)
    assert client.get(reverse("plans:unit_register")).status_code == 403
    assert upload(client, REGISTER.encode()).status_code == 403
    assert client.get(reverse("plans:unit_register_template")).status_code == 403
    assert not ReportingUnit.objects.exists()


def test_register_page_upload_shows_what_was_created_and_the_tree(manager_client):
    response = upload(manager_client, REGISTER.encode())
    assert response.status_code == 200
    page = response.content.decode()
    assert "5 created, 0 updated, 0 unchanged" in page
    assert "合肥高新技术产业开发区" in page and "Other national high-tech zones (177)" in page
    assert ReportingUnit.objects.count() == 5


def test_register_page_upload_of_an_xlsx_then_the_same_csv_changes_nothing(manager_client):
    upload(manager_client, xlsx_of(REGISTER), name="units.xlsx")
    before = register_state()
    page = upload(manager_client, REGISTER.encode()).content.decode()
    assert "0 created, 0 updated, 5 unchanged" in page
    assert register_state() == before


def test_register_page_shows_the_errors_by_row_and_changes_nothing(manager_client):
    upload(manager_client, REGISTER.encode())
    before = register_state()
    response = upload(manager_client, f"{HEADER}\nCN-AH,,Anhui v2,province,CN,,,\nX,,Orphan,zone,NOPE,,,\n".encode())
    assert response.status_code == 400
    page = response.content.decode()
    assert "nothing was imported" in page and "NOPE is not in the file or the register." in page
    assert register_state() == before


def test_register_page_refuses_another_file_type(manager_client):
    response = upload(manager_client, b"{}", name="units.json")
    assert response.status_code == 400
    assert "Upload a .csv or .xlsx file." in response.content.decode()


def test_register_page_lists_the_tree_in_a_fixed_number_of_queries(manager_client, django_assert_max_num_queries):
    services.units_import(rows=rows_of(REGISTER))
    with django_assert_max_num_queries(8):
        small = manager_client.get(reverse("plans:unit_register"))
    province = ReportingUnit.objects.get(code="CN-AH")
    for n in range(40):
        ZoneFactory(parent=province, code=f"AH-Z{n}")
    with django_assert_max_num_queries(8):
        large = manager_client.get(reverse("plans:unit_register"))
    assert small.status_code == large.status_code == 200
    assert "AH-Z39" in large.content.decode()


def test_register_template_downloads(manager_client):
    response = manager_client.get(reverse("plans:unit_register_template"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode("utf-8-sig").startswith(HEADER)


# --- the admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def unit_form(unit=None, **changes) -> dict:
    data = {
        "code": "AH-WH",
        "name_en": "Wuhu High-Tech Zone",
        "name_zh": "",
        "level": UnitLevel.ZONE,
        "parent": "",
        "zone_count": "1",
        "active_from": "",
        "active_until": "",
        "order": "0",
        "reporters": [],
    }
    if unit is not None:
        data.update(code=unit.code, name_en=unit.name_en, level=unit.level, parent=unit.parent_id or "")
    return {**data, **changes}


def test_admin_adds_a_zone_with_a_reporter_through_the_service(admin_client):
    province = ProvinceFactory()
    reporter = UserFactory()
    response = admin_client.post(
        reverse("admin:plans_reportingunit_add"), unit_form(parent=province.pk, reporters=[reporter.pk])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    zone = ReportingUnit.objects.get(code="AH-WH")
    assert (zone.parent, list(zone.reporters.all())) == (province, [reporter])


def test_admin_refuses_a_zone_under_the_nation_and_never_deletes_a_unit(admin_client):
    nation = NationFactory()
    response = admin_client.post(reverse("admin:plans_reportingunit_add"), unit_form(parent=nation.pk))
    assert response.status_code == 200 and not ReportingUnit.objects.filter(code="AH-WH").exists()
    assert admin_client.get(reverse("admin:plans_reportingunit_delete", args=[nation.pk])).status_code == 403


def test_admin_changes_a_units_reporters_and_moves_its_version(admin_client):
    zone = ZoneFactory()
    reporter = UserFactory()
    response = admin_client.post(
        reverse("admin:plans_reportingunit_change", args=[zone.pk]), unit_form(zone, reporters=[reporter.pk])
    )
    assert response.status_code == 302
    zone.refresh_from_db()
    assert (zone.version, list(zone.reporters.all())) == (2, [reporter])


def test_admin_sets_and_deletes_a_unit_target(admin_client):
    from plans.models import UnitTarget
    from tests.factories import KPIFactory

    kpi, zone = KPIFactory(), ZoneFactory()
    data = {"kpi": kpi.pk, "unit": zone.pk, "baseline_value": "1.5", "target_value": "1.8"}
    assert admin_client.post(reverse("admin:plans_unittarget_add"), data).status_code == 302
    target = UnitTarget.objects.get(kpi=kpi, unit=zone)
    assert (target.baseline_value, target.target_value) == (1.5, 1.8)
    response = admin_client.post(reverse("admin:plans_unittarget_delete", args=[target.pk]), {"post": "yes"})
    assert response.status_code == 302 and not UnitTarget.objects.exists()
    assert admin_client.get(reverse("admin:plans_reportingunit_changelist")).status_code == 200


# --- the units' figures (the demo loader's writer) ----------------------------------------------------


def test_unit_values_load_creates_the_missing_figures_only_and_keeps_stored_ones():
    from plans.models import Measurement
    from tests.factories import KPIFactory

    kpi, zone = KPIFactory(min_value=0, max_value=100), ZoneFactory()
    first = [services.UnitValue(unit=zone, date=datetime.date(2024, 12, 31), value=12.0, numerator=120)]
    assert services.unit_values_load(kpi=kpi, values=first) == 1
    again = [
        services.UnitValue(unit=zone, date=datetime.date(2024, 12, 31), value=99.0),
        services.UnitValue(unit=zone, date=datetime.date(2025, 3, 31), value=13.0),
    ]
    assert services.unit_values_load(kpi=kpi, values=again) == 1
    rows = Measurement.objects.of_units().filter(kpi=kpi).order_by("date")
    assert [(r.value, r.numerator, r.revisions.count()) for r in rows] == [(12.0, 120, 1), (13.0, None, 1)]
    assert not Measurement.objects.national().filter(kpi=kpi).exists()


def test_unit_values_load_refuses_a_value_out_of_range_and_writes_nothing():
    from plans.models import Measurement
    from tests.factories import KPIFactory

    kpi, zone = KPIFactory(min_value=0, max_value=100), ZoneFactory()
    values = [
        services.UnitValue(unit=zone, date=datetime.date(2025, 3, 31), value=50.0),
        services.UnitValue(unit=zone, date=datetime.date(2025, 6, 30), value=150.0),
    ]
    with pytest.raises(ValidationError) as caught:
        services.unit_values_load(kpi=kpi, values=values)
    assert f"{zone.code} 2025-06-30" in caught.value.message_dict
    assert not Measurement.objects.filter(kpi=kpi).exists()


def test_register_page_asks_to_sign_in(client):
    response = client.get(reverse("plans:unit_register"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
