"""Tombstones: what a delete leaves behind for each deleted row, so syncing clients learn about it.

Every resource the API lists gets one, under its route name (``plans``, ``focus-areas``, ``teams``...),
for the deleted row and for every listed row the delete cascades to.
"""

from django.utils import timezone

from ..models import KPI, FocusArea, Goal, Measurement, Milestone, MilestoneUpdate, Tombstone
from .history import author_split


def _tombstones_create(resource: str, rows, *, deleted_by=None) -> None:
    """``rows`` are (id, plan_id, source, external_id) tuples of rows about to be deleted.

    ``deleted_by`` is the author of the delete: a user or an API token.
    """
    now = timezone.now()
    user, token = author_split(deleted_by)
    Tombstone.objects.bulk_create(
        [
            Tombstone(
                resource=resource,
                item_id=item_id,
                plan_id=plan_id,
                source=source or "",
                external_id=external_id or "",
                deleted_by=user,
                deleted_by_token=token,
                deleted_at=now,
            )
            for item_id, plan_id, source, external_id in rows
        ],
        batch_size=1000,
    )


def _tombstones_for_kpis(kpis, *, deleted_by=None) -> None:
    _tombstones_create(
        "measurements",
        Measurement.objects.filter(kpi__in=kpis).values_list("id", "kpi__plan_id", "source", "external_id"),
        deleted_by=deleted_by,
    )
    _tombstones_create("kpis", kpis.values_list("id", "plan_id", "source", "external_id"), deleted_by=deleted_by)


def _tombstones_for_milestones(milestones, *, deleted_by=None) -> None:
    _tombstones_create(
        "milestone-updates",
        [
            (item_id, plan_id, "", "")
            for item_id, plan_id in MilestoneUpdate.objects.filter(milestone__in=milestones).values_list(
                "id", "milestone__plan_id"
            )
        ],
        deleted_by=deleted_by,
    )
    _tombstones_create(
        "milestones", milestones.values_list("id", "plan_id", "source", "external_id"), deleted_by=deleted_by
    )


def _tombstones_for_goals(goals, *, deleted_by=None) -> None:
    _tombstones_for_kpis(KPI.objects.filter(goal__in=goals), deleted_by=deleted_by)
    _tombstones_for_milestones(Milestone.objects.filter(goal__in=goals), deleted_by=deleted_by)
    _tombstones_create("goals", goals.values_list("id", "plan_id", "source", "external_id"), deleted_by=deleted_by)


def _tombstones_for_focus_areas(focus_areas, *, deleted_by=None) -> None:
    _tombstones_for_goals(Goal.objects.filter(focus_area__in=focus_areas), deleted_by=deleted_by)
    _tombstones_create(
        "focus-areas",
        [(item_id, plan_id, "", "") for item_id, plan_id in focus_areas.values_list("id", "plan_id")],
        deleted_by=deleted_by,
    )


def _tombstones_for_plans(plans, *, deleted_by=None) -> None:
    _tombstones_for_focus_areas(FocusArea.objects.filter(plan__in=plans), deleted_by=deleted_by)
    _tombstones_create(
        "plans", [(item_id, item_id, "", "") for item_id in plans.values_list("id", flat=True)], deleted_by=deleted_by
    )


def _tombstones_for_teams(teams, *, deleted_by=None) -> None:
    """Teams belong to no plan; a team that owns items cannot be deleted, so nothing cascades."""
    _tombstones_create(
        "teams", [(item_id, None, "", "") for item_id in teams.values_list("id", flat=True)], deleted_by=deleted_by
    )
