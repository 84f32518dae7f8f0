"""Rendered page bodies kept in Django's cache (Redis with REDIS_URL), keyed by everything they show.

A page body is the part of a page below the site header: the header carries the viewer's name, the
sign-out form's CSRF token and the flash messages, so it is rendered for every request around the
cached body (``plans/_cached_page.html``). The key of a body holds

- the view, the language, the query string (filters, as-of date, page numbers) and today's date
  (statuses read against it: forecasts or final figures, "due in n days");
- per plan: its id and creation time (ids come back after a database reset), ``computed_revision``
  and ``computed_at`` (every recompute, also the nightly one that only moves dates), ``data_revision``
  (every write, definitions included: ``plan_mark_changed``, so the "being recomputed" banner and the
  logs show a write at once) and whether its statuses are more than a day old (the banner that says so);
- the generation: bumped when a team or a user is saved or deleted (their names show on many pages;
  ``connect_signals``);
- for the pages that differ by viewer, what they depend on (role and writable teams, or the user).

So any change that can alter a body changes its key; old bodies expire after ``TIMEOUT``. When the
cache is down, pages are rendered as if nothing were cached (plans.failopen).
"""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from .. import selectors
from ..failopen import Breaker, fail_open
from ..permissions import writable_team_ids
from ..recompute import STATUSES_STALE_AFTER

TIMEOUT = 6 * 60 * 60
GENERATION_KEY = "pages:generation"
SHELL_TEMPLATE = "plans/_cached_page.html"
# Bump when the shape of a cached body changes in a way a template edit alone would not show.
FORMAT = 1
_breaker = Breaker(seconds=30)


def _generation() -> int:
    """The current generation; a missing one starts at the clock, so it never repeats an evicted value."""
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        value = cache.get(GENERATION_KEY)
    return value


def generation_bump() -> None:
    """Invalidate every cached body (a team or a user changed: their names show on many pages)."""

    def bump():
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # missing: start afresh
            cache.set(GENERATION_KEY, time.time_ns(), timeout=None)

    fail_open(bump, None, "page cache generation not bumped")


def plan_facts(plan) -> tuple:
    """What about a plan changes when anything its pages show changes."""
    stale = bool(plan.computed_at and plan.computed_at < timezone.now() - STATUSES_STALE_AFTER)
    computed_at = plan.computed_at.isoformat() if plan.computed_at else ""
    return (plan.pk, plan.created_at.isoformat(), plan.data_revision, plan.computed_revision, computed_at, stale)


def viewer_facts(user) -> tuple:
    """The permission-relevant facts of the viewer: the teams it may write, None for a manager (every team).

    The role is in it (what ``plans.permissions.can_update`` reads), and the answer is kept on the user.
    """
    teams = writable_team_ids(user)
    return ("all",) if teams is None else ("teams", *sorted(teams))


@functools.cache
def _templates_digest() -> str:
    """A digest of the templates, read once per process: a deploy that changes one is not served old bodies."""
    digest = hashlib.sha256()
    for folder in settings.TEMPLATES[0]["DIRS"]:
        for path in sorted(Path(folder).rglob("*.html")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def page_key(request, view: str, *facts) -> str:
    query = sorted((name, sorted(values)) for name, values in request.GET.lists())
    raw = repr(
        (
            FORMAT,
            _templates_digest(),
            view,
            translation.get_language(),
            query,
            timezone.localdate().isoformat(),
            _generation(),
            facts,
        )
    )
    return "page:" + hashlib.sha256(raw.encode()).hexdigest()


def cached_page(request, *, view: str, facts: tuple, build, template: str, plan=None, status: int = 200):
    """The page: its body from the cache, or rendered from ``build()`` (``(title, context)``) and kept.

    ``build`` runs only on a miss, so a warm page costs the key's few reads and the site header.
    """
    key = fail_open(lambda: page_key(request, view, *facts), None, "page key not read", breaker=_breaker)
    page = fail_open(lambda: cache.get(key), None, "page not read", breaker=_breaker) if key else None
    if page is None:
        title, context = build()
        page = {"title": str(title), "body": render_to_string(template, context, request=request)}
        if key:
            fail_open(lambda: cache.set(key, page, TIMEOUT), None, "page not kept", breaker=_breaker)
    context = {"plan": plan, "title": page["title"], "body": mark_safe(page["body"])}  # noqa: S308 (our own render)
    return render(request, SHELL_TEMPLATE, context, status=status)


def plan_page(request, slug: str, page: str, build, *, item="", per_viewer: bool = False, extra_facts: tuple = ()):
    """A page under a plan's dashboard, ``plans/dashboard/<page>.html``; ``build(plan)`` gives its title and context.

    ``per_viewer``: the page shows what the viewer may do (the update link), so its writable teams are in the key.
    ``extra_facts``: more of the viewer the body depends on (the zone sections: the units it may see).
    """
    plan = selectors.dashboard_plan_get(slug=slug)
    facts = (plan_facts(plan), viewer_facts(request.user) if per_viewer else None, *extra_facts)
    template = f"plans/dashboard/{page}.html"
    return cached_page(
        request, view=f"{page}:{item}", facts=facts, build=lambda: build(plan), template=template, plan=plan
    )


def _names_changed(sender, instance=None, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every sign-in saves the user: its name is unchanged
    generation_bump()


def connect_signals() -> None:
    """Teams and users are shown by name on many pages but belong to no plan: any change bumps the generation.

    Signals, not the team services alone, because the admin's user pages write users and memberships too.
    """
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from ..models import ReportingUnit, Team

    # Reporting units: their names show on the zone sections, which belong to no plan's revisions either.
    for model in (Team, get_user_model(), ReportingUnit):
        post_save.connect(_names_changed, sender=model, dispatch_uid=f"pagecache-save-{model.__name__}")
        post_delete.connect(_names_changed, sender=model, dispatch_uid=f"pagecache-delete-{model.__name__}")
