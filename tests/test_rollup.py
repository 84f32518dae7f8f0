"""Unit tests of plans.rollup: the worked examples of METHOD.md and the edge cases around them."""

import datetime
import json

import numpy as np
import pytest
from scipy import stats

from plans.rollup import (
    METHOD_VERSION,
    Child,
    MeasurementPoint,
    Status,
    kpi_point_rows,
    kpi_stale_reasons,
    kpi_status,
    milestone_status,
    prediction_band,
    rollup_status,
    student_t_ppf,
)

D = datetime.date
BASELINE_DATE = D(2024, 12, 31)
TARGET_DATE = D(2025, 12, 31)


def kpi(points=(), **overrides):
    """A KPI from 60 (2024-12-31) to 80 (2025-12-31), increase, monthly, as of 2025-07-01."""
    args = {
        "as_of": D(2025, 7, 1),
        "baseline_value": 60.0,
        "baseline_date": BASELINE_DATE,
        "target_value": 80.0,
        "target_date": TARGET_DATE,
        "direction": "increase",
        "frequency": "monthly",
        "measurements": [p if isinstance(p, MeasurementPoint) else MeasurementPoint(*p) for p in points],
    }
    args.update(overrides)
    return kpi_status(**args)


def milestone(**overrides):
    args = {
        "as_of": D(2025, 9, 30),
        "start_date": D(2025, 1, 1),
        "due_date": D(2025, 12, 31),
        "percent_complete": 50.0,
        "state": "in_progress",
    }
    args.update(overrides)
    return milestone_status(**args)


def child(key, weight, status, score, progress=None, label=None):
    return Child(key=key, label=label or key, weight=weight, status=status, score=score, progress=progress)


def approx(x):
    return pytest.approx(x, abs=1e-4)


# --- worked examples ------------------------------------------------------------------


def test_worked_example_1_increase_one_measurement_is_on_track_with_forecast_80_1657():
    result = kpi([(D(2025, 6, 30), 70.0)])
    values = result.explanation["values"]
    assert values["forecast"] == approx(80.1657)
    assert result.forecast_value == approx(80.1657)
    assert values["ratio"] == approx(1.0083)
    assert result.score == approx(2.9163)
    assert result.status == Status.ON_TRACK
    assert result.explanation["rule"] == "kpi.ratio"


def test_worked_example_2_value_above_target_is_achieved_with_score_5():
    result = kpi([(D(2025, 4, 30), 56.0)], baseline_value=50.0, target_value=55.0)
    assert result.status == Status.ACHIEVED
    assert result.score == 5.0
    assert result.explanation["rule"] == "kpi.achieved"


def test_worked_example_3_milestone_behind_plan_is_off_track():
    result = milestone()
    values = result.explanation["values"]
    assert values["planned_share"] == approx(0.7473)
    assert values["spi"] == approx(0.6691)
    assert result.status == Status.OFF_TRACK
    assert result.score == -3.75


def test_worked_example_4_milestone_past_due_is_overdue():
    result = milestone(due_date=D(2025, 6, 30), percent_complete=90.0)
    assert result.status == Status.OVERDUE
    assert result.score == -3.75
    assert result.explanation["rule"] == "milestone.overdue"


def test_worked_example_5_goal_weighted_score_coverage_and_at_risk():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[
            child("kpi:1", 2, Status.ON_TRACK, 2.9163),
            child("milestone:1", 1, Status.OFF_TRACK, -3.75),
            child("kpi:2", 1, Status.NO_DATA, None),
        ],
    )
    assert result.score == approx(0.6942)
    assert result.explanation["values"]["coverage"] == approx(0.75)
    assert result.status == Status.AT_RISK


def test_worked_example_6_missed_final_figure_scores_the_share_of_the_change_made():
    result = kpi([(TARGET_DATE, 116.6)], baseline_value=100.0, target_value=120.0, as_of=D(2026, 1, 15))
    values = result.explanation["values"]
    assert result.status == Status.MISSED
    assert values["final_ratio"] == approx(0.83)
    assert result.score == approx(-0.85)
    assert result.explanation["rule"] == "kpi.missed"


