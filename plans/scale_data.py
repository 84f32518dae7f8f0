"""A deterministic national-scale plan for load tests and benchmarks (``generate_scale_data``).

Scale 1 is the size the national rollout expects: 12 focus areas, 240 goals, 2,400 milestones, 1,200 KPIs
and 240,000 measurements (200 per KPI). Scale N multiplies goals, milestones, KPIs and measurements by N
(rounded; at least one goal and one KPI); the focus areas stay 12. Each goal has a team, each team a
staff member who records its values and progress; measurements carry their revision, milestones their
update history. Dates lie in the plan's window: 2024 baselines, 2025 targets, values through 2025.

Rows are written without the services: they are fixture data, not user writes, and a national plan
through ``measurement_record`` would take hours. The tables are filled with PostgreSQL's COPY (psycopg 3)
and with ``bulk_create`` elsewhere; the database's constraints still check every row. The plan is left
marked as needing a recompute (``data_revision`` ahead of ``computed_revision``), so any recompute
catches its statuses up.
"""

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from .choices import Counting, Direction, Frequency, MeasurementSource, MilestoneState
from .models import KPI, FocusArea, Goal, Measurement, MeasurementRevision, Milestone, MilestoneUpdate, Plan, Team
from .setwrites import copy_rows

FOCUS_AREAS = 12
GOALS, MILESTONES, KPIS = 240, 2400, 1200  # at scale 1
MEASUREMENTS_PER_KPI = 200
TEAMS = 24
BASELINE_DATE = datetime.date(2024, 12, 31)
TARGET_DATE = datetime.date(2025, 12, 31)
FIRST_DAY = datetime.date(2025, 1, 1)
CHUNK = 5000  # rows per bulk_create batch and per progress update

# Units with the plausible ranges the KPIs default to (plans.models.kpis.kpi_default_range).
UNITS = (("%", 0.0, 100.0), ("billion yuan", 0.0, None), ("enterprises", 0.0, None), ("index points", None, None))


class ScaleDataExists(Exception):
    """A plan with the slug already exists and was not to be replaced."""


@dataclass(frozen=True)
class Sizes:
    focus_areas: int
    goals: int
    milestones: int
    kpis: int
    measurements: int

    @classmethod
    def at(cls, scale: float) -> "Sizes":
        kpis = max(1, round(KPIS * scale))
        return cls(
            focus_areas=FOCUS_AREAS,
            goals=max(1, round(GOALS * scale)),
            milestones=round(MILESTONES * scale),
            kpis=kpis,
            measurements=kpis * MEASUREMENTS_PER_KPI,
        )


class _Writer:
    """Appends rows (tuples in ``columns`` order, primary key first) to a model's table.

    Ids are reserved up front, so children can name their parents without reading them back.
    """

    def __init__(self, model, columns: list[str], progress):
        self.model, self.columns, self.progress = model, columns, progress

    def reserve(self, count: int) -> int:
        """The first of ``count`` consecutive free ids (PostgreSQL: taken from the table's sequence)."""
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s)",
                    [table, table, max(count - 1, 0)],
                )
                return cursor.fetchone()[0] - max(count - 1, 0)
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {connection.ops.quote_name(table)}")  # noqa: S608
            return cursor.fetchone()[0]

    def write(self, rows) -> None:
        copy_rows(self.model, self.columns, rows, progress=self.progress, chunk=CHUNK)


class _Null:
    def update(self, n=1):
        pass


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC)


