"""Unit tests of plans.dates: month ends and periods."""

import datetime

import pytest

from plans.dates import is_month_end, month_end, month_ends_among, month_ends_between, stray_snapshot_days

D = datetime.date


@pytest.mark.parametrize("day", [D(2025, 1, 31), D(2025, 2, 28), D(2024, 2, 29), D(2025, 4, 30), D(2025, 12, 31)])
def test_last_days_of_months_are_month_ends(day):
    assert is_month_end(day)


@pytest.mark.parametrize("day", [D(2025, 1, 30), D(2024, 2, 28), D(2025, 4, 1), D(2025, 12, 1)])
def test_other_days_are_not_month_ends(day):
    assert not is_month_end(day)


@pytest.mark.parametrize(
    ("day", "end"),
    [(D(2025, 1, 1), D(2025, 1, 31)), (D(2024, 2, 10), D(2024, 2, 29)), (D(2025, 12, 31), D(2025, 12, 31))],
)
def test_month_end_is_the_last_day_of_the_month(day, end):
    assert month_end(day) == end


def test_month_ends_between_generates_each_month_end_from_the_start_month_through_the_end():
    assert month_ends_between(D(2025, 1, 15), D(2025, 4, 29)) == [D(2025, 1, 31), D(2025, 2, 28), D(2025, 3, 31)]


def test_month_ends_between_includes_an_end_that_is_a_month_end_and_crosses_years():
    assert month_ends_between(D(2025, 11, 30), D(2026, 1, 31)) == [D(2025, 11, 30), D(2025, 12, 31), D(2026, 1, 31)]


def test_month_ends_between_is_empty_before_the_first_month_end():
    assert month_ends_between(D(2025, 3, 1), D(2025, 3, 30)) == []


def test_month_ends_among_keeps_the_given_month_ends_of_the_period_in_their_order():
    dates = [D(2026, 2, 28), D(2026, 1, 31), D(2025, 12, 31), D(2025, 7, 15), D(2025, 6, 30), D(2024, 12, 31)]
    assert month_ends_among(dates, start=D(2025, 1, 1), end=D(2025, 12, 31)) == [
        D(2026, 1, 31),
        D(2025, 12, 31),
        D(2025, 6, 30),
    ]


def test_month_ends_among_offers_the_month_end_closing_a_period_that_ends_mid_month():
    assert month_ends_among([D(2025, 12, 31)], start=D(2025, 1, 1), end=D(2025, 12, 15)) == [D(2025, 12, 31)]


def test_snapshot_history_keeps_month_ends_and_the_current_day():
    days = [D(2025, 1, 31), D(2025, 2, 14), D(2025, 2, 28), D(2025, 3, 3), D(2025, 3, 4)]
    assert stray_snapshot_days(days) == [D(2025, 2, 14), D(2025, 3, 3)]
    assert stray_snapshot_days(days, current=D(2025, 3, 3)) == [D(2025, 2, 14), D(2025, 3, 4)]
    assert stray_snapshot_days([]) == []
