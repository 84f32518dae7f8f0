"""Property tests of plans.rollup (hypothesis): invariants the method must keep for any input."""

import datetime
import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from plans.rollup import Child, MeasurementPoint, Status, kpi_status, milestone_status, rollup_status

BASELINE_DATE = datetime.date(2024, 12, 31)
SETTINGS = settings(max_examples=200, deadline=None, database=None)

# Values on a 0.01 grid, as a KPI stored with two decimals would have.
values = st.integers(-100_000, 100_000).map(lambda i: i / 100)
day_offsets = st.integers(-30, 800)


def day(offset: int) -> datetime.date:
    return BASELINE_DATE + datetime.timedelta(days=offset)


@st.composite
def kpi_cases(draw):
    """Keyword arguments of ``kpi_status``; measurements have distinct dates."""
    offsets = draw(st.lists(day_offsets, min_size=1, max_size=6, unique=True))
    return {
        "as_of": day(draw(st.integers(0, 900))),
        "baseline_value": draw(values),
        "baseline_date": BASELINE_DATE,
        "target_value": draw(values),
        "target_date": day(draw(st.integers(30, 730))),
        "direction": draw(st.sampled_from(["increase", "decrease"])),
        "frequency": draw(st.sampled_from(["monthly", "quarterly", "annual"])),
        "measurements": [MeasurementPoint(day(o), draw(values)) for o in offsets],
    }


def latest_kept_index(case) -> int | None:
    kept = [(m.date, i) for i, m in enumerate(case["measurements"]) if case["baseline_date"] < m.date <= case["as_of"]]
    return max(kept)[1] if kept else None


def ratio_near_threshold(result) -> bool:
    ratio = result.explanation["values"].get("ratio")
    return ratio is not None and any(abs(ratio - edge) < 1e-9 for edge in (0.6, 0.95))


@SETTINGS
@given(case=kpi_cases(), improvement=st.integers(1, 100_000).map(lambda i: i / 100))
def test_a_better_latest_value_never_lowers_the_kpi_score(case, improvement):
    index = latest_kept_index(case)
    assume(index is not None)
    sign = 1 if case["direction"] == "increase" else -1
    better = list(case["measurements"])
    old = better[index]
    better[index] = MeasurementPoint(old.date, old.value + sign * improvement)
    before = kpi_status(**case)
    after = kpi_status(**{**case, "measurements": better})
    assert after.score >= before.score - 1e-9


@SETTINGS
@given(case=kpi_cases())
def test_mirroring_values_and_direction_keeps_status_and_score(case):
    mirrored = {
        **case,
        "baseline_value": -case["baseline_value"],
        "target_value": -case["target_value"],
        "direction": "decrease" if case["direction"] == "increase" else "increase",
        "measurements": [MeasurementPoint(m.date, -m.value) for m in case["measurements"]],
    }
    original, mirror = kpi_status(**case), kpi_status(**mirrored)
    assert mirror.status == original.status
    assert mirror.score == original.score
    assert mirror.progress == original.progress


@SETTINGS
@given(case=kpi_cases(), factor=st.floats(min_value=0.001, max_value=1000.0))
def test_scaling_by_a_positive_constant_changes_no_status(case, factor):
    original = kpi_status(**case)
    assume(not ratio_near_threshold(original))
    scaled = {
        **case,
        "baseline_value": case["baseline_value"] * factor,
        "target_value": case["target_value"] * factor,
        "measurements": [MeasurementPoint(m.date, m.value * factor) for m in case["measurements"]],
    }
    assert kpi_status(**scaled).status == original.status


SCORED_STATUSES = [Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK, Status.OVERDUE, Status.MISSED, "at_risk"]


