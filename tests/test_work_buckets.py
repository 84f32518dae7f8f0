"""My work's buckets, counts and order come from SQL (plans.selectors.my_work_page); they must equal the
in-memory classification the page used before: rollup's staleness rule and the stored status, sorted by
bucket, due date and name (Python's code-point string order)."""

import datetime
import random

import pytest
from django.utils import timezone

from plans import selectors
from plans.choices import Frequency, Status
from plans.models import KPI, Measurement, Milestone
from plans.rollup import kpi_stale_reasons
from tests.factories import GoalFactory, KPIFactory, MeasurementFactory, MilestoneFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
MILESTONE_STATUSES = ["", Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK, Status.OVERDUE, Status.COMPLETE]
KPI_STATUSES = ["", Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK, Status.ACHIEVED, Status.MISSED]
# Names that sort differently by code point and by a language collation (case, accents, CJK, spaces).
# Figure ages in days: either side of each allowance (31, 92, 366) and of a target date 10 days ago; -5 is dated
# in the future, which the rule ignores.
AGES = [1, 9, 10, 11, 31, 32, 92, 93, 366, 367, -5]
NAMES = ["alpha", "Beta", "beta", "Émile", "zeta", "中国", "a b", "ab", "Z"]


def day(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


@pytest.fixture
def varied(team):
    """Milestones and KPIs of one team, many sharing due dates, with every status, frequency and figure age."""
    rng = random.Random(12)
    goal = GoalFactory(owner_team=team)
    for _ in range(40):
        milestone = MilestoneFactory(goal=goal, title=rng.choice(NAMES), due_date=day(rng.choice([-30, 0, 45])))
        Milestone.objects.filter(pk=milestone.pk).update(status=rng.choice(MILESTONE_STATUSES))
    for i in range(150):
        kpi = KPIFactory(
            goal=goal,
            code=rng.choice(["K", "k", "Ä"]) + str(i),
            name=rng.choice(NAMES),
            frequency=rng.choice(list(Frequency.values)),
            baseline_date=day(-rng.choice([20, 31, 32, 92, 93, 400])),
            target_date=day(rng.choice([-10, 0, 45, 200])),
        )
        KPI.objects.filter(pk=kpi.pk).update(status=rng.choice(KPI_STATUSES))
        for age in rng.sample(AGES, rng.randint(0, 3)):
            MeasurementFactory(kpi=kpi, date=day(-age))
    return UserFactory(teams=[team])


def old_classification(user) -> list[tuple[str, str, int]]:
    """``(bucket, kind, id)`` of every item, as the page classified and sorted them in memory before."""
    status_bucket = {
        Status.OFF_TRACK: selectors.OFF_TRACK,
        Status.OVERDUE: selectors.OFF_TRACK,
        Status.MISSED: selectors.OFF_TRACK,
        Status.AT_RISK: selectors.AT_RISK,
    }
    teams = list(user.teams.all())
    rows = []
    for m in Milestone.objects.filter(owner_team__in=teams):
        rows.append((status_bucket.get(m.status, selectors.ON_TRACK), m.due_date, str(m), "milestone", m.pk))
    for k in KPI.objects.filter(owner_team__in=teams):
        kept = Measurement.objects.filter(kpi=k, date__gt=k.baseline_date, date__lte=TODAY).order_by("-date").first()
        reasons = ()
        if k.status not in (Status.ACHIEVED, Status.MISSED):
            latest = kept.date if kept else k.baseline_date
            reasons = kpi_stale_reasons(
                as_of=TODAY, latest_date=latest, target_date=k.target_date, frequency=k.frequency
            )
        bucket = selectors.NEEDS_FIGURE if reasons else status_bucket.get(k.status, selectors.ON_TRACK)
        rows.append((bucket, k.target_date, str(k), "kpi", k.pk))
    order = {bucket: i for i, bucket in enumerate(selectors.WORK_BUCKETS)}
    rows.sort(key=lambda r: (order[r[0]], r[1], r[2]))
    return rows


def test_bucket_counts_equal_the_old_classification(varied):
    old = old_classification(varied)
    page = selectors.my_work_page(varied, TODAY, windows={})
    assert {b: c.total for b, c in page.counts.items()} == {
        b: sum(r[0] == b for r in old) for b in selectors.WORK_BUCKETS
    }
    assert all(page.counts[b].total for b in selectors.WORK_BUCKETS)  # the plan is varied enough to fill every bucket


def test_uncomputed_items_are_counted_in_their_bucket(varied):
    page = selectors.my_work_page(varied, TODAY, windows={})
    expected = Milestone.objects.filter(status="").count() + KPI.objects.filter(status="").count()
    assert sum(c.uncomputed for c in page.counts.values()) == expected > 0


def test_rows_and_their_order_equal_the_old_in_memory_sort(varied):
    old = old_classification(varied)
    page = selectors.my_work_page(varied, TODAY, windows={b: (0, 1000) for b in selectors.WORK_BUCKETS})
    got = [(row.bucket, row.due, str(row.item)) for b in selectors.WORK_BUCKETS for row in page.rows[b]]
    assert got == [r[:3] for r in old]


def test_a_window_is_that_slice_of_the_bucket(varied):
    whole = selectors.my_work_page(varied, TODAY, windows={selectors.ON_TRACK: (0, 1000)}).rows[selectors.ON_TRACK]
    window = selectors.my_work_page(varied, TODAY, windows={selectors.ON_TRACK: (3, 9)}).rows[selectors.ON_TRACK]
    assert [(r.kind, r.item.pk) for r in window] == [(r.kind, r.item.pk) for r in whole[3:9]]
    assert len(window) == 6