def test_worked_example_7_milestone_early_on_is_on_track_by_the_variance_band_then_off_track():
    early = milestone(as_of=D(2025, 10, 1), start_date=D(2025, 9, 1), due_date=D(2026, 6, 30), percent_complete=0.0)
    values = early.explanation["values"]
    assert values["planned_share"] == approx(0.0993)
    assert values["spi"] == 0.0
    assert values["schedule_variance"] == approx(-0.0993)
    assert (early.status, early.score, early.explanation["rule"]) == (Status.ON_TRACK, 3.75, "milestone.variance")
    later = milestone(as_of=D(2025, 11, 1), start_date=D(2025, 9, 1), due_date=D(2026, 6, 30), percent_complete=0.0)
    assert later.explanation["values"]["planned_share"] == approx(0.2020)
    assert (later.status, later.score) == (Status.OFF_TRACK, -3.75)


def test_worked_example_8_overdue_final_figure_turns_an_on_track_forecast_at_risk_with_score_0():
    result = kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 3, 1))
    values = result.explanation["values"]
    assert values["forecast"] == approx(80.1657)
    assert values["ratio_status"] == Status.ON_TRACK
    assert (values["allowance_days"], values["final_figure_due_by"]) == (31, "2026-01-31")
    assert result.status == Status.AT_RISK
    assert result.score == 0.0
    assert result.explanation["rule"] == "kpi.final_figure_overdue"


# --- KPI ------------------------------------------------------------------------------


def test_kpi_without_measurements_is_no_data_without_score_or_progress():
    result = kpi([])
    assert result.status == Status.NO_DATA
    assert result.score is None
    assert result.progress is None
    assert result.latest_value is None
    assert result.stale is False


def test_kpi_with_one_measurement_has_forecast_but_no_interval():
    result = kpi([(D(2025, 6, 30), 70.0)])
    assert result.forecast_value is not None
    assert result.forecast_low is None
    assert result.forecast_high is None
    assert result.explanation["values"]["n"] == 2


def test_kpi_reports_latest_value_and_date():
    result = kpi([(D(2025, 3, 31), 64.0), (D(2025, 6, 30), 70.0)])
    assert result.latest_value == 70.0
    assert result.latest_date == D(2025, 6, 30)


def test_kpi_target_already_met_is_achieved_with_progress_1():
    result = kpi([(D(2025, 2, 28), 80.0)])
    assert result.status == Status.ACHIEVED
    assert result.progress == 1.0
    assert result.forecast_value is None


def test_kpi_achieved_is_never_stale():
    result = kpi([(D(2025, 1, 31), 85.0)], as_of=D(2026, 6, 30))
    assert result.status == Status.ACHIEVED
    assert result.stale is False


def test_hold_the_line_target_met_is_achieved():
    result = kpi([(D(2025, 6, 30), 60.0)], target_value=60.0)
    assert result.status == Status.ACHIEVED
    assert result.score == 5.0
    assert result.progress == 1.0


def test_hold_the_line_target_not_met_is_off_track_minus_2_5_with_progress_0():
    result = kpi([(D(2025, 6, 30), 59.0)], target_value=60.0)
    assert result.status == Status.OFF_TRACK
    assert result.score == -2.5
    assert result.progress == 0.0
    assert result.forecast_value is None
    assert result.explanation["rule"] == "kpi.hold_the_line"


def test_target_in_wrong_direction_is_treated_as_hold_the_line():
    result = kpi([(D(2025, 6, 30), 50.0)], target_value=55.0)
    assert result.status == Status.OFF_TRACK
    assert result.score == -2.5


def test_hold_the_line_without_data_is_no_data():
    result = kpi([], target_value=60.0)
    assert result.status == Status.NO_DATA


def test_hold_the_line_off_track_can_be_stale():
    result = kpi([(D(2025, 3, 31), 59.0)], target_value=60.0, as_of=D(2025, 7, 1))
    assert result.status == Status.OFF_TRACK
    assert result.stale is True


def test_decrease_direction_mirrors_worked_example_1():
    result = kpi([(D(2025, 6, 30), 70.0)], baseline_value=80.0, target_value=60.0, direction="decrease")
    assert result.forecast_value == approx(59.8343)
    assert result.explanation["values"]["ratio"] == approx(1.0083)
    assert result.score == approx(2.9163)
    assert result.status == Status.ON_TRACK


def test_decrease_direction_value_below_target_is_achieved():
    result = kpi([(D(2025, 6, 30), 59.0)], baseline_value=80.0, target_value=60.0, direction="decrease")
    assert result.status == Status.ACHIEVED


def point_rows(points):
    """The full point list derived on demand (the stored explanation keeps a summary)."""
    measurements = [p if isinstance(p, MeasurementPoint) else MeasurementPoint(*p) for p in points]
    return kpi_point_rows(measurements, baseline_date=BASELINE_DATE, as_of=D(2025, 7, 1))


