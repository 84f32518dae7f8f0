"""A user's last read of what changed in a plan (plans.models.PlanVisit). Not a change of the plan: no recompute."""

import datetime

from django.db import transaction

from ..models import Plan, PlanVisit


@transaction.atomic
def plan_visit_record(*, user, plan: Plan, at: datetime.datetime) -> datetime.datetime | None:
    """Keep ``at`` as the user's last visit to ``plan``; return the visit before it (None on the first).

    Two first visits at once (two tabs) meet on the unique constraint: get_or_create reads the winner's row.
    """
    visit, created = PlanVisit.objects.get_or_create(user=user, plan=plan, defaults={"visited_at": at})
    if created:
        return None
    PlanVisit.objects.filter(pk=visit.pk, visited_at__lt=at).update(visited_at=at)  # never moves back
    return visit.visited_at
