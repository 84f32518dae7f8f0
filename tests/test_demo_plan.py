import datetime
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from plans import selectors
from plans.choices import Aggregation, Status, UnitLevel
from plans.demo import UNITS_TEMPLATE_FILE
from plans.models import KPI, FocusArea, Goal, Measurement, Milestone, Plan, ReportingUnit, Team
from plans.recompute import plan_recompute

pytestmark = pytest.mark.django_db

ARTICLE_BASELINES = {
    "IC-GDP": (19.3, "trillion yuan"),
    "IC-GDP-GROWTH": (7.6, "%"),
    "IC-IAV": (9.8, "trillion yuan"),
    "IC-IAV-SHARE": (24.1, "%"),
    "RD-SPEND": (1.2, "trillion yuan"),
    "RD-GROWTH": (4.3, "%"),
    "EN-HTE": (33, "%"),
    "EN-GIANTS": (46, "%"),
    "EN-UNICORNS": (67, "%"),
    "RD-PERSONNEL": (25, "%"),
    "RD-INSTITUTIONS": (35000, "institutions"),
    "RD-PCT": (50, "%"),
    "RD-INDEX": (31, "points"),
}


def snapshot():
    rows = []
    for model in (Plan, FocusArea, Goal, Milestone, KPI, Measurement, ReportingUnit):
        rows.append(sorted(model.objects.values_list("id", "version", "updated_at")))
    rows.append(sorted(get_user_model().objects.values_list("id", "password")))
    return rows


@pytest.fixture
def demo(db):
    call_command("load_demo_plan", verbosity=0)
    return Plan.objects.get(slug="high-tech-zones-2025")


def test_demo_kpis_carry_the_articles_2024_baselines_exactly(demo):
    kpis = {k.code: k for k in KPI.objects.filter(plan=demo)}
    assert {code: (kpis[code].baseline_value, kpis[code].unit) for code in ARTICLE_BASELINES} == ARTICLE_BASELINES
    assert all(str(k.baseline_date) == "2024-12-31" for k in kpis.values())


def test_demo_kpis_are_shown_with_decimals_that_fit_their_units(demo):
    decimals = {k.code: (k.unit, k.decimals) for k in KPI.objects.filter(plan=demo)}
    assert decimals["RD-INSTITUTIONS"] == ("institutions", 0)  # a count
    assert {d for unit, d in decimals.values() if unit == "%"} == {1}
    assert {d for unit, d in decimals.values() if unit == "trillion yuan"} == {2}  # 19.95 trillion is a figure
    # Every figure the demo records reads the same at its KPI's decimals.
    for m in Measurement.objects.filter(kpi__plan=demo, unit__isnull=True).select_related("kpi"):
        assert round(m.value, m.kpi.decimals) == m.value, (m.kpi.code, m.value)


def test_demo_plan_has_the_articles_focus_areas(demo):
    names = set(demo.focus_areas.values_list("name", flat=True))
    assert {
        "R&D capability and innovation ecosystem",
        "Breakthrough technologies and emerging industries",
        "Enterprises as the main drivers of innovation",
        "Future industries",
        "International R&D partnerships",
        "Pilot policies and regulatory sandboxes for AI and biotech",
        "Industrial clustering",
    } == names


def test_demo_milestones_tell_a_mixed_story(demo):
    states = set(Milestone.objects.filter(plan=demo).values_list("state", flat=True))
    assert {"done", "in_progress", "blocked", "cancelled", "planned"} <= states


def test_demo_data_is_labelled_as_illustrative(demo):
    assert "illustrative demo data" in demo.description
    assert all("demo data" in note for note in KPI.objects.values_list("source_note", flat=True))


def test_loading_the_demo_plan_twice_changes_nothing(demo):
    before = snapshot()
    call_command("load_demo_plan", verbosity=0)
    assert snapshot() == before


def test_demo_users_have_roles_and_teams(demo):
    User = get_user_model()
    assert User.objects.get(username="manager").groups.filter(name="manager").exists()
    staff = User.objects.get(username="staff.rd")
    assert staff.groups.filter(name="staff").exists()
    assert list(staff.teams.values_list("name", flat=True)) == ["Department of High-Tech Development"]
    assert staff.check_password("staff-demo-2025")


def test_reloading_the_demo_keeps_progress_and_targets_changed_since(demo):
    from plans import services
    from plans.models import MilestoneUpdate

    milestone = Milestone.objects.filter(plan=demo, state="in_progress").order_by("pk").first()
    services.milestone_progress_record(
        milestone=milestone, percent_complete=milestone.percent_complete + 5, state="in_progress"
    )
    kpi = KPI.objects.filter(plan=demo).order_by("pk").first()
    services.kpi_update(kpi=kpi, data={"target_value": kpi.target_value + 1})
    updates, before = MilestoneUpdate.objects.count(), snapshot()
    call_command("load_demo_plan", verbosity=0)
    assert MilestoneUpdate.objects.count() == updates
    assert snapshot() == before


