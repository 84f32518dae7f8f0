"""Plain-word explanations from the stored explanation JSON (plans.explain)."""

import datetime

import pytest
from django.utils import translation

from plans import rollup
from plans.explain import (
    FINAL_FIGURE_DUE,
    FORECAST,
    explain,
    explain_as_of,
    explain_snapshot,
    fmt_number,
    fmt_percent,
    kpi_outcome,
)
from tests.factories import KPIFactory

BASE = datetime.date(2024, 12, 31)
TARGET = datetime.date(2025, 12, 31)


def kpi(measurements, *, as_of, baseline=60.0, target=80.0, direction="increase", frequency="quarterly"):
    return rollup.kpi_status(
        as_of=as_of,
        baseline_value=baseline,
        baseline_date=BASE,
        target_value=target,
        target_date=TARGET,
        direction=direction,
        frequency=frequency,
        measurements=[rollup.MeasurementPoint(d, v) for d, v in measurements],
    ).explanation


def test_kpi_forecast_sentence_matches_the_worked_example():
    e = kpi([(datetime.date(2025, 6, 30), 70.0)], as_of=datetime.date(2025, 7, 1))
    sentences = explain(e).sentences
    assert sentences[0] == (
        "Forecast 80.17 by 2025-12-31 covers 101% of the required change; 95% is needed to be on track."
    )
    assert "The required change is from 60 (2024-12-31) to 80 (2025-12-31)." in sentences
    assert (
        "The forecast is a straight line fitted through the baseline and 1 measurement, the latest 70 on 2025-06-30."
        in sentences
    )
    assert "Score 2.92 on a scale from −5 to +5." in sentences


def test_kpi_behind_its_trajectory_says_how_much_of_the_change_the_forecast_covers_and_its_interval():
    points = [
        (datetime.date(2025, 3, 31), 10.2),
        (datetime.date(2025, 6, 30), 10.4),
        (datetime.date(2025, 9, 30), 10.5),
    ]
    e = kpi(points, as_of=datetime.date(2025, 10, 1), baseline=10.0, target=11.5)
    text = " ".join(explain(e).sentences)
    assert e["values"]["forecast"] == pytest.approx(10.7, abs=0.005) and e["values"]["ratio"] == pytest.approx(
        0.47, abs=0.005
    )
    assert "Forecast 10.7 by 2025-12-31 covers 47% of the required change; 95% is needed to be on track." in text
    low, high = fmt_number(e["values"]["forecast_low"]), fmt_number(e["values"]["forecast_high"])
    assert f"The 95% prediction interval at the target date runs from {low} to {high}." in text
    assert "3 measurements" in text
    assert "below 60% it is off track" in text


def test_kpi_achieved_missed_no_data_and_hold_the_line():
    achieved = kpi([(datetime.date(2025, 4, 30), 56.0)], as_of=datetime.date(2025, 5, 1), baseline=50, target=55)
    assert explain(achieved).sentences[0] == "The latest value, 56 on 2025-04-30, meets the target of 55."
    missed = kpi([(TARGET, 70.0)], as_of=datetime.date(2026, 1, 5))
    assert explain(missed).sentences[0] == (
        "The final figure, 70 on 2025-12-31, falls short of the target of 80 due 2025-12-31."
    )
    no_data = kpi([], as_of=datetime.date(2025, 2, 1))
    assert "no status yet" in explain(no_data).sentences[0]
    hold = kpi([(datetime.date(2025, 3, 31), 7.0)], as_of=datetime.date(2025, 4, 1), baseline=7.6, target=7.6)
    assert "asks to hold the line" in explain(hold).sentences[0]


def test_stale_kpi_says_how_old_its_latest_figure_is():
    e = kpi([(datetime.date(2025, 3, 31), 65.0)], as_of=datetime.date(2025, 9, 1))
    assert (
        "The data is stale: the latest figure is 154 days old, more than the 92 days a quarterly KPI allows."
        in explain(e).sentences
    )


def test_milestone_behind_schedule_gives_earned_and_planned_shares():
    e = rollup.milestone_status(
        as_of=datetime.date(2025, 9, 30),
        start_date=datetime.date(2025, 1, 1),
        due_date=TARGET,
        percent_complete=50,
        state="in_progress",
    ).explanation
    sentences = explain(e).sentences
    assert sentences[0] == (
        "50% is complete against 75% planned by 2025-09-30 (schedule performance 0.67); "
        "0.9 is needed to be on track and 0.7 to be at risk."
    )
    assert "Score -3.75 on a scale from −5 to +5." in sentences