def test_decrease_direction_rising_value_is_off_track_with_progress_0():
    result = kpi([(D(2025, 6, 30), 85.0)], baseline_value=80.0, target_value=60.0, direction="decrease")
    assert result.status == Status.OFF_TRACK
    assert result.progress == 0.0


def test_measurements_on_or_before_baseline_date_are_ignored():
    points = [(D(2024, 6, 30), 90.0), (BASELINE_DATE, 90.0), (D(2025, 6, 30), 70.0)]
    result = kpi(points)
    assert result.explanation["values"]["kept_measurements"] == 1
    assert result.score == approx(2.9163)
    reasons = [m["reason"] for m in point_rows(points)]
    assert reasons == ["on_or_before_baseline_date", "on_or_before_baseline_date", None]
    assert result.explanation["inputs"]["points"]["excluded"] == {"on_or_before_baseline_date": 2}


def test_only_measurements_on_or_before_baseline_date_is_no_data():
    result = kpi([(BASELINE_DATE, 70.0)])
    assert result.status == Status.NO_DATA


def test_measurements_after_as_of_are_ignored():
    points = [(D(2025, 6, 30), 70.0), (D(2025, 7, 2), 90.0)]
    result = kpi(points)
    assert result.status == Status.ON_TRACK
    assert result.latest_value == 70.0
    assert point_rows(points)[1]["reason"] == "after_as_of_date"
    assert result.explanation["inputs"]["points"]["excluded"] == {"after_as_of_date": 1}


def test_measurement_on_as_of_date_is_kept():
    result = kpi([(D(2025, 7, 1), 70.0)])
    assert result.latest_date == D(2025, 7, 1)


def test_several_measurements_on_one_date_latest_recorded_wins():
    day = D(2025, 6, 30)
    late = datetime.datetime(2025, 7, 1, 12, 0)
    early = datetime.datetime(2025, 7, 1, 9, 0)
    result = kpi([MeasurementPoint(day, 70.0, late), MeasurementPoint(day, 50.0, early)])
    assert result.latest_value == 70.0
    assert result.explanation["values"]["n"] == 2


def test_several_measurements_on_one_date_recorded_time_beats_none():
    day = D(2025, 6, 30)
    result = kpi([MeasurementPoint(day, 70.0, datetime.datetime(2025, 7, 1)), MeasurementPoint(day, 50.0, None)])
    assert result.latest_value == 70.0


def test_several_measurements_on_one_date_tie_goes_to_later_input():
    day = D(2025, 6, 30)
    points = [MeasurementPoint(day, 50.0), MeasurementPoint(day, 70.0)]
    result = kpi(points)
    assert result.latest_value == 70.0
    assert point_rows(points)[0]["reason"] == "superseded_by_later_record_same_date"
    assert point_rows(points)[1]["used"]


def test_several_measurements_on_one_date_compare_aware_times_in_utc():
    day = D(2025, 6, 30)
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    earlier_utc = datetime.datetime(2025, 7, 1, 13, 0, tzinfo=plus_two)  # 11:00 UTC
    later_utc = datetime.datetime(2025, 7, 1, 12, 0, tzinfo=datetime.UTC)
    result = kpi([MeasurementPoint(day, 70.0, later_utc), MeasurementPoint(day, 50.0, earlier_utc)])
    assert result.latest_value == 70.0


def test_final_figure_after_target_date_and_short_is_missed():
    result = kpi([(D(2026, 1, 15), 75.0)], as_of=D(2026, 2, 1))
    assert result.status == Status.MISSED
    assert result.score == approx(-1.25)
    assert result.stale is False
    assert result.progress == approx(0.75)


def test_missed_final_figure_below_the_baseline_scores_minus_5():
    result = kpi([(D(2026, 1, 15), 55.0)], as_of=D(2026, 2, 1))
    assert result.explanation["values"]["final_ratio"] == approx(-0.25)
    assert result.score == -5.0


def test_missed_final_figure_at_the_baseline_scores_minus_5():
    assert kpi([(D(2026, 1, 15), 60.0)], as_of=D(2026, 2, 1)).score == -5.0


def test_missed_decrease_target_is_graded_like_the_mirrored_increase():
    result = kpi(
        [(TARGET_DATE, 65.0)], baseline_value=80.0, target_value=60.0, direction="decrease", as_of=D(2026, 1, 2)
    )
    assert result.explanation["values"]["final_ratio"] == approx(0.75)
    assert result.score == approx(-1.25)