def test_reloading_the_demo_keeps_a_revised_measurement(demo):
    from django.utils import timezone

    from plans import services
    from plans.dates import period_end_containing

    measurement = Measurement.objects.filter(kpi__plan=demo).order_by("pk").first()
    # The demo's figures are approved, so their periods are locked: a revision needs a reopening.
    services.period_reopen(
        plan=demo,
        period_end=period_end_containing(measurement.kpi.frequency, measurement.date),
        reason="Revised by the bureau",
        expires_at=timezone.now() + datetime.timedelta(days=1),
        author=get_user_model().objects.get(username="manager"),
    )
    services.measurement_update(measurement=measurement, value=measurement.value + 0.5, note="Revised by the bureau")
    call_command("load_demo_plan", verbosity=0)
    assert Measurement.objects.get(pk=measurement.pk).value == measurement.value + 0.5


def test_reloading_the_demo_keeps_changed_passwords_and_teams(demo):
    staff = get_user_model().objects.get(username="staff.rd")
    staff.set_password("a-new-secret-2026")
    staff.save()
    staff.teams.clear()
    call_command("load_demo_plan", verbosity=0)
    staff.refresh_from_db()
    assert staff.check_password("a-new-secret-2026")
    assert not staff.teams.exists()


def test_loading_the_demo_creates_what_is_missing_and_leaves_the_rest(demo):
    from plans import services
    from plans.demo import demo_plan_data

    kpi = KPI.objects.filter(plan=demo).order_by("pk").first()
    services.kpi_update(kpi=kpi, data={"name": "Renamed by a manager"})
    data = demo_plan_data()
    goal = data["focus_areas"][0]["goals"][0]
    goal.setdefault("milestones", []).append({"title": "A milestone added to the demo", "due_date": "2025-11-30"})
    services.plan_import(data=data, overwrite=False)
    assert Milestone.objects.filter(plan=demo, goal__code=goal["code"], title="A milestone added to the demo").exists()
    assert KPI.objects.get(pk=kpi.pk).name == "Renamed by a manager"


AFTER_THE_PLAN = datetime.date(2026, 12, 1)


def test_demo_plan_after_its_end_has_most_but_not_all_final_figures_in_achieved_and_missed(demo):
    plan_recompute(plan_id=demo.pk, as_of=AFTER_THE_PLAN)
    closure = selectors.plan_closure(plan=demo, today=AFTER_THE_PLAN)
    # 10 of 13: R&D growth has no national figure of its own; its final one is derived from the zones' R&D spending.
    assert (closure.ended, closure.kpi_count, closure.final_in) == (True, 13, 10)
    assert closure.achieved >= 3 and closure.missed >= 3 and closure.achieved + closure.missed == closure.final_in


def test_demo_milestones_end_mostly_complete_with_some_overdue(demo):
    plan_recompute(plan_id=demo.pk, as_of=AFTER_THE_PLAN)
    statuses = Counter(Milestone.objects.filter(plan=demo).values_list("status", flat=True))
    assert statuses[Status.COMPLETE] > len(list(statuses.elements())) / 2
    assert statuses[Status.OVERDUE] >= 2
    assert set(statuses) <= {Status.COMPLETE, Status.OVERDUE, Status.CANCELLED}


def test_demo_milestones_current_progress_is_their_last_logged_update(demo):
    for milestone in Milestone.objects.filter(plan=demo):
        last = milestone.updates.order_by("-created_at", "-id").first()
        if last is not None:
            assert (milestone.percent_complete, milestone.state) == (last.percent_complete, last.state), milestone


# --- the zones ---------------------------------------------------------------------------------------

SUMMED = {"IC-GDP", "IC-IAV", "RD-SPEND", "RD-INSTITUTIONS"}
SHARES = {"EN-HTE", "EN-GIANTS", "EN-UNICORNS", "RD-PERSONNEL", "RD-PCT"}
BASELINE = datetime.date(2024, 12, 31)


def exact_sum(values) -> Decimal:
    """The figures as written in the file, added without float rounding."""
    return sum((Decimal(str(v)) for v in values), Decimal(0))


def zone_rows(kpi, date):
    return Measurement.objects.of_units().filter(kpi=kpi, date=date)


def test_demo_register_represents_the_178_zones_under_one_nation(demo):
    zones = ReportingUnit.objects.filter(level=UnitLevel.ZONE)
    assert sum(zones.values_list("zone_count", flat=True)) == 178
    other = zones.get(zone_count__gt=1)
    assert other.name_en == "Other national high-tech zones (162)" and other.zone_count == 162
    assert ReportingUnit.objects.get(level=UnitLevel.NATION).name_zh == "中国"
    named = zones.filter(zone_count=1)
    assert named.count() == 16 and named.values("parent").distinct().count() == 14
    assert {"BJ-ZGC", "SH-ZJ", "GD-SZ", "HB-WH", "AH-HF", "SN-XA", "SC-CD"} <= set(named.values_list("code", flat=True))


