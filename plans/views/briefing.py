"""The plan briefing as a PDF: ``/plans/<slug>/briefing.pdf?as_of=YYYY-MM-DD`` (plans.briefing).

Read access as for the dashboard (any signed-in user); the PDF is in the reader's language. A date that is
not a date, or one before the plan's first status, is refused with 400 and a page that says why; a server
without WeasyPrint's libraries answers 503 with a page that says the PDF cannot be made here.
"""

import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .. import selectors
from ..briefing import BriefingDateError, BriefingUnavailable, briefing_gather, briefing_pdf

ERROR_TEMPLATE = "plans/briefing/unavailable.html"


def _refusal(request, plan, message: str, status: int) -> HttpResponse:
    return render(request, ERROR_TEMPLATE, {"plan": plan, "message": message}, status=status)


@login_required
@require_safe
def plan_briefing_pdf(request, slug):
    plan = selectors.dashboard_plan_get(slug=slug)
    raw = request.GET.get("as_of", "").strip()
    try:
        asked = datetime.date.fromisoformat(raw) if raw else None
    except ValueError:
        message = _("“%(value)s” is not a date: give the as-of date as YYYY-MM-DD, for example 2025-06-30.") % {
            "value": raw
        }
        return _refusal(request, plan, message, 400)
    try:
        briefing = briefing_gather(plan=plan, asked=asked, today=timezone.localdate())
        pdf = briefing_pdf(briefing)
    except BriefingDateError as error:
        return _refusal(request, plan, str(error), 400)
    except BriefingUnavailable:
        message = _("The PDF briefing cannot be made on this server: its PDF renderer (WeasyPrint) is not installed.")
        return _refusal(request, plan, message, 503)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{briefing.filename}"'
    return response
