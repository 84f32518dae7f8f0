"""What changed in a plan: since the reader's last visit to this page, or since a date they pick.

Which statuses moved (now against the latest snapshot kept on or before the date: statuses are kept for month
ends, plans.models.StatusSnapshot) and which figures and milestone progress came in. Not cached: it depends on
the reader's last visit, which reading it moves forward (plans.services.plan_visit_record).
"""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .. import selectors, services
from ..dates import month_ends_between
from .dashboard import AsOf, page_context

# Rows of each list; the page says when there are more.
CHANGE_ROWS = 100
ONE_DAY = datetime.timedelta(days=1)


def _since_read(raw: str, *, plan, today: datetime.date) -> tuple[datetime.date | None, str]:
    """``?since=YYYY-MM-DD`` as a day, or the message that says why it was refused."""
    bounds = {"start": date_format(plan.start_date, "DATE_FORMAT"), "end": date_format(today, "DATE_FORMAT")}
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError:
        return None, _("“%(value)s” is not a date. Enter one as YYYY-MM-DD, from %(start)s to %(end)s.") % {
            "value": raw,
            **bounds,
        }
    if not plan.start_date <= day <= today:
        return None, _("%(day)s is outside the dates this plan can show. Pick one from %(start)s to %(end)s.") % {
            "day": date_format(day, "DATE_FORMAT"),
            **bounds,
        }
    return day, ""


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@login_required
@require_safe
def plan_changes(request, slug):
    plan = selectors.dashboard_plan_get(slug=slug)
    now, today = timezone.now(), timezone.localdate()
    raw = request.GET.get("since", "").strip()
    last_visit = services.plan_visit_record(user=request.user, plan=plan, at=now)
    picked, error = _since_read(raw, plan=plan, today=today) if raw else (None, "")
    if picked:
        since, reason = _start_of(picked), "picked"
    elif last_visit:
        since, reason = last_visit, "visit"
    else:  # a first visit: since the last month end before today
        ends = month_ends_between(plan.start_date, today - ONE_DAY)
        since, reason = _start_of(ends[-1] if ends else plan.start_date), "first"
    since_day = timezone.localtime(since).date()
    # Today's snapshot is the latest recompute's (it moves with every one): compare with a day before it.
    kept = selectors.plan_snapshot_days(plan_id=plan.pk, among=[], latest_by=min(since_day, today - ONE_DAY))
    compared = kept[-1] if kept else None
    moves = selectors.plan_status_moves(plan_id=plan.pk, day=compared, limit=CHANGE_ROWS) if compared else []
    figures, progress = selectors.plan_figures_since(plan_id=plan.pk, since=since, limit=CHANGE_ROWS)
    context = page_context(request, plan, AsOf()) | {
        "title": _("What changed"),
        "since": since,
        "since_day": since_day,
        "reason": reason,
        "error": error,
        "raw": raw,
        "compared": compared,
        "moves": moves,
        "figures": figures,
        "progress": progress,
        "row_limit": CHANGE_ROWS,
        "plan_status_was": selectors.plan_snapshot_get(plan_id=plan.pk, as_of=compared) if compared else None,
    }
    return render(request, "plans/dashboard/changes.html", context)