def test_demo_kpis_declare_how_they_aggregate(demo):
    kpis = {k.code: k for k in KPI.objects.filter(plan=demo).select_related("base_kpi")}
    assert {code for code, k in kpis.items() if k.aggregation == Aggregation.SUM} == SUMMED
    assert {code for code, k in kpis.items() if k.aggregation == Aggregation.RATIO} == SHARES
    assert {code: k.base_kpi.code for code, k in kpis.items() if k.aggregation == Aggregation.GROWTH} == {
        "IC-GDP-GROWTH": "IC-GDP",
        "RD-GROWTH": "RD-SPEND",
    }
    assert {code for code, k in kpis.items() if k.aggregation == Aggregation.NONE} == {"IC-IAV-SHARE", "RD-INDEX"}
    assert all("illustrative demo data" in kpis[code].source_note for code in SUMMED | SHARES)


def test_demo_zones_2024_figures_add_up_exactly_to_the_national_baselines(demo):
    from plans.demo import demo_plan_data

    specs = {k["code"]: k for fa in demo_plan_data()["focus_areas"] for g in fa["goals"] for k in g.get("kpis", [])}
    for kpi in KPI.objects.filter(plan=demo, code__in=SUMMED):
        rows = zone_rows(kpi, BASELINE)
        assert rows.count() == 17, kpi.code  # every zone reported 2024
        assert exact_sum(rows.values_list("value", flat=True)) == Decimal(str(kpi.baseline_value)), kpi.code
    for kpi in KPI.objects.filter(plan=demo, code__in=SHARES):
        denominator = specs[kpi.code]["unit_denominator"]
        numerators = exact_sum(zone_rows(kpi, BASELINE).values_list("numerator", flat=True))
        assert numerators / denominator * 100 == Decimal(str(kpi.baseline_value)), kpi.code
        assert abs(sum(zone_rows(kpi, BASELINE).values_list("value", flat=True)) - kpi.baseline_value) < 1e-9


def test_demo_zones_2025_figures_add_up_to_the_national_series_where_every_zone_reported(demo):
    from plans.demo import demo_plan_data

    specs = {k["code"]: k for fa in demo_plan_data()["focus_areas"] for g in fa["goals"] for k in g.get("kpis", [])}
    checked = 0
    for kpi in KPI.objects.filter(plan=demo, code__in=SUMMED | SHARES):
        by_date = defaultdict(list)
        for date, value, numerator in (
            zone_rows(kpi, None).model.objects.of_units().filter(kpi=kpi).values_list("date", "value", "numerator")
        ):
            by_date[date].append(numerator if kpi.code in SHARES else value)
        for date, national in kpi.measurements.national().values_list("date", "value"):
            if len(by_date[date]) < 17:
                continue
            total = exact_sum(by_date[date])
            if kpi.code in SHARES:
                total = total / specs[kpi.code]["unit_denominator"] * 100
            assert total == Decimal(str(national)), (kpi.code, date)
            checked += 1
    assert checked == 23  # every national point but the three summed KPIs' last quarter


def test_demo_three_zones_have_not_reported_the_last_quarter(demo):
    gdp = KPI.objects.get(plan=demo, code="IC-GDP")
    reported = zone_rows(gdp, datetime.date(2025, 12, 31))
    assert sum(reported.values_list("unit__zone_count", flat=True)) == 175
    missing = ReportingUnit.objects.filter(level=UnitLevel.ZONE).exclude(pk__in=reported.values("unit"))
    assert set(missing.values_list("code", flat=True)) == {"SD-JN", "CQ-CQ", "FJ-XM"}
    assert zone_rows(gdp, datetime.date(2025, 9, 30)).count() == 17


def test_demo_zone_figures_leave_the_national_statuses_alone(demo):
    plan_recompute(plan_id=demo.pk, as_of=AFTER_THE_PLAN)
    gdp = KPI.objects.get(plan=demo, code="IC-GDP")
    assert (gdp.latest_value, str(gdp.latest_date)) == (20.9, "2025-12-31")


def test_demo_hefei_reporter_reports_for_hefei_only(demo):
    reporter = get_user_model().objects.get(username="reporter.hefei")
    assert reporter.check_password("staff-demo-2025")
    assert list(reporter.reporting_units.values_list("code", flat=True)) == ["AH-HF"]
    assert not reporter.teams.exists()


