"""The site around a kept page body (header, language switch, footer), kept too, so that a warm page renders no
template: its response is the kept frame around the kept body.

A frame is what ``plans/_cached_page.html`` renders around a body. It shows the viewer (name, role, the unread
count of the notification badge), the language, the path (the language switch returns to it, the menu marks
it) and the page's title and plan, and each response's CSRF token, which is cut out when the frame is kept and
put back in every response (``get_token``: a fresh mask of the session's secret, what ``{% csrf_token %}``
writes). A frame is kept per viewer and page, with what it was rendered from (``_check``), and used only while
all of that is current; names and roles move the page generation (``pagecache.connect_signals``), which the
body's token holds. Flash messages are shown once: a response that carries any is rendered whole, never kept.
"""

from __future__ import annotations

import hashlib
import re

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ..context_processors import roles, unread_count

SHELL_TEMPLATE = "plans/_cached_page.html"
_BODY = "\x00page-body\x00"
_TOKEN = "\x00csrf-token\x00"
_TOKEN_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def frame_key(body_key: str, request) -> str:
    """The key of the viewer's frame of the page kept under ``body_key``."""
    raw = f"{body_key}:{request.user.pk}:{request.get_full_path()}"
    return "frame:" + hashlib.sha256(raw.encode()).hexdigest()


def _check(request, page: dict) -> tuple:
    """What the frame shows that its key does not hold: the body's token and title, and the viewer's role and
    unread count as the context processors give them to the template."""
    manager = roles(request).get("viewer_is_manager", False)
    return (page["token"], page["title"], bool(manager), unread_count(request), request.user.is_staff)


def framed_response(request, *, page: dict, plan, stored, keep, status: int = 200) -> HttpResponse:
    """``page`` (its title and body) inside the site: the ``stored`` frame when it is current, else rendered and,
    when the cache answers, given to ``keep`` (a function of the frame)."""
    context = {"plan": plan, "title": page["title"]}
    if len(get_messages(request)):
        return render(request, SHELL_TEMPLATE, {**context, "body": mark_safe(page["body"])}, status=status)  # noqa: S308
    check = _check(request, page)
    if stored is not None and stored["check"] == check:
        head, tail = stored["head"], stored["tail"]
    else:
        html = render_to_string(SHELL_TEMPLATE, {**context, "body": mark_safe(_BODY)}, request=request)  # noqa: S308
        head, tail = _TOKEN_VALUE.sub(rf"\g<1>{_TOKEN}\g<2>", html).split(_BODY)
        if keep is not None:
            keep({"check": check, "head": head, "tail": tail})
    token = get_token(request)
    return HttpResponse(head.replace(_TOKEN, token) + page["body"] + tail.replace(_TOKEN, token), status=status)
