"""A plan's tallies: its items counted by status and its KPIs' final figures, kept on the plan as a read model.

The dashboards' status tiles and every plan page's closure banner show these counts. Counted live they are
aggregates over all of a plan's items (11 ms at national scale 10 for the tiles, 4 ms for the banner, on every
cold page), so each recompute that writes the current statuses, whole-plan or incremental, counts them once in
its own transaction and stores them on the plan (``Plan.tallies``) with the revision they were counted at. The
pages read them while that revision is the plan's current one (its statuses are up to date and no write has
come in since); otherwise they count live, as before. A write that changes what is counted (a new or deleted
item, a status) moves ``data_revision`` first, so stored tallies are never read stale.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, F, Q, Value

from .choices import ItemType, Status
from .models import KPI, FocusArea, Goal, Milestone, Plan

COUNTED = (
    (FocusArea, ItemType.FOCUS_AREA),
    (Goal, ItemType.GOAL),
    (KPI, ItemType.KPI),
    (Milestone, ItemType.MILESTONE),
)
CLOSURE_FIELDS = ("kpi_count", "final_n", "achieved", "missed")


def status_counts_live(plan_id: int) -> list[dict]:
    """``[{"item_type", "status", "n"}]`` for focus areas, goals, KPIs and milestones, in one query."""
    parts = [
        model.objects.filter(plan_id=plan_id)
        .values("status")
        .annotate(item_type=Value(str(item_type)), n=Count("*"))  # COUNT(*): the (plan, status) index alone
        .values("item_type", "status", "n")
        .order_by()
        for model, item_type in COUNTED
    ]
    return list(parts[0].union(*parts[1:], all=True))


def closure_counts_live(plan_ids) -> dict[int, dict]:
    """``{plan id: {"kpi_count", "final_n", "achieved", "missed"}}``, in one query whatever the number of plans.

    Read from what the recompute stored on each KPI: a final figure is in when the latest figure its status was
    computed from is dated on or after its target date (KPI rule 3), so the banner counts exactly the figures the
    statuses beside it were computed from. A plan without KPIs has no entry.
    """
    final_in = Q(latest_date__isnull=False, latest_date__gte=F("target_date"))
    # Counted over the status column (never null), not the ids: the KPIs' (plan, status, latest date, target date)
    # index answers it alone.
    rows = (
        KPI.objects.filter(plan_id__in=plan_ids)
        .values("plan_id")
        .order_by()
        .annotate(
            kpi_count=Count("status"),
            final_n=Count("status", filter=final_in),
            achieved=Count("status", filter=final_in & Q(status=Status.ACHIEVED)),
            missed=Count("status", filter=final_in & Q(status=Status.MISSED)),
        )
    )
    return {row.pop("plan_id"): row for row in rows}


def final_in(kpi) -> bool:
    """Whether the KPI's final figure is in, as ``closure_counts_live`` counts it: its latest figure counted is dated
    on or after its target date."""
    return kpi.latest_date is not None and kpi.latest_date >= kpi.target_date


def tallies_shifted(tallies: dict, revision: int, moves) -> dict | None:
    """``tallies`` once some items changed what they count, tagged with ``revision``; None when they come out
    inconsistent (a count below zero), to be counted instead.

    ``moves`` yields (item type, (status, final figure in) before, the same after) for each item that may have
    changed; the final figure counts for KPIs only. The incremental update shifts the tallies of a batch of
    figures so rather than count the plan's rows again (0.2 s at national scale 10, where the rows just rewritten
    are no longer visible from the indexes alone)."""
    counts = Counter({(item_type, status): n for item_type, status, n in tallies["counts"]})
    closure = list(tallies["closure"])
    for item_type, before, after in moves:
        if before == after:
            continue
        for sign, (status, final) in ((-1, before), (1, after)):
            counts[(item_type, status)] += sign
            if final:
                closure[1] += sign
                closure[2] += sign if status == Status.ACHIEVED else 0
                closure[3] += sign if status == Status.MISSED else 0
    if min(counts.values(), default=0) < 0 or min(closure) < 0:
        return None
    return {
        "revision": revision,
        "counts": [[item_type, status, n] for (item_type, status), n in counts.items() if n],
        "closure": closure,
    }


def tallies_count(plan: Plan) -> dict:
    """The plan's tallies as its statuses now stand in the database, tagged with its ``computed_revision``: what a
    recompute stores, in its own transaction, once it has written the statuses."""
    closure = closure_counts_live([plan.pk]).get(plan.pk, {})
    return {
        "revision": plan.computed_revision,
        "counts": [[row["item_type"], row["status"], row["n"]] for row in status_counts_live(plan.pk)],
        "closure": [closure.get(name, 0) for name in CLOSURE_FIELDS],
    }


def tallies_current(plan: Plan) -> dict | None:
    """The stored tallies when they count the plan as it is now, else None (count live).

    They are current when counted at the plan's latest revision: its statuses are up to date and nothing was
    written since. A plan loaded without the field (``only``/``defer``) reads None rather than a query.
    """
    if "tallies" in plan.get_deferred_fields():
        return None
    tallies = plan.tallies
    if not tallies or plan.data_revision != plan.computed_revision or tallies.get("revision") != plan.data_revision:
        return None
    return tallies


def status_counts(plan: Plan) -> list[dict]:
    """``status_counts_live`` of the plan, from its stored tallies while they are current."""
    tallies = tallies_current(plan)
    if tallies is None:
        return status_counts_live(plan.pk)
    return [{"item_type": item_type, "status": status, "n": n} for item_type, status, n in tallies["counts"]]


def closure_counts(plans) -> dict[int, dict]:
    """``closure_counts_live`` of ``plans``, from their stored tallies while they are current; one query for the
    plans whose tallies are not."""
    counts, live = {}, []
    for plan in plans:
        tallies = tallies_current(plan)
        if tallies is None:
            live.append(plan.pk)
        elif tallies["closure"][0]:  # as live: a plan without KPIs has no entry
            counts[plan.pk] = dict(zip(CLOSURE_FIELDS, tallies["closure"], strict=True))
    if live:
        counts |= closure_counts_live(live)
    return counts


def stored_totals(plan: Plan) -> dict[str, dict[str, int]] | None:
    """``{item type: {status: n}}`` from the plan's stored tallies while they are current, else None: what a page
    needs to count its unfiltered tables without counting the plan's rows."""
    tallies = tallies_current(plan)
    if tallies is None:
        return None
    totals: dict[str, dict[str, int]] = {}
    for item_type, status, n in tallies["counts"]:
        totals.setdefault(item_type, {})[status] = n
    return totals