def test_reloading_the_demo_keeps_a_renamed_unit_its_reporters_and_the_kpis_aggregation(demo):
    from plans import services

    hefei = ReportingUnit.objects.get(code="AH-HF")
    services.unit_update(unit=hefei, data={"name_en": "Hefei National High-Tech Zone"}, reporters=[])
    kpi = KPI.objects.get(plan=demo, code="IC-GDP-GROWTH")
    services.kpi_update(kpi=kpi, data={"aggregation": Aggregation.NONE})
    before = snapshot()
    call_command("load_demo_plan", verbosity=0)
    assert snapshot() == before
    assert not ReportingUnit.objects.get(code="AH-HF").reporters.exists()
    assert KPI.objects.get(pk=kpi.pk).aggregation == Aggregation.NONE


def test_the_example_register_is_the_demos(demo):
    from plans.demo import demo_plan_data

    rows = {row["code"]: row for row in demo_plan_data()["units"]}
    text = UNITS_TEMPLATE_FILE.read_text(encoding="utf-8")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == list(rows)


def test_the_demo_loads_beside_a_register_of_ones_own_that_clashes_and_leaves_it_alone(db):
    import io

    from plans import services

    services.unit_create(code="CHN", name_en="People's Republic of China", level=UnitLevel.NATION)
    err = io.StringIO()
    call_command("load_demo_plan", verbosity=0, stdout=io.StringIO(), stderr=err)
    assert "zone register was not loaded" in err.getvalue()
    assert list(ReportingUnit.objects.values_list("code", flat=True)) == ["CHN"]
    assert KPI.objects.filter(plan__slug="high-tech-zones-2025").count() == 13
    assert not Measurement.objects.of_units().exists()


def test_demo_figures_read_as_reported_by_their_due_date_not_on_the_day_the_demo_was_loaded(demo):
    from django.utils import timezone

    from plans.dates import period_end_containing
    from plans.models import Submission

    figures = Measurement.objects.filter(kpi__plan=demo).exclude(source="derived").select_related("kpi")
    assert figures.exists()
    for figure in figures:
        due = demo.due_date(figure.kpi.frequency, period_end_containing(figure.kpi.frequency, figure.date))
        assert timezone.localdate(figure.recorded_at) <= due, (figure.kpi.code, figure.date, figure.recorded_at)
    approved = Submission.objects.filter(plan=demo, state="approved")
    assert approved.exists()
    assert all(timezone.localdate(s.submitted_at) <= s.due_date for s in approved)


# --- the demo in Chinese ---------------------------------------------------------------------------------------

CHINESE_UNITS = {"trillion yuan": "万亿元", "%": "%", "institutions": "家", "points": "点"}


def test_every_demo_record_has_its_names_in_both_languages(demo):
    for model in (Plan, FocusArea, Goal, Milestone, KPI, Team):
        for item in model.objects.all():
            for name in model.BILINGUAL_FIELDS:
                english, chinese = getattr(item, name), getattr(item, f"{name}_zh")
                # A description is optional; one given in English is given in Chinese too.
                if name != "description" or english:
                    assert english and chinese, (model.__name__, item.pk, name)
                    assert name == "unit" or any("\u4e00" <= c <= "\u9fff" for c in chinese), (model, chinese)
    assert not ReportingUnit.objects.filter(name_zh="").exists()


def test_the_demo_plan_is_named_in_official_chinese_usage(demo):
    assert demo.name_zh == "2025年国家高新区行动计划"
    assert "《2025年国家高新区行动计划》" in demo.description_zh
    area = FocusArea.objects.get(plan=demo, code="IC")
    assert "19.3万亿元" in area.description_zh and "9.8万亿元" in area.description_zh
    assert "专精特新“小巨人”企业" in FocusArea.objects.get(plan=demo, code="EN").description_zh
    assert (
        Goal.objects.get(plan=demo, code="RD-1").description_zh
        == "2024年国家高新区企业研发投入1.2万亿元，同比增长4.3%。"
    )


def test_demo_kpi_units_are_the_chinese_units_of_their_english_ones(demo):
    for kpi in KPI.objects.filter(plan=demo):
        assert kpi.unit_zh == CHINESE_UNITS[kpi.unit], kpi.code
    assert KPI.objects.get(plan=demo, code="IC-IAV").name_zh == "国家高新区工业增加值"


def test_a_demo_loaded_before_it_had_chinese_names_gains_them_and_keeps_a_name_written_since(demo):
    KPI.objects.filter(plan=demo).update(name_zh="", unit_zh="")
    Team.objects.update(name_zh="")
    Goal.objects.filter(plan=demo, code="RD-1").update(title_zh="经理改写的标题")
    call_command("load_demo_plan", verbosity=0)
    assert not KPI.objects.filter(plan=demo, name_zh="").exists()
    assert not Team.objects.filter(name_zh="").exists()
    assert Goal.objects.get(plan=demo, code="RD-1").title_zh == "经理改写的标题"