@transaction.atomic
def scale_plan_create(
    *, scale: float, seed: int = 1, slug: str = "national-scale", replace: bool = False, progress=None
):
    """Create the plan ``slug`` at ``scale`` (see the module docstring); the same seed gives the same plan.

    An existing plan with the slug raises ScaleDataExists, unless ``replace``: then it and its teams and
    staff are deleted first, in this transaction. ``progress`` (a tqdm bar, say) is told of every row written.
    """
    progress = progress or _Null()
    existing = Plan.objects.filter(slug=slug)
    if existing.exists():
        if not replace:
            raise ScaleDataExists(slug)
        existing.delete()
        Team.objects.filter(name__startswith=f"{slug}: ").delete()
        get_user_model().objects.filter(username__startswith=f"{slug}.").delete()
    rng = random.Random(seed)
    sizes = Sizes.at(scale)
    stamp = _at(FIRST_DAY, 0)
    plan = Plan.objects.create(
        name=f"National high-tech zones, scale {scale:g}",
        slug=slug,
        description="Generated by generate_scale_data: illustrative figures, not the plan's.",
        baseline_year=2024,
        start_date=FIRST_DAY,
        end_date=TARGET_DATE,
        data_revision=1,
        marked_at=timezone.now(),
        # Generated figures are not reviewed: every write counts at once, as the benchmarks measure.
        counting=Counting.ALL,
    )
    teams = Team.objects.bulk_create(Team(name=f"{slug}: zone office {i + 1:02d}") for i in range(TEAMS))
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"{slug}.staff{i + 1:02d}", password="!generated") for i in range(TEAMS)
    )
    Team.members.through.objects.bulk_create(
        Team.members.through(team_id=team.pk, user_id=user.pk) for team, user in zip(teams, users, strict=True)
    )
    areas = FocusArea.objects.bulk_create(
        FocusArea(plan=plan, code=f"FA{i + 1:02d}", name=f"Focus area {i + 1}", order=i + 1) for i in range(FOCUS_AREAS)
    )
    goal_team = [teams[i % TEAMS] for i in range(sizes.goals)]
    goals = Goal.objects.bulk_create(
        Goal(
            plan=plan,
            focus_area=areas[i % FOCUS_AREAS],
            code=f"G{i + 1:05d}",
            title=f"Goal {i + 1}",
            owner_team=goal_team[i],
            start_date=FIRST_DAY,
            due_date=TARGET_DATE,
        )
        for i in range(sizes.goals)
    )
    author = {team.pk: user.pk for team, user in zip(teams, users, strict=True)}
    _milestones_write(plan, goals, sizes.milestones, rng, author, stamp, progress)
    _kpis_write(plan, goals, sizes.kpis, rng, author, stamp, progress)
    statistics_refresh()
    return plan