def test_missed_hold_the_line_target_scores_minus_5_without_a_ratio():
    result = kpi([(TARGET_DATE, 59.0)], target_value=60.0, as_of=D(2026, 1, 2))
    assert result.status == Status.MISSED
    assert result.score == -5.0
    assert result.explanation["values"]["final_ratio"] is None


def test_final_figure_not_overdue_on_the_last_day_of_the_allowance():
    result = kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 1, 31))
    assert result.status == Status.ON_TRACK
    assert result.explanation["values"]["final_figure_overdue"] is False


def test_final_figure_overdue_the_day_after_the_allowance():
    assert kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 2, 1)).status == Status.AT_RISK


def test_quarterly_final_figure_allows_92_days():
    assert kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 4, 2), frequency="quarterly").status == Status.ON_TRACK
    assert kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 4, 3), frequency="quarterly").status == Status.AT_RISK


def test_overdue_final_figure_keeps_an_at_risk_forecast_at_risk_with_score_0():
    result = kpi([(D(2025, 6, 30), 67.0)], as_of=D(2026, 3, 1))
    assert result.explanation["values"]["ratio_status"] == Status.AT_RISK
    assert result.explanation["values"]["ratio_score"] > 0
    assert (result.status, result.score) == (Status.AT_RISK, 0.0)


def test_overdue_final_figure_leaves_an_off_track_forecast_as_it_is():
    on_time = kpi([(D(2025, 6, 30), 64.0)])
    overdue = kpi([(D(2025, 6, 30), 64.0)], as_of=D(2026, 3, 1))
    assert (overdue.status, overdue.explanation["rule"]) == (Status.OFF_TRACK, "kpi.ratio")
    assert overdue.score == on_time.score
    assert overdue.explanation["values"]["final_figure_overdue"] is True


def test_overdue_final_figure_leaves_a_hold_the_line_kpi_off_track():
    result = kpi([(D(2025, 6, 30), 59.0)], target_value=60.0, as_of=D(2026, 3, 1))
    assert (result.status, result.score) == (Status.OFF_TRACK, -2.5)


def test_final_figure_dated_on_target_date_and_short_is_missed():
    result = kpi([(TARGET_DATE, 79.0)], as_of=D(2026, 1, 15))
    assert result.status == Status.MISSED


def test_final_figure_after_target_date_meeting_target_is_achieved():
    result = kpi([(D(2026, 1, 15), 81.0)], as_of=D(2026, 2, 1))
    assert result.status == Status.ACHIEVED


def test_past_target_date_without_final_figure_uses_forecast_and_is_stale():
    result = kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 1, 15))
    assert result.status == Status.ON_TRACK
    assert result.forecast_value == approx(80.1657)
    assert result.stale is True
    assert "past_target_date_without_final_figure" in result.explanation["values"]["stale_reasons"]


def test_monthly_kpi_is_stale_after_31_days():
    assert kpi([(D(2025, 5, 31), 68.0)], as_of=D(2025, 7, 2)).stale is True


def test_monthly_kpi_is_not_stale_at_31_days():
    assert kpi([(D(2025, 5, 31), 68.0)], as_of=D(2025, 7, 1)).stale is False


def test_quarterly_kpi_is_not_stale_within_92_days():
    assert kpi([(D(2025, 3, 31), 65.0)], as_of=D(2025, 7, 1), frequency="quarterly").stale is False


def test_quarterly_kpi_is_stale_after_92_days():
    assert kpi([(D(2025, 3, 31), 65.0)], as_of=D(2025, 7, 2), frequency="quarterly").stale is True


def test_annual_kpi_is_stale_after_366_days():
    result = kpi([(D(2025, 1, 1), 61.0)], as_of=D(2026, 1, 3), frequency="annual", target_date=D(2026, 12, 31))
    assert result.stale is True


def test_ratio_between_0_6_and_0_95_is_at_risk():
    result = kpi([(D(2025, 6, 30), 67.0)])
    ratio = result.explanation["values"]["ratio"]
    assert 0.6 <= ratio < 0.95
    assert result.status == Status.AT_RISK
    assert result.score == approx((ratio - 0.6) * 50 / 7)


def test_ratio_below_0_6_is_off_track_with_lower_slope():
    result = kpi([(D(2025, 6, 30), 64.0)])
    ratio = result.explanation["values"]["ratio"]
    assert ratio < 0.6
    assert result.status == Status.OFF_TRACK
    assert result.score == approx((ratio - 0.6) * 25 / 6)