@pytest.mark.parametrize(
    ("as_of", "sentence"),
    [
        (datetime.date(2025, 7, 1), "The milestone was due on 2025-06-30 and is 90% complete: 1 day late."),
        (datetime.date(2025, 9, 30), "The milestone was due on 2025-06-30 and is 90% complete: 92 days late."),
    ],
)
def test_overdue_milestone_counts_days_late_in_singular_and_plural(as_of, sentence):
    e = rollup.milestone_status(
        as_of=as_of,
        start_date=datetime.date(2025, 1, 1),
        due_date=datetime.date(2025, 6, 30),
        percent_complete=90,
        state="in_progress",
    ).explanation
    assert explain(e).sentences[0] == sentence


def test_blocked_milestone_says_it_is_capped():
    e = rollup.milestone_status(
        as_of=datetime.date(2025, 7, 2),
        start_date=datetime.date(2025, 1, 1),
        due_date=TARGET,
        percent_complete=60,
        state="blocked",
    ).explanation
    assert "The milestone is blocked, so it is at best at risk." in explain(e).sentences


def test_roll_up_names_the_children_that_pull_it_down_and_by_how_much():
    children = [
        rollup.Child(key="kpi:1", label="K1 Exports", weight=2, status="on_track", score=2.9163, progress=0.5),
        rollup.Child(key="milestone:2", label="Open the lab", weight=1, status="off_track", score=-3.75, progress=0.5),
        rollup.Child(key="kpi:3", label="K3 Patents", weight=1, status="no_data", score=None, progress=None),
    ]
    result = explain(rollup.rollup_status(as_of=datetime.date(2025, 7, 1), children=children).explanation)
    assert result.sentences[0] == (
        "The weighted average score of its items is 0.69 on a scale from −5 to +5; "
        "2.5 or more is on track, 0 or more is at risk."
    )
    assert "2 of 3 items have a score; they carry 75% of the weight." in result.sentences
    assert "The largest drag is Open the lab (Off track), which pulls the score down by 1.48." in result.sentences
    assert result.drags == ["Open the lab (Off track, score -3.75) pulls the score down by 1.48."]
    assert [c.label for c in result.children] == ["Open the lab", "K1 Exports", "K3 Patents"]
    assert result.children[1].sentence == "K1 Exports (On track, score 2.92) lifts the score by 1.48."
    assert result.children[2].sentence == "K3 Patents (No data) has no score yet and does not count."


def test_roll_up_coverage_is_display_ready_and_a_dash_where_there_is_none():
    children = [
        rollup.Child(key="kpi:1", label="K1", weight=3, status="on_track", score=2.9163, progress=0.5),
        rollup.Child(key="kpi:2", label="K2", weight=1, status="no_data", score=None, progress=None),
    ]
    assert (
        explain(rollup.rollup_status(as_of=datetime.date(2025, 7, 1), children=children).explanation).coverage == "75%"
    )
    assert explain(kpi([], as_of=datetime.date(2025, 2, 1))).coverage == "—"
    assert explain(None).coverage == "—"


def test_a_past_day_without_a_stored_explanation_says_what_its_snapshot_keeps():
    day = datetime.date(2025, 6, 15)
    stored = kpi([(datetime.date(2025, 6, 1), 70.0)], as_of=day)
    assert explain_as_of(day, explanation=stored, status="on_track", score=1, progress=0.5).sentences == (
        explain(stored).sentences
    )
    kept = explain_as_of(day, explanation=None, status="at_risk", score=1.234, progress=0.42)
    assert kept.sentences[0] == "On 2025-06-15 the status was “At risk”."
    assert explain_as_of(None, explanation=None, status="", score=None, progress=None).sentences == [
        "This item has not been computed yet."
    ]


def test_worst_child_guard_is_explained():
    children = [
        rollup.Child(key="a", label="A", weight=3, status="achieved", score=5.0, progress=1.0),
        rollup.Child(key="b", label="B", weight=1, status="overdue", score=-3.75, progress=0.2),
    ]
    e = rollup.rollup_status(as_of=datetime.date(2025, 7, 1), children=children).explanation
    assert e["rule"] == "rollup.worst_child_guard"
    text = " ".join(explain(e).sentences)
    assert "Off-track, overdue or missed items carry 25% of the scored weight; from 25%" in text


def test_missing_or_unknown_explanations_degrade_gracefully():
    assert explain(None).sentences == ["This item has not been computed yet."]
    future = {"kind": "kpi", "rule": "kpi.something_new", "summary": "A newer method said so.", "inputs": {}}
    assert explain(future).sentences == ["A newer method said so."]
    assert explain({"kind": "weird"}).sentences == ["No explanation is available."]


