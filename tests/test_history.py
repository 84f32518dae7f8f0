"""Authorship and history: every write names its author (a user or an API token), and every definition
change keeps who, when, through which channel, and the old and new values, whatever the channel."""

import datetime
import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from plans import services
from plans.models import ApiToken, DefinitionChange, Measurement, MeasurementRevision, MilestoneUpdate, Tombstone
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, UserFactory, api_client, api_token
from tests.test_admin import kpi_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


def target_change(kpi) -> DefinitionChange:
    return DefinitionChange.objects.get(item_type="kpi", item_id=kpi.pk, field="target_value")


def test_an_admin_change_records_the_user_and_the_old_and_new_values(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    kpi = KPIFactory(target_value=80)
    client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), kpi_form(kpi, target_value="90"))
    change = target_change(kpi)
    assert (change.old_value, change.new_value, change.changed_by, change.channel) == (80, 90, root, "admin")


def test_a_session_api_change_records_the_user(manager):
    kpi = KPIFactory(target_value=80)
    client = api_client()
    client.force_login(manager)
    assert client.patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 95}).status_code == 200
    change = target_change(kpi)
    assert (change.old_value, change.new_value, change.changed_by, change.changed_by_token) == (80, 95, manager, None)
    assert change.channel == "api"


def test_a_token_api_change_records_the_token():
    token, key = api_token(scope="manage")
    kpi = KPIFactory(target_value=80)
    assert api_client(key).patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 70}).status_code == 200
    change = target_change(kpi)
    assert (change.old_value, change.new_value, change.changed_by, change.changed_by_token) == (80, 70, None, token)


def test_an_import_change_records_the_importer():
    from plans.demo import demo_plan_data

    importer = UserFactory()
    data = demo_plan_data()
    services.plan_import(data=data)
    kpi_data = data["focus_areas"][0]["goals"][0]["kpis"][0]
    old_target = kpi_data["target_value"]
    kpi_data["target_value"] = old_target + 1
    services.plan_import(data=data, recorded_by=importer)
    change = DefinitionChange.objects.get(item_type="kpi", field="target_value")
    assert (change.old_value, change.new_value, change.changed_by, change.channel) == (
        old_target,
        old_target + 1,
        importer,
        "import",
    )


def test_an_update_that_changes_nothing_records_nothing():
    kpi = KPIFactory()
    services.kpi_update(kpi=kpi, data={"name": kpi.name})
    assert not DefinitionChange.objects.exists()


def test_creating_and_deleting_record_the_whole_item(manager):
    goal = GoalFactory()
    client = api_client()
    client.force_login(manager)
    body = {"goal": goal.pk, "title": "Launch the sandbox", "due_date": "2025-09-30"}
    milestone_id = client.post("/api/v1/milestones/", body).json()["id"]
    assert client.delete(f"/api/v1/milestones/{milestone_id}/").status_code == 204
    created, deleted = DefinitionChange.objects.filter(item_id=milestone_id).order_by("id")
    assert (created.action, created.new_value["title"], created.old_value) == ("created", "Launch the sandbox", None)
    assert (deleted.action, deleted.old_value["due_date"], deleted.new_value) == ("deleted", "2025-09-30", None)
    assert deleted.changed_by == manager


def test_a_token_measurement_records_the_token_on_the_value_and_its_revision():
    token, key = api_token(scope="write")
    kpi = KPIFactory()
    response = api_client(key).post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-06-30", "value": 70})
    assert response.status_code == 201
    assert response.json()["recorded_by_token"] == token.pk
    measurement, revision = Measurement.objects.get(), MeasurementRevision.objects.get()
    assert (measurement.recorded_by, measurement.recorded_by_token) == (None, token)
    assert (revision.author, revision.author_token) == (None, token)


def test_a_token_bulk_write_records_the_token():
    token, key = api_token(scope="write")
    kpi = KPIFactory()
    rows = [{"kpi": kpi.pk, "date": "2025-03-31", "value": 64}, {"kpi": kpi.pk, "date": "2025-06-30", "value": 70}]
    assert api_client(key).post("/api/v1/measurements/bulk/", {"measurements": rows}, format="json").status_code == 200
    assert set(Measurement.objects.values_list("recorded_by_token", flat=True)) == {token.pk}
    assert set(MeasurementRevision.objects.values_list("author_token", flat=True)) == {token.pk}


def test_a_token_progress_report_records_the_token():
    token, key = api_token(scope="write")
    milestone = MilestoneFactory()
    body = {"milestone": milestone.pk, "percent_complete": 30, "state": "in_progress"}
    assert api_client(key).post("/api/v1/milestone-updates/", body).status_code == 201
    assert MilestoneUpdate.objects.get().author_token == token


def test_a_token_delete_records_the_token_on_the_tombstone():
    token, key = api_token(scope="manage")
    kpi = KPIFactory()
    assert api_client(key).delete(f"/api/v1/kpis/{kpi.pk}/").status_code == 204
    assert Tombstone.objects.get(resource="kpis").deleted_by_token == token


def test_a_token_names_the_person_answerable_for_it():
    owner = UserFactory(username="it.ops")
    call_command(
        "create_api_token", "--name", "stats sync", "--scope", "write", "--owner", "it.ops", stdout=io.StringIO()
    )
    assert ApiToken.objects.get(name="stats sync").created_by == owner


def test_the_definition_changes_endpoint_lists_one_items_history():
    kpi, other = KPIFactory(target_value=80), KPIFactory()
    services.kpi_update(kpi=kpi, data={"target_value": 85})
    services.kpi_update(kpi=other, data={"target_value": 99})
    _, key = api_token(scope="read")
    rows = api_client(key).get("/api/v1/definition-changes/", {"item_type": "kpi", "item_id": kpi.pk}).json()
    assert [(row["field"], row["old_value"], row["new_value"]) for row in rows["results"]] == [("target_value", 80, 85)]


@pytest.mark.parametrize("size", [2, 20])
def test_the_definition_changes_list_query_count_does_not_grow(size, django_assert_max_num_queries):
    for n in range(size):
        kpi = KPIFactory()
        services.kpi_update(kpi=kpi, data={"target_value": 90 + n, "name": f"Renamed {n}"})
    _, key = api_token(scope="read")
    client = api_client(key)
    client.get("/api/v1/teams/")  # records last_used_at, once a minute
    with django_assert_max_num_queries(2):  # the token lookup and the page
        response = client.get("/api/v1/definition-changes/", {"page_size": 1000})
    assert len(response.json()["results"]) == 2 * size


def test_definition_changes_are_read_only_in_the_admin(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    kpi = KPIFactory()
    services.kpi_update(kpi=kpi, data={"target_date": datetime.date(2026, 6, 30)})
    change = DefinitionChange.objects.get()
    assert client.get(reverse("admin:plans_definitionchange_changelist")).status_code == 200
    assert client.post(reverse("admin:plans_definitionchange_change", args=[change.pk]), {}).status_code == 403
    assert change.new_value == "2026-06-30"


def test_a_structure_edit_records_the_changed_field():
    from plans.models import FocusArea
    from tests.factories import FocusAreaFactory

    area = FocusAreaFactory(name="Old")
    edited = FocusArea.objects.get(pk=area.pk)
    edited.name = "New"
    services.structure_save(item=edited, is_new=False, author=None, channel="admin")
    change = DefinitionChange.objects.get(item_type="focus_area", item_id=area.pk)
    assert (change.field, change.old_value, change.new_value) == ("name", "Old", "New")