def test_ratio_score_is_capped_at_plus_5():
    result = kpi([(D(2025, 2, 28), 79.0)])
    assert result.explanation["values"]["ratio"] > 1.3
    assert result.score == 5.0


def test_ratio_score_is_floored_at_minus_5():
    result = kpi([(D(2025, 6, 30), 40.0)])
    assert result.score == -5.0


def test_kpi_progress_is_share_of_required_change():
    assert kpi([(D(2025, 6, 30), 65.0)]).progress == approx(0.25)


def test_kpi_progress_is_clamped_at_0_when_worse_than_baseline():
    assert kpi([(D(2025, 6, 30), 55.0)]).progress == 0.0


def test_prediction_interval_with_three_points_matches_independent_computation():
    points = [(D(2025, 3, 31), 65.0), (D(2025, 6, 30), 71.0)]
    result = kpi(points)
    x = np.array([0.0, 90.0, 181.0])
    y = np.array([60.0, 65.0, 71.0])
    x0 = 365.0
    slope, intercept = np.polyfit(x, y, 1)
    fitted = intercept + slope * x
    s = np.sqrt(np.sum((y - fitted) ** 2) / (len(x) - 2))
    se = s * np.sqrt(1 + 1 / len(x) + (x0 - x.mean()) ** 2 / np.sum((x - x.mean()) ** 2))
    forecast = intercept + slope * x0
    half = stats.t.ppf(0.975, len(x) - 2) * se
    assert result.forecast_value == pytest.approx(forecast, abs=1e-9)
    assert result.forecast_low == pytest.approx(forecast - half, abs=1e-9)
    assert result.forecast_high == pytest.approx(forecast + half, abs=1e-9)
    assert result.explanation["values"]["s"] == pytest.approx(s, abs=1e-9)


def test_prediction_interval_of_a_perfect_fit_has_zero_width():
    result = kpi([(D(2025, 1, 30), 90.0), (D(2025, 3, 1), 180.0)], baseline_value=0.0, target_value=1000.0)
    assert result.forecast_low == pytest.approx(result.forecast_value)
    assert result.forecast_high == pytest.approx(result.forecast_value)


def test_prediction_band_from_stored_values_reproduces_the_interval_at_the_target_date():
    result = kpi([(D(2025, 3, 31), 65.0), (D(2025, 6, 30), 71.0)])
    values = json.loads(json.dumps(result.explanation))["values"]
    [(low, high)] = prediction_band(values, [values["x0"]])
    assert low == pytest.approx(result.forecast_low, abs=1e-9)
    assert high == pytest.approx(result.forecast_high, abs=1e-9)


def test_prediction_band_is_narrowest_at_the_mean_of_the_days():
    values = kpi([(D(2025, 3, 31), 65.0), (D(2025, 6, 30), 71.0)]).explanation["values"]
    widths = [high - low for low, high in prediction_band(values, [0.0, values["mean_x"], values["x0"]])]
    assert widths[1] < widths[0] < widths[2]


def test_stale_reasons_name_both_rule_10_reasons():
    reasons = kpi_stale_reasons(
        as_of=D(2026, 3, 1), latest_date=D(2025, 6, 30), target_date=TARGET_DATE, frequency="monthly"
    )
    assert reasons == ["latest_measurement_older_than_frequency", "past_target_date_without_final_figure"]


def test_explanation_stores_t_quantile_and_degrees_of_freedom():
    values = kpi([(D(2025, 3, 31), 65.0), (D(2025, 6, 30), 71.0)]).explanation["values"]
    assert values["df"] == 1
    assert values["t_quantile"] == pytest.approx(12.706204736174707, abs=1e-9)


@pytest.mark.parametrize("df", range(1, 201))
def test_t_quantile_matches_scipy(df):
    assert student_t_ppf(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-8)


def test_t_quantile_is_symmetric():
    assert student_t_ppf(0.025, 7) == pytest.approx(-student_t_ppf(0.975, 7), abs=1e-12)


def test_target_date_on_or_before_baseline_date_needs_no_forecast():
    result = kpi([(D(2025, 6, 30), 70.0)], target_date=BASELINE_DATE)
    assert result.status == Status.MISSED


def test_unknown_direction_is_rejected():
    with pytest.raises(ValueError):
        kpi([(D(2025, 6, 30), 70.0)], direction="up")


def test_unknown_frequency_is_rejected():
    with pytest.raises(ValueError):
        kpi([(D(2025, 6, 30), 70.0)], frequency="weekly")


def test_non_finite_measurement_is_rejected():
    with pytest.raises(ValueError):
        kpi([(D(2025, 6, 30), float("nan"))])


