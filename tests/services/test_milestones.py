"""Milestone writes: progress records refuse a stale version naming who logged last; updates log progress."""

import pytest

from plans import services
from plans.models import Milestone, MilestoneUpdate
from tests.factories import GoalFactory, MilestoneFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_stale_progress_record_names_the_author_of_the_last_update_and_writes_nothing():
    milestone = MilestoneFactory()
    colleague = UserFactory()
    last = services.milestone_progress_record(
        milestone=milestone, percent_complete=20, state="in_progress", author=colleague
    )
    with pytest.raises(services.StaleVersionError) as refused:
        services.milestone_progress_record(
            milestone=milestone, percent_complete=30, state="in_progress", expected_version=milestone.version
        )
    assert (refused.value.changed_by, refused.value.changed_at) == (colleague, last.created_at)
    assert list(MilestoneUpdate.objects.values_list("percent_complete", flat=True)) == [20]


def test_an_update_of_fields_and_progress_saves_both_and_logs_the_progress():
    milestone = MilestoneFactory(percent_complete=10, state="in_progress")
    updated = services.milestone_update(
        milestone=milestone,
        data={"title": "Renamed", "percent_complete": 40},
        expected_version=milestone.version,
    )
    stored = Milestone.objects.get(pk=milestone.pk)
    assert (stored.title, stored.percent_complete) == ("Renamed", 40)
    assert updated.version == stored.version == milestone.version + 2  # the field change, then the progress record
    update = MilestoneUpdate.objects.get()
    assert (update.previous_percent_complete, update.percent_complete) == (10, 40)


def test_a_milestone_moved_to_a_goal_of_another_plan_follows_its_plan():
    milestone, goal = MilestoneFactory(), GoalFactory()
    services.milestone_update(milestone=milestone, data={"goal": goal})
    assert Milestone.objects.get(pk=milestone.pk).plan_id == goal.plan_id


def test_100_percent_in_progress_is_recorded_as_done():
    milestone = MilestoneFactory(percent_complete=50, state="in_progress")
    update = services.milestone_progress_record(milestone=milestone, percent_complete=100, state="in_progress")
    milestone.refresh_from_db()
    assert (update.state, milestone.state, milestone.completed_on is not None) == ("done", "done", True)


def test_100_percent_cancelled_stays_cancelled():
    milestone = MilestoneFactory(percent_complete=100, state="in_progress")
    services.milestone_progress_record(milestone=milestone, percent_complete=100, state="cancelled")
    assert Milestone.objects.get(pk=milestone.pk).state == "cancelled"


def test_a_drop_with_a_note_is_recorded():
    milestone = MilestoneFactory(percent_complete=50, state="in_progress")
    update = services.milestone_progress_record(
        milestone=milestone, percent_complete=30, state="in_progress", note="Scope grew."
    )
    assert (update.previous_percent_complete, update.percent_complete) == (50, 30)
