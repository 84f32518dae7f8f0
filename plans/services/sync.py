"""Tombstones: what a delete leaves behind for each deleted row, so syncing clients learn about it."""

from django.utils import timezone

from ..models import KPI, Measurement, Milestone, MilestoneUpdate, Tombstone


def _tombstones_create(resource: str, rows, *, deleted_by=None) -> None:
    """``rows`` are (id, plan_id, source, external_id) tuples of rows about to be deleted."""
    now = timezone.now()
    Tombstone.objects.bulk_create(
        [
            Tombstone(
                resource=resource,
                item_id=item_id,
                plan_id=plan_id,
                source=source or "",
                external_id=external_id or "",
                deleted_by=deleted_by,
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