def test_kpi_summary_is_plain_english_with_rounded_numbers():
    summary = kpi([(D(2025, 6, 30), 70.0)]).explanation["summary"]
    assert summary == ("Forecast 80.17 by 2025-12-31 covers 101% of the required change; 95% is needed to be on track.")


# --- milestones -----------------------------------------------------------------------


def test_cancelled_milestone_is_cancelled_without_score():
    result = milestone(state="cancelled")
    assert result.status == Status.CANCELLED
    assert result.score is None


def test_done_milestone_is_complete_with_score_5_and_progress_1():
    result = milestone(state="done", percent_complete=60.0)
    assert result.status == Status.COMPLETE
    assert result.score == 5.0
    assert result.progress == 1.0


def test_milestone_at_100_percent_is_complete_even_after_due():
    result = milestone(percent_complete=100.0, due_date=D(2025, 6, 30))
    assert result.status == Status.COMPLETE


def test_milestone_before_start_with_no_work_is_not_started_without_score():
    result = milestone(as_of=D(2024, 12, 1), percent_complete=0.0, state="planned")
    assert result.status == Status.NOT_STARTED
    assert result.score is None
    assert result.progress == 0.0


def test_milestone_before_start_with_work_done_is_on_track():
    result = milestone(as_of=D(2024, 12, 1), percent_complete=10.0)
    assert result.status == Status.ON_TRACK
    assert result.explanation["values"]["spi"] == 1.0


def test_milestone_on_start_date_has_spi_1():
    result = milestone(as_of=D(2025, 1, 1), percent_complete=0.0)
    assert result.explanation["values"]["planned_share"] == 0.0
    assert result.explanation["values"]["spi"] == 1.0
    assert result.status == Status.ON_TRACK


def test_milestone_spi_at_least_0_9_is_on_track():
    result = milestone(percent_complete=70.0)
    assert result.status == Status.ON_TRACK
    assert result.score == 3.75


def test_milestone_spi_between_0_7_and_0_9_is_at_risk():
    result = milestone(percent_complete=60.0)
    assert result.status == Status.AT_RISK
    assert result.score == 1.25


def test_blocked_milestone_is_at_best_at_risk():
    result = milestone(percent_complete=90.0, state="blocked")
    assert result.explanation["values"]["spi"] >= 0.9
    assert result.status == Status.AT_RISK
    assert result.score == 1.25
    assert result.explanation["rule"] == "milestone.blocked_cap"


def short_milestone(percent, state="in_progress"):
    """A 20-day milestone from 2025-01-01 to 2025-01-21, as of 2025-01-17: 80% planned."""
    return milestone(
        as_of=D(2025, 1, 17), start_date=D(2025, 1, 1), due_date=D(2025, 1, 21), percent_complete=percent, state=state
    )


def test_milestone_ten_points_behind_plan_is_on_track_by_the_variance_band():
    result = short_milestone(70.0)
    assert result.explanation["values"]["spi"] == approx(0.875)
    assert result.explanation["values"]["spi_status"] == Status.AT_RISK
    assert result.explanation["values"]["schedule_variance"] == approx(-0.10)
    assert (result.status, result.explanation["rule"]) == (Status.ON_TRACK, "milestone.variance")


def test_milestone_twenty_points_behind_plan_is_at_risk():
    result = short_milestone(60.0)
    assert (result.status, result.score) == (Status.AT_RISK, 1.25)


def test_milestone_more_than_twenty_points_behind_plan_and_low_spi_is_off_track():
    assert short_milestone(55.0).status == Status.OFF_TRACK


def test_milestone_variance_band_can_lift_off_track_spi_to_at_risk():
    result = milestone(as_of=D(2025, 1, 6), start_date=D(2025, 1, 1), due_date=D(2025, 1, 21), percent_complete=5.0)
    assert result.explanation["values"]["spi"] == approx(0.2)
    assert (result.status, result.explanation["rule"]) == (Status.AT_RISK, "milestone.variance")


def test_milestone_spi_band_decides_when_it_is_the_better_one():
    result = milestone(percent_complete=53.0)
    assert result.explanation["values"]["schedule_variance"] == approx(0.53 - 0.7473)
    assert result.explanation["values"]["variance_status"] == Status.OFF_TRACK
    assert (result.status, result.explanation["rule"]) == (Status.AT_RISK, "milestone.spi")


def test_blocked_milestone_on_track_by_the_variance_band_is_at_risk():
    result = short_milestone(70.0, state="blocked")
    assert (result.status, result.explanation["rule"]) == (Status.AT_RISK, "milestone.blocked_cap")


