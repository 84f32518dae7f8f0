"""The admin site: the demo manager can browse it, and its writes go through the services."""

import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from plans import services
from plans.models import KPI, DefinitionChange, Goal, IdempotencyKey, Milestone, Plan, Team, Tombstone
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    PlanFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_demo_manager_sees_the_articles_baselines_in_the_admin(client):
    call_command("load_demo_plan", verbosity=0)
    assert client.login(username="manager", password="manager-demo-2025")
    page = client.get(reverse("admin:plans_kpi_changelist")).content.decode()
    assert "IC-GDP" in page and "19.3" in page and "35000" in page


def kpi_form(kpi, **changes) -> dict:
    data = {
        "goal": kpi.goal_id,
        "code": kpi.code,
        "name": kpi.name,
        "unit": kpi.unit,
        "decimals": kpi.decimals,
        "direction": kpi.direction,
        "baseline_value": kpi.baseline_value,
        "baseline_date": kpi.baseline_date,
        "target_value": kpi.target_value,
        "target_date": kpi.target_date,
        "frequency": kpi.frequency,
        "weight": "1",
        "owner_team": kpi.owner_team_id,
        "source_note": "",
        "aggregation": kpi.aggregation,
        "national_source": kpi.national_source,
        "ratio_scale": kpi.ratio_scale,
        "comparison_scale": kpi.comparison_scale,
        "source": "",
        "external_id": "",
        # The inline of planned values per period (PeriodTarget), empty.
        "period_targets-TOTAL_FORMS": "0",
        "period_targets-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_changing_a_target_in_the_admin_bumps_the_version_and_marks_the_plan(admin_client):
    kpi = KPIFactory()
    response = admin_client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), kpi_form(kpi, target_value="90"))
    assert response.status_code == 302
    kpi.refresh_from_db()
    assert (kpi.target_value, kpi.version) == (90, 2)
    assert Plan.objects.get(pk=kpi.plan_id).needs_recompute


def test_invalid_admin_edit_changes_nothing(admin_client):
    kpi = KPIFactory()
    response = admin_client.post(
        reverse("admin:plans_kpi_change", args=[kpi.pk]), kpi_form(kpi, target_date=datetime.date(2024, 1, 1))
    )
    assert response.status_code == 200
    kpi.refresh_from_db()
    assert (kpi.target_date, kpi.version) == (datetime.date(2025, 12, 31), 1)


def milestone_form(goal, title: str) -> dict:
    return {
        "goal": goal.pk,
        "title": title,
        "due_date": "2025-06-30",
        "weight": "1",
        "percent_complete": 0,
        "state": "planned",
        "source": "",
        "external_id": "",
        "description": "",
    }


def test_adding_a_milestone_in_the_admin_defaults_its_owner_and_plan(admin_client):
    goal = GoalFactory()
    response = admin_client.post(reverse("admin:plans_milestone_add"), milestone_form(goal, "New"))
    assert response.status_code == 302
    milestone = Milestone.objects.get(title="New")
    assert (milestone.owner_team_id, milestone.plan_id) == (goal.owner_team_id, goal.plan_id)


def test_adding_a_milestone_to_a_closed_plan_in_the_admin_is_a_form_error(admin_client):
    goal = GoalFactory()
    Plan.objects.filter(pk=goal.plan_id).update(state="closed")
    response = admin_client.post(reverse("admin:plans_milestone_add"), milestone_form(goal, "Too late"))
    assert response.status_code == 200
    assert "is closed: its figures are final" in response.content.decode()
    assert not Milestone.objects.filter(title="Too late").exists()


def test_deleting_a_goal_in_the_admin_leaves_tombstones(admin_client):
    kpi = KPIFactory()
    MeasurementFactory(kpi=kpi)
    response = admin_client.post(reverse("admin:plans_goal_delete", args=[kpi.goal_id]), {"post": "yes"})
    assert response.status_code == 302
    assert not Goal.objects.exists() and not KPI.objects.exists()
    assert set(Tombstone.objects.values_list("resource", flat=True)) == {"goals", "kpis", "measurements"}


def test_logs_cannot_be_edited_in_the_admin(admin_client):
    measurement = MeasurementFactory()
    assert admin_client.get(reverse("admin:plans_measurement_add")).status_code == 403
    page = admin_client.get(reverse("admin:plans_measurement_change", args=[measurement.pk])).content.decode()
    assert 'name="value"' not in page
    assert admin_client.get(reverse("admin:plans_milestoneupdate_add")).status_code == 403


