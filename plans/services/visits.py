"""A user's last read of what changed in a plan (plans.models.PlanVisit). Not a change of the plan: no recompute."""

import datetime

from django.db import transaction

from ..models import Plan, PlanVisit


@transaction.atomic
def plan_visit_record(*, user, plan: Plan, at: datetime.datetime) -> datetime.datetime | None:
    """Keep ``at`` as the user's last visit to ``plan``; return the visit before it (None on the first)."""
    visit = PlanVisit.objects.select_for_update().filter(user=user, plan=plan).first()
    if visit is None:
        visit = PlanVisit(user=user, plan=plan, visited_at=at)
        visit.full_clean(validate_constraints=False)  # the unique constraint is the database's to enforce
        visit.save()
        return None
    previous = visit.visited_at
    visit.visited_at = max(at, previous)
    visit.save(update_fields=["visited_at"])
    return previous