def test_blocked_milestone_behind_plan_stays_off_track():
    assert milestone(percent_complete=10.0, state="blocked").status == Status.OFF_TRACK


def test_milestone_progress_is_percent_over_100():
    assert milestone(percent_complete=42.0).progress == approx(0.42)


def test_milestone_on_due_date_is_not_overdue():
    result = milestone(as_of=D(2025, 12, 31), percent_complete=95.0)
    assert result.status == Status.ON_TRACK
    assert result.explanation["values"]["planned_share"] == 1.0


def test_milestone_with_start_after_due_is_fully_planned_on_due_date():
    result = milestone(as_of=D(2025, 6, 30), start_date=D(2025, 7, 15), due_date=D(2025, 6, 30), percent_complete=50.0)
    assert result.explanation["values"]["planned_share"] == 1.0
    assert result.status == Status.OFF_TRACK


def test_milestone_with_start_after_due_is_overdue_after_due():
    result = milestone(as_of=D(2025, 7, 20), start_date=D(2025, 7, 15), due_date=D(2025, 6, 30), percent_complete=50.0)
    assert result.status == Status.OVERDUE


def test_milestone_percent_out_of_range_is_rejected():
    with pytest.raises(ValueError):
        milestone(percent_complete=120.0)


def test_milestone_unknown_state_is_rejected():
    with pytest.raises(ValueError):
        milestone(state="paused")


# --- roll-ups -------------------------------------------------------------------------


def test_rollup_leaves_out_cancelled_children():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.ON_TRACK, 3.75), child("b", 5, Status.CANCELLED, None)],
    )
    assert result.score == 3.75
    assert result.explanation["values"]["coverage"] == 1.0
    assert result.status == Status.ON_TRACK


def test_rollup_not_started_child_lowers_coverage_but_not_score():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.ON_TRACK, 3.75), child("b", 1, Status.NOT_STARTED, None, progress=0.0)],
    )
    assert result.score == 3.75
    assert result.explanation["values"]["coverage"] == 0.5


def test_rollup_without_scored_child_is_no_data():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.NOT_STARTED, None, 0.0), child("b", 1, Status.NO_DATA, None)],
    )
    assert result.status == Status.NO_DATA
    assert result.score is None
    assert result.progress == 0.0


def test_rollup_without_children_is_no_data():
    result = rollup_status(as_of=D(2025, 9, 30), children=[])
    assert result.status == Status.NO_DATA
    assert result.progress is None


def test_rollup_of_only_cancelled_children_is_no_data():
    result = rollup_status(as_of=D(2025, 9, 30), children=[child("a", 1, Status.CANCELLED, None)])
    assert result.status == Status.NO_DATA


def test_rollup_of_achieved_and_complete_children_is_achieved():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[
            child("a", 1, Status.ACHIEVED, 5.0, 1.0),
            child("b", 2, Status.COMPLETE, 5.0, 1.0),
            child("c", 1, Status.CANCELLED, None),
        ],
    )
    assert result.status == Status.ACHIEVED
    assert result.score == 5.0
    assert result.explanation["rule"] == "rollup.all_achieved"


def test_rollup_with_one_unscored_child_is_not_achieved():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.ACHIEVED, 5.0), child("b", 1, Status.NOT_STARTED, None)],
    )
    assert result.status == Status.ON_TRACK


def test_rollup_score_at_least_2_5_is_on_track():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.ON_TRACK, 3.75), child("b", 1, Status.AT_RISK, 1.25)],
    )
    assert result.score == 2.5
    assert result.status == Status.ON_TRACK


def test_rollup_negative_score_is_off_track():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.OFF_TRACK, -3.75), child("b", 1, Status.AT_RISK, 1.25)],
    )
    assert result.status == Status.OFF_TRACK


def test_worst_child_guard_turns_on_track_into_at_risk():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 3, Status.ACHIEVED, 5.0), child("b", 1, Status.OVERDUE, -3.75)],
    )
    assert result.score == approx(2.8125)
    assert result.explanation["values"]["worst_child_share"] == 0.25
    assert result.status == Status.AT_RISK
    assert result.explanation["rule"] == "rollup.worst_child_guard"


def test_worst_child_guard_is_silent_below_25_percent():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 4, Status.ACHIEVED, 5.0), child("b", 1, Status.MISSED, -5.0)],
    )
    assert result.explanation["values"]["worst_child_share"] == 0.2
    assert result.status == Status.ON_TRACK


