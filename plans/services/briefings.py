"""The monthly PDF briefing e-mailed to the managers (``plans.tasks.send_briefings``, on the 1st of each month).

For each plan whose period overlaps the month just ended, every active manager with an e-mail address gets the
briefing as of that month end (plans.briefing), in their language, as a PDF attachment. Once per plan and
month: the run claims the plan's ``BriefingSent`` row in a transaction, sends, and commits after the SMTP server
accepted every message. A failed send rolls the claim back, so the next run (the task's retry) sends that plan
again: nothing is lost, though a manager whose message went before the failure gets it twice. A second run, or a
concurrent one, finds the row (it waits on the unique index while the first run's transaction is open) and
sends nothing.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ..briefing import Briefing, briefing_gather, briefing_pdf, plans_to_brief, previous_month_end
from ..models import BriefingSent, Plan
from ..permissions import MANAGER
from .reminders import recipient_language

logger = logging.getLogger(__name__)


@dataclass
class BriefingsResult:
    plans: int = 0  # plans whose briefing went out in this run
    messages: int = 0
    already_sent: int = 0
    failed: int = 0


def _managers() -> list:
    User = get_user_model()
    return list(
        User.objects.filter(Q(groups__name=MANAGER) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def _message(*, briefing: Briefing, pdf: bytes, user) -> mail.EmailMultiAlternatives:
    """One manager's e-mail, in the active language, with the PDF attached."""
    plan = briefing.plan
    month = date_format(briefing.reference, "YEAR_MONTH_FORMAT")
    subject = _("Briefing for %(month)s: %(plan)s") % {"month": month, "plan": plan.tr.name}
    link = settings.TRACKER_SITE_URL.rstrip("/") + reverse("plans:dashboard", args=[plan.slug])
    if briefing.as_of:
        link += f"?as_of={briefing.as_of.isoformat()}"
    context = {"user": user, "briefing": briefing, "plan": plan, "month": month, "subject": subject, "link": link}
    message = mail.EmailMultiAlternatives(
        subject=subject, body=render_to_string("emails/briefing.txt", context), to=[user.email]
    )
    message.attach_alternative(render_to_string("emails/briefing.html", context), "text/html")
    message.attach(briefing.filename, pdf, "application/pdf")
    return message


def _plan_send(*, plan: Plan, month_end: datetime.date, today: datetime.date, managers: list, smtp) -> int | None:
    """Send ``plan``'s briefing for ``month_end`` to ``managers``; the number of messages, or None if already sent."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                claim = BriefingSent.objects.create(plan=plan, period_end=month_end, recipients=len(managers))
        except IntegrityError:
            return None
        rendered: dict[str, tuple[Briefing, bytes]] = {}
        messages = []
        for user in managers:
            language = recipient_language(user)
            with translation.override(language):
                if language not in rendered:
                    briefing = briefing_gather(plan=plan, asked=month_end, today=today)
                    rendered[language] = (briefing, briefing_pdf(briefing))
                briefing, pdf = rendered[language]
                messages.append(_message(briefing=briefing, pdf=pdf, user=user))
        for message in messages:
            message.connection = smtp
            message.send()  # raises: the claim rolls back and the next run sends this plan again
        return claim.recipients


def briefings_send(*, today: datetime.date | None = None) -> BriefingsResult:
    """Send the briefings of the month that ended before ``today`` (see the module docstring)."""
    today = today or timezone.localdate()
    month_end = previous_month_end(today)
    result = BriefingsResult()
    managers = _managers()
    if not managers:
        return result
    smtp = mail.get_connection()
    try:
        for plan in plans_to_brief(month_end=month_end):
            try:
                sent = _plan_send(plan=plan, month_end=month_end, today=today, managers=managers, smtp=smtp)
            except Exception:
                # The mail server's failure or ours (no status to brief, no PDF renderer): retried by the next run.
                logger.exception("Briefing of plan %s for %s not sent; the next run retries it", plan.pk, month_end)
                result.failed += 1
                continue
            if sent is None:
                result.already_sent += 1
            else:
                result.plans += 1
                result.messages += sent
    finally:
        smtp.close()
    return result