def test_snapshot_explanation_gives_the_outcome_and_points_to_now():
    sentences = explain_snapshot(as_of="2025-06-30", status="at_risk", score=1.234, progress=0.42).sentences
    assert sentences[:3] == [
        "On 2025-06-30 the status was “At risk”.",
        "Score 1.23 on a scale from −5 to +5.",
        "Progress was 42%.",
    ]
    assert explain_snapshot(as_of="2025-06-30", status=None, score=None, progress=None).sentences == [
        "There is no snapshot of this item on 2025-06-30."
    ]


def test_numbers_are_rounded_for_reading_and_grouped():
    assert fmt_number(10.7413) == "10.74"
    assert fmt_number(35000.0) == "35,000"
    assert fmt_number(0.004567) == "0.00457"
    assert fmt_number(None) == "—"
    assert fmt_percent(0.4213) == "42%"


def test_explanations_render_in_another_language_without_breaking_placeholders():
    e = kpi([(datetime.date(2025, 6, 30), 70.0)], as_of=datetime.date(2025, 7, 1))
    with translation.override("zh-hans"):
        sentences = explain(e).sentences
    assert sentences and all("%(" not in s for s in sentences)


def test_explanation_names_its_method_version():
    e = kpi([(datetime.date(2025, 6, 30), 70.0)], as_of=datetime.date(2025, 7, 1))
    assert explain(e).method_version == rollup.METHOD_VERSION
    assert explain({**e, "method_version": 7}).method_version == 7


def dashboard_row(**fields):
    """An unsaved KPI carrying the ``as_of_*`` fields the dashboard selectors annotate."""
    row = KPIFactory.build(baseline_date=BASE, target_date=TARGET, forecast_low=79.0, forecast_high=81.0)
    defaults = {"as_of_latest_value": 70.0, "as_of_latest_date": datetime.date(2025, 6, 30), "as_of_forecast": 80.0}
    for name, value in {**defaults, **fields}.items():
        setattr(row, name, value)
    return row


def test_kpi_outcome_is_the_forecast_until_the_target_date():
    outcome = kpi_outcome(dashboard_row(), None, TARGET)
    assert (outcome.kind, outcome.value, outcome.low, outcome.high) == (FORECAST, 80.0, 79.0, 81.0)
    assert outcome.label == "Forecast at the target date"


def test_kpi_outcome_at_a_past_date_has_no_interval():
    outcome = kpi_outcome(dashboard_row(), datetime.date(2025, 9, 30), datetime.date(2026, 12, 1))
    assert (outcome.kind, outcome.value, outcome.low) == (FORECAST, 80.0, None)


@pytest.mark.parametrize("frequency, allowance", [("monthly", 31), ("quarterly", 92), ("annual", 366)])
def test_kpi_outcome_past_the_target_date_without_a_final_figure_is_the_forecast_until_it_is_due(frequency, allowance):
    """KPI rule 8: the forecast stands in for the final figure until the target date plus the frequency's allowance;
    the status says so too (it turns at risk only the day after)."""
    row = dashboard_row(frequency=frequency)
    due_by = TARGET + datetime.timedelta(days=allowance)
    for today in (TARGET + datetime.timedelta(days=1), due_by):
        outcome = kpi_outcome(row, None, today)
        assert (outcome.kind, outcome.value, outcome.low, outcome.due_by) == (FINAL_FIGURE_DUE, 80.0, 79.0, due_by)
        assert not outcome.final_overdue and outcome.label == "Forecast until the final figure is in"
    overdue = kpi_outcome(row, None, due_by + datetime.timedelta(days=1))
    assert overdue.final_overdue and overdue.value is None and overdue.due_by == due_by
    assert overdue.label == "Final figure overdue"
    # As of a past date, the same rule at that date.
    assert kpi_outcome(row, due_by, due_by + datetime.timedelta(days=400)).kind == FINAL_FIGURE_DUE
    assert kpi_outcome(row, due_by + datetime.timedelta(days=1), due_by + datetime.timedelta(days=2)).final_overdue


def test_kpi_outcome_is_the_final_figure_once_one_is_dated_on_or_after_the_target_date():
    row = dashboard_row(as_of_latest_value=77.0, as_of_latest_date=TARGET, as_of_forecast=None)
    outcome = kpi_outcome(row, None, datetime.date(2026, 12, 1))
    assert (outcome.final_in, outcome.value, outcome.date, outcome.label) == (True, 77.0, TARGET, "Final figure")
