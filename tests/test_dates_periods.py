"""Reporting periods (plans/dates.py) and the measurement form's default date built on them."""

import datetime

import pytest

from plans.choices import Frequency
from plans.dates import latest_due_period_end, period_end_on_or_before
from plans.forms import MeasurementForm
from tests.factories import KPIFactory

D = datetime.date
TARGET = D(2025, 12, 31)


@pytest.mark.parametrize(
    ("frequency", "day", "end"),
    [
        (Frequency.MONTHLY, D(2025, 7, 15), D(2025, 6, 30)),
        (Frequency.MONTHLY, D(2025, 7, 31), D(2025, 7, 31)),
        (Frequency.MONTHLY, D(2025, 3, 1), D(2025, 2, 28)),
        (Frequency.MONTHLY, D(2024, 3, 1), D(2024, 2, 29)),
        (Frequency.MONTHLY, D(2025, 1, 10), D(2024, 12, 31)),
        (Frequency.QUARTERLY, D(2025, 5, 20), D(2025, 3, 31)),
        (Frequency.QUARTERLY, D(2025, 6, 30), D(2025, 6, 30)),
        (Frequency.QUARTERLY, D(2025, 7, 1), D(2025, 6, 30)),
        (Frequency.QUARTERLY, D(2025, 2, 14), D(2024, 12, 31)),
        (Frequency.ANNUAL, D(2025, 7, 15), D(2024, 12, 31)),
        (Frequency.ANNUAL, D(2025, 12, 31), D(2025, 12, 31)),
    ],
)
def test_period_end_on_or_before_a_day(frequency, day, end):
    assert period_end_on_or_before(frequency, day) == end


@pytest.mark.parametrize(
    ("frequency", "today", "due"),
    [
        (Frequency.MONTHLY, D(2025, 7, 15), D(2025, 6, 30)),
        (Frequency.QUARTERLY, D(2025, 11, 3), D(2025, 9, 30)),
        (Frequency.ANNUAL, D(2025, 11, 3), D(2024, 12, 31)),
    ],
)
def test_the_latest_due_period_end_follows_the_frequency(frequency, today, due):
    assert latest_due_period_end(frequency, today, TARGET) == due


@pytest.mark.parametrize("frequency", Frequency.values)
def test_after_the_target_date_the_final_figure_is_due_on_the_target_date(frequency):
    assert latest_due_period_end(frequency, D(2026, 3, 15), TARGET) == TARGET


def test_a_target_date_inside_a_period_caps_the_due_date():
    assert latest_due_period_end(Frequency.QUARTERLY, D(2026, 1, 20), D(2025, 11, 15)) == D(2025, 11, 15)


@pytest.mark.django_db
def test_the_measurement_form_defaults_to_the_latest_due_period_end():
    kpi = KPIFactory(frequency=Frequency.QUARTERLY, baseline_date=D(2024, 12, 31), target_date=TARGET)
    assert MeasurementForm(item=kpi, today=D(2025, 8, 20)).initial["date"] == D(2025, 6, 30)


@pytest.mark.django_db
def test_after_the_target_date_the_measurement_form_defaults_to_the_target_date():
    kpi = KPIFactory(frequency=Frequency.MONTHLY, baseline_date=D(2024, 12, 31), target_date=TARGET)
    assert MeasurementForm(item=kpi, today=D(2026, 2, 10)).initial["date"] == TARGET


@pytest.mark.django_db
def test_before_any_period_has_ended_the_measurement_form_defaults_to_today():
    # The only period end so far is the baseline date, on which a figure would not count.
    kpi = KPIFactory(frequency=Frequency.ANNUAL, baseline_date=D(2024, 12, 31), target_date=TARGET)
    assert MeasurementForm(item=kpi, today=D(2025, 4, 2)).initial["date"] == D(2025, 4, 2)