def statistics_refresh() -> None:
    """VACUUM (ANALYZE) on PostgreSQL, as autovacuum would soon after a bulk load: the planner would otherwise still
    estimate the tables as empty (a handful of rows per plan) and join the dashboard's tables row by row instead
    of hashing them, and the index-only scans of the series index would visit the table for every row (no page
    is marked all-visible yet): reading a plan's series took 1.6x as long. Inside a transaction (VACUUM cannot
    run there) only ANALYZE, which counts the transaction's own rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")


def _milestones_write(plan, goals, count, rng, author, stamp, progress) -> None:
    columns = [
        "id", "plan_id", "goal_id", "owner_team_id", "title", "description", "start_date", "due_date", "weight",
        "percent_complete", "state", "completed_on", "source", "external_id", "status", "score", "progress",
        "computed_at", "explanation", "version", "created_at", "updated_at",
    ]  # fmt: skip
    milestones = _Writer(Milestone, columns, progress)
    first = milestones.reserve(count)
    history: list[tuple] = []  # (milestone id, team, [(percent, state)...], due)
    rows = []
    for i in range(count):
        goal = goals[i % len(goals)]
        start = FIRST_DAY + datetime.timedelta(days=rng.randrange(0, 120))
        due = min(start + datetime.timedelta(days=rng.randrange(30, 330)), TARGET_DATE)
        percent = rng.choice((0, 10, 25, 40, 50, 60, 75, 90, 100))
        state = (
            MilestoneState.DONE
            if percent == 100
            else MilestoneState.PLANNED
            if percent == 0
            else rng.choice((MilestoneState.IN_PROGRESS,) * 9 + (MilestoneState.BLOCKED,))
        )
        completed = due - datetime.timedelta(days=rng.randrange(0, 20)) if state == MilestoneState.DONE else None
        completed = max(completed, start) if completed else None
        steps = sorted(rng.sample(range(5, percent), min(2, max(percent - 5, 0)))) if percent > 5 else []
        history.append((first + i, goal.owner_team_id, [*steps, percent] if percent else [], start, state))
        rows.append((
            first + i, plan.pk, goal.pk, goal.owner_team_id, f"Milestone {i + 1}", "", start, due, Decimal("1.00"),
            percent, state, completed, "", "", "", None, None, None, None, 1 + len(history[-1][2]), stamp, stamp,
        ))  # fmt: skip
    milestones.write(rows)
    update_columns = [
        "id", "milestone_id", "percent_complete", "state", "previous_percent_complete", "previous_state", "note",
        "evidence_url", "author_id", "author_token_id", "created_at", "updated_at",
    ]  # fmt: skip
    updates = _Writer(MilestoneUpdate, update_columns, progress)
    next_id = updates.reserve(sum(len(steps) for _, _, steps, _, _ in history))

    def update_rows():
        nonlocal next_id
        for milestone_id, team_id, steps, start, final_state in history:
            previous, previous_state = 0, MilestoneState.PLANNED
            for n, percent in enumerate(steps):
                state = final_state if n == len(steps) - 1 else MilestoneState.IN_PROGRESS
                at = _at(start + datetime.timedelta(days=20 * (n + 1)), 9)
                yield (
                    next_id, milestone_id, percent, state, previous, previous_state, f"Progress report {n + 1}.",
                    "", author[team_id], None, at, at,
                )  # fmt: skip
                next_id += 1
                previous, previous_state = percent, state

    updates.write(update_rows())


def _kpis_write(plan, goals, count, rng, author, stamp, progress) -> None:
    columns = [
        "id", "plan_id", "goal_id", "owner_team_id", "code", "name", "unit", "direction", "baseline_value",
        "baseline_date", "target_value", "target_date", "min_value", "max_value", "frequency", "weight",
        "source_note", "forecast_value", "forecast_low", "forecast_high", "latest_value", "latest_date", "stale",
        "source", "external_id", "status", "score", "progress", "computed_at", "explanation", "version",
        "created_at", "updated_at",
    ]  # fmt: skip
    kpis = _Writer(KPI, columns, progress)
    first = kpis.reserve(count)
    series = []  # (kpi id, team, baseline, target, low, high)
    rows = []
    for i in range(count):
        goal = goals[i % len(goals)]
        unit, low, high = UNITS[i % len(UNITS)]
        baseline = round(rng.uniform(20, 60), 2)
        decrease = i % 7 == 6
        change = round(baseline * rng.uniform(0.05, 0.3), 2)
        target = round(baseline - change if decrease else baseline + change, 2)
        frequency = Frequency.MONTHLY if i % 2 == 0 else Frequency.QUARTERLY
        series.append((first + i, goal.owner_team_id, baseline, target, low, high))
        rows.append((
            first + i, plan.pk, goal.pk, goal.owner_team_id, f"K{i + 1:06d}", f"Indicator {i + 1}", unit,
            Direction.DECREASE if decrease else Direction.INCREASE, baseline, BASELINE_DATE, target, TARGET_DATE,
            low, high, frequency, Decimal("1.00"), "Generated figures.", None, None, None, None, None, False,
            "", "", "", None, None, None, None, 1, stamp, stamp,
        ))  # fmt: skip
    kpis.write(rows)

    measurement_columns = [
        "id", "kpi_id", "date", "value", "note", "source", "recorded_by_id", "recorded_by_token_id", "recorded_at",
        "external_id", "version", "created_at", "updated_at",
    ]  # fmt: skip
    revision_columns = [
        "id", "measurement_id", "previous_value", "value", "note", "author_id", "author_token_id", "created_at",
    ]  # fmt: skip
    measurements = _Writer(Measurement, measurement_columns, progress)
    revisions = _Writer(MeasurementRevision, revision_columns, progress)
    total = count * MEASUREMENTS_PER_KPI
    first_measurement, first_revision = measurements.reserve(total), revisions.reserve(total)
    days = [FIRST_DAY + datetime.timedelta(days=n) for n in range(365)]
    # The values of every KPI, drawn once, so the measurements and their revisions agree.
    values = []
    for _kpi_id, _team, baseline, target, low, high in series:
        pace = rng.uniform(0.5, 1.2)  # some KPIs run ahead of their plan, most behind
        picked = sorted(rng.sample(range(365), MEASUREMENTS_PER_KPI))
        kpi_values = []
        for n in picked:
            value = baseline + (target - baseline) * pace * (n + 1) / 365 + rng.gauss(0, abs(target - baseline) * 0.02)
            value = min(max(value, low if low is not None else value), high if high is not None else value)
            kpi_values.append((days[n], round(value, 4)))
        values.append(kpi_values)

    def measurement_rows():
        m_id = first_measurement
        for (kpi_id, team_id, *_), kpi_values in zip(series, values, strict=True):
            for day, value in kpi_values:
                at = _at(day, 10)
                yield m_id, kpi_id, day, value, "", MeasurementSource.IMPORT, author[team_id], None, at, "", 1, at, at
                m_id += 1

    def revision_rows():
        m_id = first_measurement
        for (_kpi_id, team_id, *_), kpi_values in zip(series, values, strict=True):
            for day, value in kpi_values:
                yield (
                    first_revision + m_id - first_measurement,
                    m_id,
                    None,
                    value,
                    "",
                    author[team_id],
                    None,
                    _at(day, 10),
                )
                m_id += 1

    measurements.write(measurement_rows())
    revisions.write(revision_rows())


def scale_plan_rows(sizes: Sizes) -> int:
    """Rows the plan's tables get, for a progress bar's total (milestone updates estimated at two each)."""
    return sizes.milestones * 3 + sizes.kpis + 2 * sizes.measurements