@st.composite
def children(draw):
    kind = draw(st.sampled_from(["scored", "done", "unscored", "cancelled"]))
    weight = draw(st.floats(min_value=0.01, max_value=100.0))
    key = f"goal:{draw(st.integers(1, 10_000))}"
    if kind == "scored":
        status, score = draw(st.sampled_from(SCORED_STATUSES)), draw(st.floats(min_value=-5.0, max_value=5.0))
    elif kind == "done":
        status, score = draw(st.sampled_from([Status.ACHIEVED, Status.COMPLETE])), 5.0
    elif kind == "unscored":
        status, score = draw(st.sampled_from([Status.NOT_STARTED, Status.NO_DATA])), None
    else:
        status, score = Status.CANCELLED, draw(st.one_of(st.none(), st.floats(min_value=-5.0, max_value=5.0)))
    progress = draw(st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)))
    return Child(key=key, label=key, weight=weight, status=status, score=score, progress=progress)


@SETTINGS
@given(kids=st.lists(children(), max_size=12))
def test_rollup_score_lies_between_lowest_and_highest_child_score(kids):
    result = rollup_status(as_of=datetime.date(2025, 9, 30), children=kids)
    scores = [c.score for c in kids if c.status != Status.CANCELLED and c.score is not None]
    if not scores:
        assert result.score is None
        return
    assert min(scores) <= result.score <= max(scores)
    assert math.isfinite(result.score)


# --- method version 2 -------------------------------------------------------------------

BANDS = [Status.OFF_TRACK, Status.AT_RISK, Status.ON_TRACK]


def spi_band_of_version_1(spi: float, state: str) -> Status:
    """Milestone rule 6 of method version 1: the SPI band alone (0.90, 0.70), blocked at best at risk."""
    band = Status.ON_TRACK if spi >= 0.90 else Status.AT_RISK if spi >= 0.70 else Status.OFF_TRACK
    return Status.AT_RISK if state == "blocked" and band == Status.ON_TRACK else band


@st.composite
def milestone_cases(draw):
    start = day(draw(st.integers(0, 400)))
    return {
        "as_of": start + datetime.timedelta(days=draw(st.integers(-30, 600))),
        "start_date": start,
        "due_date": start + datetime.timedelta(days=draw(st.integers(-10, 500))),
        "percent_complete": draw(st.integers(0, 10_000)) / 100,
        "state": draw(st.sampled_from(["planned", "in_progress", "blocked", "done", "cancelled"])),
    }


@SETTINGS
@given(case=milestone_cases())
def test_milestone_status_is_never_worse_than_the_spi_band_alone(case):
    result = milestone_status(**case)
    spi = result.explanation["values"].get("spi")
    if spi is None:  # decided before rule 6 (cancelled, complete, not started, overdue)
        assert result.status not in BANDS
        return
    assert BANDS.index(result.status) >= BANDS.index(spi_band_of_version_1(spi, case["state"]))


@SETTINGS
@given(
    baseline=values,
    change=st.integers(1, 100_000).map(lambda i: i / 100),
    made=st.integers(0, 99).map(lambda i: i / 100),
    drop=st.integers(1, 100_000).map(lambda i: i / 100),
    direction=st.sampled_from(["increase", "decrease"]),
)
def test_a_missed_kpi_that_made_part_of_the_change_scores_above_one_that_fell_below_baseline(
    baseline, change, made, drop, direction
):
    sign = 1 if direction == "increase" else -1
    target = baseline + sign * change
    final_date = day(365)

    def missed_with(value):
        return kpi_status(
            as_of=day(400),
            baseline_value=baseline,
            baseline_date=BASELINE_DATE,
            target_value=target,
            target_date=final_date,
            direction=direction,
            frequency="annual",
            measurements=[MeasurementPoint(final_date, value)],
        )

    part, below = missed_with(baseline + made * (target - baseline)), missed_with(baseline - sign * drop)
    assert part.status == below.status == Status.MISSED
    assert below.score == -5.0
    # Rf = 0 (no change at all) scores -5 as well: the floor.
    assert part.score > below.score if made > 0 else part.score == below.score