def test_deleting_a_plan_in_the_admin_leaves_tombstones_for_it_and_its_focus_areas(admin_client):
    goal = GoalFactory()
    plan = goal.plan
    response = admin_client.post(reverse("admin:plans_plan_delete", args=[plan.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert set(Tombstone.objects.values_list("resource", "item_id")) == {
        ("plans", plan.pk),
        ("focus-areas", goal.focus_area_id),
        ("goals", goal.pk),
    }


def test_deleting_a_focus_area_in_the_admin_leaves_its_tombstone(admin_client):
    area = FocusAreaFactory()
    response = admin_client.post(reverse("admin:plans_focusarea_delete", args=[area.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert list(Tombstone.objects.values_list("resource", "item_id")) == [("focus-areas", area.pk)]


def test_deleting_a_team_in_the_admin_leaves_its_tombstone(admin_client):
    team = TeamFactory()
    response = admin_client.post(reverse("admin:plans_team_delete", args=[team.pk]), {"post": "yes"})
    assert response.status_code == 302
    tombstone = Tombstone.objects.get()
    assert (tombstone.resource, tombstone.item_id, tombstone.deleted_by.username) == ("teams", team.pk, "root")


def test_editing_a_team_in_the_admin_goes_through_the_service(admin_client):
    team, member = TeamFactory(name="Old name"), UserFactory()
    response = admin_client.post(
        reverse("admin:plans_team_change", args=[team.pk]), {"name": "New name", "members": [member.pk]}
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.version, list(team.members.all())) == ("New name", 2, [member])
    changes = dict(DefinitionChange.objects.filter(item_type="team").values_list("field", "new_value"))
    assert changes == {"name": "New name", "members": [member.pk]}


def test_adding_a_team_in_the_admin_records_its_creation(admin_client):
    member = UserFactory()
    response = admin_client.post(reverse("admin:plans_team_add"), {"name": "Fresh", "members": [member.pk]})
    assert response.status_code == 302
    team = Team.objects.get(name="Fresh")
    assert list(team.members.all()) == [member]
    change = DefinitionChange.objects.get(item_type="team", item_id=team.pk)
    assert (change.action, change.channel, change.changed_by.username) == ("created", "admin", "root")


def test_tombstones_are_read_only_in_the_admin(admin_client):
    services.plan_delete(plan=PlanFactory())
    tombstone = Tombstone.objects.get()
    url = reverse("admin:plans_tombstone_change", args=[tombstone.pk])
    assert admin_client.get(reverse("admin:plans_tombstone_add")).status_code == 403
    assert admin_client.post(url, {"resource": "kpis", "item_id": 1}).status_code == 403
    delete = reverse("admin:plans_tombstone_delete", args=[tombstone.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Tombstone.objects.get().resource == "plans"


def test_idempotency_keys_are_read_only_in_the_admin(admin_client):
    record = IdempotencyKey.objects.create(actor="user:1", key="k", request_hash="h", response_status=201)
    url = reverse("admin:plans_idempotencykey_change", args=[record.pk])
    assert admin_client.get(reverse("admin:plans_idempotencykey_add")).status_code == 403
    assert admin_client.post(url, {"response_status": 200, "response_body": "{}"}).status_code == 403
    delete = reverse("admin:plans_idempotencykey_delete", args=[record.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert IdempotencyKey.objects.get().response_status == 201


def test_planned_values_per_period_are_set_inline_on_the_kpi(admin_client):
    kpi = KPIFactory()
    data = kpi_form(kpi) | {
        "period_targets-TOTAL_FORMS": "2",
        "period_targets-0-period_end": "2025-03-31",
        "period_targets-0-target_value": "61.5",
        "period_targets-1-period_end": "2025-06-30",
        "period_targets-1-target_value": "64",
    }
    response = admin_client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), data)
    assert response.status_code == 302
    assert list(kpi.period_targets.values_list("period_end", "target_value")) == [
        (datetime.date(2025, 3, 31), 61.5),
        (datetime.date(2025, 6, 30), 64.0),
    ]


@pytest.mark.parametrize(
    ("factory", "route"),
    [
        (PlanFactory, "plan"),
        (FocusAreaFactory, "focusarea"),
        (GoalFactory, "goal"),
        (MilestoneFactory, "milestone"),
        (KPIFactory, "kpi"),
        (TeamFactory, "team"),
    ],
)
def test_the_admin_edits_both_languages_of_every_name(admin_client, factory, route):
    item = factory()
    html = admin_client.get(reverse(f"admin:plans_{route}_change", args=[item.pk])).content.decode()
    for name in type(item).BILINGUAL_FIELDS:
        assert f'name="{name}"' in html and f'name="{name}_zh"' in html, name
        assert html.index(f'name="{name}"') < html.index(f'name="{name}_zh"')  # the twin right after


def test_adding_a_team_in_the_admin_keeps_its_chinese_name(admin_client):
    response = admin_client.post(reverse("admin:plans_team_add"), {"name": "Fresh", "name_zh": "新处"})
    assert response.status_code == 302
    assert Team.objects.get(name="Fresh").name_zh == "新处"


def test_a_kpis_chinese_name_and_unit_are_changed_in_the_admin_through_the_service(admin_client):
    kpi = KPIFactory()
    form = kpi_form(kpi, name_zh="国家高新区生产总值", unit_zh="万亿元")
    assert admin_client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), form).status_code == 302
    kpi.refresh_from_db()
    assert (kpi.name_zh, kpi.unit_zh, kpi.version) == ("国家高新区生产总值", "万亿元", 2)
    changes = set(DefinitionChange.objects.filter(item_type="kpi", item_id=kpi.pk).values_list("field", flat=True))
    assert {"name_zh", "unit_zh"} <= changes