def test_rollup_progress_is_weighted_mean_of_children_with_progress():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[
            child("a", 3, Status.ON_TRACK, 3.75, 1.0),
            child("b", 1, Status.NOT_STARTED, None, 0.0),
            child("c", 5, Status.NO_DATA, None, None),
        ],
    )
    assert result.progress == approx(0.75)


def test_rollup_rows_put_the_child_pulling_down_most_first():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[
            child("good", 1, Status.ON_TRACK, 3.75),
            child("none", 1, Status.NO_DATA, None),
            child("bad", 1, Status.OFF_TRACK, -3.75),
            child("gone", 1, Status.CANCELLED, None),
            child("meh", 1, Status.AT_RISK, 1.25),
        ],
    )
    rows = result.explanation["inputs"]["children"]
    assert [r["key"] for r in rows] == ["bad", "meh", "good", "none", "gone"]
    assert sum(r["contribution"] for r in rows if r["scored"]) == approx(result.score)
    assert rows[0]["contribution"] == approx(-1.25)


def test_rollup_accepts_status_strings():
    result = rollup_status(as_of=D(2025, 9, 30), children=[child("a", 1, "on_track", 3.0)])
    assert result.status == Status.ON_TRACK


def test_rollup_zero_weight_child_counts_nowhere():
    result = rollup_status(
        as_of=D(2025, 9, 30),
        children=[child("a", 1, Status.ON_TRACK, 3.75), child("b", 0, Status.OFF_TRACK, -5.0)],
    )
    assert result.score == 3.75
    assert result.status == Status.ON_TRACK


def test_rollup_negative_weight_is_rejected():
    with pytest.raises(ValueError):
        rollup_status(as_of=D(2025, 9, 30), children=[child("a", -1, Status.ON_TRACK, 3.75)])


# --- explanations ---------------------------------------------------------------------


def all_kinds_of_results():
    return [
        kpi([]),
        kpi([(D(2025, 6, 30), 70.0)]),
        kpi([(D(2025, 3, 31), 65.0), (D(2025, 6, 30), 71.0, datetime.datetime(2025, 7, 1, tzinfo=datetime.UTC))]),
        kpi([(D(2025, 6, 30), 59.0)], target_value=60.0),
        kpi([(D(2026, 1, 15), 75.0)], as_of=D(2026, 2, 1)),
        kpi([(D(2026, 1, 15), 59.0)], target_value=60.0, as_of=D(2026, 2, 1)),
        kpi([(D(2025, 6, 30), 70.0)], as_of=D(2026, 2, 1)),
        kpi([(D(2025, 2, 28), 80.0)]),
        milestone(),
        milestone(percent_complete=65.0),
        milestone(state="blocked", percent_complete=90.0),
        milestone(state="cancelled"),
        milestone(due_date=D(2025, 6, 30)),
        rollup_status(as_of=D(2025, 9, 30), children=[]),
        rollup_status(
            as_of=D(2025, 9, 30),
            children=[child("a", 3, Status.ACHIEVED, 5.0, 1.0), child("b", 1, Status.OVERDUE, -3.75, 0.2)],
        ),
    ]


def test_explanations_round_trip_through_strict_json():
    for result in all_kinds_of_results():
        text = json.dumps(result.explanation, allow_nan=False)
        assert json.loads(text) == result.explanation


def test_explanations_carry_the_common_keys():
    assert METHOD_VERSION == 2
    for result in all_kinds_of_results():
        explanation = result.explanation
        assert explanation["method_version"] == METHOD_VERSION
        assert explanation["kind"] in {"kpi", "milestone", "rollup"}
        assert explanation["as_of"] in {"2025-07-01", "2025-09-30", "2026-02-01"}
        assert {"inputs", "values", "thresholds", "rule", "summary"} <= explanation.keys()
        assert isinstance(explanation["summary"], str) and explanation["summary"].endswith(".")


def test_kpi_explanation_summarises_its_points_whatever_their_number():
    days = [BASELINE_DATE + datetime.timedelta(days=i) for i in range(1, 181)]
    result = kpi([(day, 60.0 + i / 10) for i, day in enumerate(days)])
    summary = result.explanation["inputs"]["points"]
    assert summary == {
        "count": 180,
        "used": 180,
        "excluded": {},
        "first": {"date": "2025-01-01", "value": 60.0},
        "last": {"date": "2025-06-29", "value": 77.9},
    }
    assert "points" not in result.explanation["values"]
    assert len(json.dumps(result.explanation)) < 3000
