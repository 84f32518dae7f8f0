"""Staff forms (plans/forms.py): parsing, field errors, and the save through the services."""

import datetime

import pytest
from django.utils import timezone

from plans.choices import MilestoneState
from plans.forms import MeasurementForm, MilestoneUpdateForm
from plans.models import MeasurementRevision, MilestoneUpdate
from tests.factories import KPIFactory, MilestoneFactory

TODAY = timezone.localdate()


@pytest.fixture
def milestone(db):
    return MilestoneFactory(percent_complete=50, state=MilestoneState.IN_PROGRESS)


@pytest.fixture
def kpi(db):
    return KPIFactory(baseline_date=datetime.date(2024, 12, 31), target_date=TODAY + datetime.timedelta(days=100))


def milestone_form(milestone, **data):
    return MilestoneUpdateForm(
        {"version": milestone.version, "percent_complete": "60", "state": "in_progress", **data}, item=milestone
    )


def measurement_form(kpi, **data):
    return MeasurementForm({"version": kpi.version, "date": "2025-06-30", "value": "70", **data}, item=kpi)


@pytest.mark.parametrize("value", ["0", "100", "55", " 70 "])
def test_percent_accepts_whole_numbers_from_0_to_100(milestone, value):
    form = milestone_form(milestone, percent_complete=value, note="down is fine with a note")
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    "value, message",
    [
        ("-1", "Percent complete cannot be below 0."),
        ("101", "Percent complete cannot be above 100."),
        ("ten", "Enter a whole number from 0 to 100."),
        ("NaN", "Enter a whole number from 0 to 100: “NaN” and infinity are not allowed."),
        ("-inf", "Enter a whole number from 0 to 100: “NaN” and infinity are not allowed."),
    ],
)
def test_percent_errors_say_what_is_wrong(milestone, value, message):
    form = milestone_form(milestone, percent_complete=value)
    assert not form.is_valid()
    assert form.errors["percent_complete"] == [message]


def save_refused(form) -> bool:
    """The form parses, the service refuses the write and the form shows why."""
    return form.is_valid() and form.save(user=None) is None and bool(form.errors)


def test_note_is_required_when_blocked(milestone):
    form = milestone_form(milestone, state=MilestoneState.BLOCKED, percent_complete="50")
    assert save_refused(form)
    assert form.errors["note"] == ["Explain what blocks the milestone."]
    assert not MilestoneUpdate.objects.exists()


def test_blocked_with_a_note_is_saved(milestone):
    form = milestone_form(milestone, state=MilestoneState.BLOCKED, note="Waiting for the permit")
    assert form.is_valid() and form.save(user=None) == MilestoneUpdate.objects.get()


def test_note_is_required_when_progress_goes_down(milestone):
    form = milestone_form(milestone, percent_complete="45")
    assert save_refused(form)
    assert form.errors["note"] == ["Explain why progress goes down from 50% to 45%."]


def test_whitespace_note_counts_as_empty(milestone):
    form = milestone_form(milestone, state=MilestoneState.BLOCKED, note="   ")
    assert save_refused(form)
    assert "note" in form.errors


def test_done_below_100_is_refused_on_the_percent_field(milestone):
    form = milestone_form(milestone, state=MilestoneState.DONE, percent_complete="90")
    assert save_refused(form)
    assert form.errors["percent_complete"][0].startswith("A done milestone is 100% complete")


def test_100_percent_is_saved_as_done(milestone):
    form = milestone_form(milestone, percent_complete="100")
    assert form.is_valid()
    assert form.save(user=None).state == MilestoneState.DONE


def test_note_is_optional_when_progress_goes_up(milestone):
    assert milestone_form(milestone, percent_complete="65").is_valid()


def test_evidence_link_without_scheme_becomes_https(milestone):
    form = milestone_form(milestone, evidence_url="example.org/minutes")
    assert form.is_valid()
    assert form.cleaned_data["evidence_url"] == "https://example.org/minutes"


@pytest.mark.parametrize("value, expected", [("70", 70.0), ("-3.5", -3.5), ("1e15", 1e15), ("0", 0.0)])
def test_value_accepts_plain_numbers(kpi, value, expected):
    form = measurement_form(kpi, value=value)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["value"] == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("seventy", "Enter a number, such as 12.5."),
        ("nan", "Enter a real number: “NaN” and infinity are not allowed."),
        ("+Infinity", "Enter a real number: “NaN” and infinity are not allowed."),
        ("1.0000001e15", "This number is implausibly large: enter a value between -1e15 and 1e15."),
        ("-1e300", "This number is implausibly large: enter a value between -1e15 and 1e15."),
        ("1e999", "This number is implausibly large: enter a value between -1e15 and 1e15."),
    ],
)
def test_value_errors_say_what_is_wrong(kpi, value, message):
    form = measurement_form(kpi, value=value)
    assert form.errors["value"] == [message]


def test_date_on_the_baseline_is_refused_the_day_after_accepted(kpi):
    form = measurement_form(kpi, date="2024-12-31")
    assert save_refused(form)
    assert form.errors["date"][0].startswith("The date must be after the KPI's baseline date")
    form = measurement_form(kpi, date="2025-01-01")
    assert form.is_valid() and form.save(user=None) is not None


def test_date_in_the_future_is_refused_today_accepted(kpi):
    form = measurement_form(kpi, date=(TODAY + datetime.timedelta(days=1)).isoformat())
    assert save_refused(form)
    assert form.errors["date"][0].startswith("The date cannot be in the future")
    form = measurement_form(kpi, date=TODAY.isoformat())
    assert form.is_valid() and form.save(user=None) is not None


def test_value_outside_the_kpis_range_is_refused_on_the_value_field(kpi):
    kpi.min_value, kpi.max_value = 0, 100
    kpi.save()
    form = measurement_form(kpi, value="170")
    assert save_refused(form)
    assert form.errors["value"] == ["170 is outside this KPI's plausible range, 0 to 100."]


def test_a_jump_without_a_note_is_refused_with_the_jump_shown(kpi):
    form = measurement_form(kpi, value="-5")
    assert save_refused(form)
    assert form.errors["note"][0].endswith("Confirm with a note: 60 -> -5")
    assert not MeasurementRevision.objects.exists()


def test_value_label_carries_the_unit(kpi):
    kpi.unit = "trillion yuan"
    assert MeasurementForm(item=kpi).fields["value"].label == "Value (trillion yuan)"


def test_unbound_forms_start_from_the_items_values(milestone, kpi):
    form = MilestoneUpdateForm(item=milestone)
    assert form["percent_complete"].value() == 50 and form["version"].value() == milestone.version
    assert MeasurementForm(item=kpi)["version"].value() == kpi.version


def test_save_goes_through_the_service_and_writes_history(milestone, django_user_model):
    author = django_user_model.objects.create(username="writer")
    form = milestone_form(milestone, percent_complete="80", note="Halfway through fit-out")
    assert form.is_valid()
    update = form.save(user=author)
    assert update == MilestoneUpdate.objects.get()
    assert (update.previous_percent_complete, update.percent_complete, update.author) == (50, 80, author)


def test_save_with_a_stale_version_reports_a_conflict_and_writes_nothing(kpi):
    form = measurement_form(kpi, version=kpi.version + 1)
    assert form.is_valid()
    assert form.save(user=None) is None
    assert form.conflict is not None
    assert not MeasurementRevision.objects.exists()
    rebased = form.rebased()
    assert rebased["version"].value() == str(kpi.version)
    assert "since you opened this form" in rebased.non_field_errors()[0]
    assert "changed by someone at" in rebased.non_field_errors()[0]
