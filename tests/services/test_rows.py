"""The version-checked write of one row (plans/services/rows.py): lock, check, change once, mark the plan."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans.exceptions import StaleVersionError
from plans.models import KPI, Goal, Plan, Tombstone
from plans.services.rows import row_delete, row_lock, row_update
from plans.services.sync import _tombstones_for_kpis
from tests.factories import GoalFactory, KPIFactory, MeasurementFactory, MilestoneFactory, UserFactory

pytestmark = pytest.mark.django_db


def revision(plan_id: int) -> int:
    return Plan.objects.get(pk=plan_id).data_revision


def test_a_stale_version_is_refused_and_nothing_is_written(django_capture_on_commit_callbacks):
    goal = GoalFactory(title="Before")
    before = revision(goal.plan_id)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(StaleVersionError) as refused:
        row_update(goal, {"title": "After"}, expected_version=goal.version + 1)
    stored = Goal.objects.get(pk=goal.pk)
    assert (stored.title, stored.version, revision(goal.plan_id)) == ("Before", goal.version, before)
    assert callbacks == []
    assert refused.value.current == stored
    assert refused.value.changed_at == stored.updated_at


def test_a_change_bumps_the_version_once_and_marks_the_plan_changed(django_capture_on_commit_callbacks):
    goal = GoalFactory(title="Before", description="")
    before = revision(goal.plan_id)
    with django_capture_on_commit_callbacks() as callbacks:
        row = row_update(goal, {"title": "After", "description": "Now described"}, expected_version=goal.version)
    stored = Goal.objects.get(pk=goal.pk)
    assert (stored.title, stored.description) == ("After", "Now described")
    assert stored.version == row.version == goal.version + 1
    assert revision(goal.plan_id) == before + 1
    assert [callback.plan_id for callback in callbacks] == [goal.plan_id]


def test_no_expected_version_skips_the_check():
    goal = GoalFactory()
    assert row_update(goal, {"title": "After"}, expected_version=None).version == goal.version + 1


def test_unchanged_values_write_nothing_and_leave_the_plan_alone(django_assert_num_queries):
    goal = GoalFactory()
    before = revision(goal.plan_id)
    with django_assert_num_queries(1):  # the lock
        row = row_update(goal, {"title": goal.title, "owner_team": goal.owner_team}, expected_version=goal.version)
    assert row.version == Goal.objects.get(pk=goal.pk).version == goal.version
    assert revision(goal.plan_id) == before


def test_an_invalid_change_is_refused_before_it_is_saved():
    kpi = KPIFactory(name="Before")
    with pytest.raises(ValidationError):
        row_update(kpi, {"name": "After", "weight": 0}, expected_version=kpi.version)
    assert (KPI.objects.get(pk=kpi.pk).name, KPI.objects.get(pk=kpi.pk).version) == ("Before", kpi.version)


def test_fill_runs_on_the_changed_row_before_it_is_validated_and_saved():
    kpi = KPIFactory()
    seen = []
    row_update(kpi, {"name": "After"}, expected_version=kpi.version, fill=lambda row: seen.append(row.name))
    row_update(kpi, {"name": "After"}, expected_version=None, fill=lambda row: seen.append("unchanged"))
    assert seen == ["After"]


def test_a_row_moved_to_another_plan_marks_both_plans(django_capture_on_commit_callbacks):
    kpi = KPIFactory()
    old_plan_id, new_goal = kpi.plan_id, GoalFactory()
    before = revision(old_plan_id), revision(new_goal.plan_id)

    def follow_the_goal(row):
        row.plan_id = row.goal.plan_id

    with django_capture_on_commit_callbacks() as callbacks:
        row_update(kpi, {"goal": new_goal}, expected_version=kpi.version, fill=follow_the_goal)
    assert KPI.objects.get(pk=kpi.pk).plan_id == new_goal.plan_id
    assert (revision(old_plan_id), revision(new_goal.plan_id)) == (before[0] + 1, before[1] + 1)
    assert [callback.plan_id for callback in callbacks] == [new_goal.plan_id, old_plan_id]


def test_a_stale_delete_is_refused_and_leaves_the_row_and_no_tombstone():
    kpi = KPIFactory()
    MeasurementFactory(kpi=kpi)
    with pytest.raises(StaleVersionError):
        row_delete(kpi, expected_version=kpi.version + 1, tombstones=_tombstones_for_kpis)
    assert KPI.objects.filter(pk=kpi.pk).exists()
    assert not Tombstone.objects.exists()


def test_a_delete_leaves_tombstones_and_marks_the_plan_changed(django_capture_on_commit_callbacks):
    kpi = KPIFactory()
    measurement = MeasurementFactory(kpi=kpi)
    author = UserFactory()
    before = revision(kpi.plan_id)
    with django_capture_on_commit_callbacks() as callbacks:
        row_delete(kpi, expected_version=kpi.version, tombstones=_tombstones_for_kpis, deleted_by=author)
    assert not KPI.objects.filter(pk=kpi.pk).exists()
    assert set(Tombstone.objects.values_list("resource", "item_id", "plan_id", "deleted_by")) == {
        ("kpis", kpi.pk, kpi.plan_id, author.pk),
        ("measurements", measurement.pk, kpi.plan_id, author.pk),
    }
    assert revision(kpi.plan_id) == before + 1
    assert [callback.plan_id for callback in callbacks] == [kpi.plan_id]


def test_a_stale_row_names_who_changed_it_last():
    milestone = MilestoneFactory()
    change = SimpleNamespace(author=UserFactory(), created_at=milestone.created_at)
    with pytest.raises(StaleVersionError) as refused:
        row_lock(milestone, milestone.version + 1, last_change=lambda row: change)
    assert (refused.value.changed_by, refused.value.changed_at) == (change.author, change.created_at)


def test_the_row_is_locked_for_update(requires_postgres):
    kpi = KPIFactory()
    with CaptureQueriesContext(connection) as ctx:
        goal = row_lock(kpi, kpi.version, related=["goal"]).goal
    assert goal == kpi.goal
    assert len(ctx.captured_queries) == 1  # the goal came with the row
    assert "FOR UPDATE" in ctx.captured_queries[0]["sql"]
