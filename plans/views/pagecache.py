"""Rendered page bodies kept in Django's cache (Redis with REDIS_URL), keyed by everything they show.

A page body is the part of a page below the site header: the header carries the viewer's name, the
sign-out form's CSRF token and the flash messages, so it is rendered for every request around the
cached body (``plans/_cached_page.html``). The key of a body holds

- the view, the plan's slug and the item, the language, the query string (filters, as-of date, page numbers)
  and today's date (statuses read against it: forecasts or final figures, "due in n days");
- for the pages that differ by viewer, what they depend on (role and writable teams, or the user).

A body is kept with its token: the generation (plans.page_generation, moved by every change a page can show)
and the facts of its plan (``plan_facts``: id and creation time, since ids come back after a database reset;
``computed_revision`` and ``computed_at``, moved by every recompute; ``data_revision``, moved by every write,
definitions included; the recompute failures; whether the statuses are more than a day old). The facts of a
plan are kept too, under its slug, with the generation they were read at. So a warm page is one cache round
trip (the generation, the plan's facts and the body, read together) and no query: a body is served only while
its token is the current one. The facts are read again from the database when the generation has moved, when
the statuses turn a day old, and at least every ``FACTS_MAX_AGE`` seconds, so that a change made behind the
services' back (SQL by hand, a restored database) shows within that time. Old bodies expire after ``TIMEOUT``.
When the cache is down, pages are rendered as if nothing were cached (plans.failopen).
"""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .. import selectors
from ..choices import PlanState
from ..failopen import Breaker, fail_open
from ..page_generation import GENERATION_KEY, generation, generation_bump
from ..permissions import is_manager, unit_scope, writable_team_ids
from ..recompute import STATUSES_STALE_AFTER
from .frame import frame_key, framed_response

TIMEOUT = 6 * 60 * 60
# Plan facts older than this are read again from the database, whatever the generation says.
FACTS_MAX_AGE = 30
PLAN_FACTS_KEY = "pages:plan:{slug}"
ALL_PLANS_FACTS_KEY = "pages:plans"
# Bump when the shape of a cached body changes in a way a template edit alone would not show.
FORMAT = 2
_breaker = Breaker(seconds=30)


def plan_facts(plan) -> tuple:
    """What about a plan changes when anything its pages show changes."""
    stale = bool(plan.computed_at and plan.computed_at < timezone.now() - STATUSES_STALE_AFTER)
    computed_at = plan.computed_at.isoformat() if plan.computed_at else ""
    failed_at = plan.recompute_failed_at.isoformat() if plan.recompute_failed_at else ""
    return (
        plan.pk,
        plan.created_at.isoformat(),
        plan.data_revision,
        plan.computed_revision,
        computed_at,
        stale,
        plan.recompute_failures,
        failed_at,
    )


def _stale_at(plans) -> float:
    """When the first of ``plans`` whose statuses are not yet a day old will be (the banner that says so)."""
    moments = [
        (plan.computed_at + STATUSES_STALE_AFTER).timestamp()
        for plan in plans
        if plan.computed_at and plan.computed_at + STATUSES_STALE_AFTER > timezone.now()
    ]
    return min(moments, default=float("inf"))


def _facts_entry(plans, **shown) -> dict:
    return {
        "facts": tuple(plan_facts(plan) for plan in plans),
        "valid_until": min(time.time() + FACTS_MAX_AGE, _stale_at(plans)),
        **shown,
    }


def _current_facts(key: str, generation_read, entry, load) -> dict:
    """``entry`` when it was kept at ``generation_read`` and is not too old; else ``load()``, kept under ``key``.

    The generation was read before ``load`` reads the rows: a write that commits in between moves the
    generation past the one this entry is kept with.
    """
    if (
        entry is not None
        and generation_read is not None
        and entry["generation"] == generation_read
        and time.time() < entry["valid_until"]
    ):
        return entry
    entry = {"generation": generation_read, **load()}
    if generation_read is not None:
        _keep(key, entry)
    return entry


def viewer_facts(user) -> tuple:
    """The permission-relevant facts of the viewer: the teams it may write, None for a manager (every team).

    The role is in it (what ``plans.permissions.can_update`` reads), and the answer is kept on the user.
    """
    teams = writable_team_ids(user)
    # A zone reporter records figures on every aggregating KPI: their pages differ from staff with the same teams.
    zone = ("zone",) if unit_scope(user) is not None else ()
    return ("all",) if teams is None else ("teams", *sorted(teams), *zone)


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
            facts,
        )
    )
    return "page:" + hashlib.sha256(raw.encode()).hexdigest()


def _read(*keys) -> tuple:
    """The generation and ``keys`` in one round trip (Nones when the cache is down)."""
    found = fail_open(lambda: cache.get_many([GENERATION_KEY, *keys]), None, "page not read", breaker=_breaker)
    if found is None:
        return (None,) * (1 + len(keys))
    generation_read = found.get(GENERATION_KEY)
    if generation_read is None:
        generation_read = generation()  # a flushed or evicted generation starts again
    return (generation_read, *(found.get(key) for key in keys))


def _keep(key: str, value, timeout: int = TIMEOUT) -> None:
    fail_open(lambda: cache.set(key, value, timeout), None, "page not kept", breaker=_breaker)


def cached_page(
    request,
    *,
    key: str,
    generation_read,
    facts: tuple,
    stored,
    build,
    template: str,
    plan=None,
    status: int = 200,
    fragment: bool = False,
    stored_frame=None,
):
    """The page: its body as ``stored`` when that was kept under the current token (``generation_read`` and
    ``facts``), or rendered from ``build()`` (``(title, context)``) and kept.

    ``build`` runs only on a miss, so a warm page costs the one cache read, which also brought its frame
    (``stored_frame``, plans.views.frame), and no template. ``fragment``: the body alone, without the site around
    it (a panel a page fetches).
    """
    token = (generation_read, facts)
    if stored is not None and generation_read is not None and stored["token"] == token:
        page = stored
    else:
        title, context = build()
        page = {"token": token, "title": str(title), "body": render_to_string(template, context, request=request)}
        if generation_read is not None:
            _keep(key, page)
    if fragment:
        return HttpResponse(page["body"], status=status)
    keep = (lambda frame: _keep(frame_key(key, request), frame)) if generation_read is not None else None
    return framed_response(request, page=page, plan=plan, stored=stored_frame, keep=keep, status=status)


def plan_page(
    request, slug: str, page: str, build, *, item="", per_viewer: bool = False, fragment: bool = False, extra_facts=()
):
    """A page under a plan's dashboard, ``plans/dashboard/<page>.html``; ``build(plan)`` gives its title and context.

    ``per_viewer``: the page shows what the viewer may do (the update link), so its writable teams are in the key.
    ``extra_facts``: more of the viewer the body depends on (the zone sections: the units it may see).
    The plan's row is read only when its kept facts are not current, or to render a page that is not kept.
    """
    key = page_key(request, f"{page}:{slug}:{item}", viewer_facts(request.user) if per_viewer else None, *extra_facts)
    # A fragment (a panel a page fetches) has no frame around it: its frame is not read.
    frame = () if fragment else (frame_key(key, request),)
    generation_read, entry, stored, *stored_frame = _read(PLAN_FACTS_KEY.format(slug=slug), key, *frame)
    loaded = []

    def plan():
        if not loaded:
            loaded.append(selectors.dashboard_plan_get(slug=slug))
        return loaded[0]

    entry = _current_facts(
        PLAN_FACTS_KEY.format(slug=slug),
        generation_read,
        entry,
        lambda: _facts_entry([plan()], name=plan().name, state=plan().state),
    )
    if entry.get("state") == PlanState.DRAFT and not is_manager(request.user):
        raise Http404  # a draft is seen by managers only
    return cached_page(
        request,
        key=key,
        generation_read=generation_read,
        facts=entry["facts"],
        stored=stored,
        build=lambda: build(plan()),
        template=f"plans/dashboard/{page}.html",
        plan={"name": entry["name"]},  # what the site around the body shows of it
        fragment=fragment,
        stored_frame=stored_frame[0] if stored_frame else None,
    )


def all_plans_page(request, *, view: str, viewer: tuple, build, template: str):
    """A page that shows items of every plan (My work): kept under the facts of every plan, read in one query
    when they are not current."""
    key = page_key(request, view, viewer)
    generation_read, entry, stored, stored_frame = _read(ALL_PLANS_FACTS_KEY, key, frame_key(key, request))
    entry = _current_facts(
        ALL_PLANS_FACTS_KEY, generation_read, entry, lambda: _facts_entry(list(selectors.plan_revision_list()))
    )
    return cached_page(
        request,
        key=key,
        generation_read=generation_read,
        facts=entry["facts"],
        stored=stored,
        build=build,
        template=template,
        stored_frame=stored_frame,
    )


def _names_changed(sender, instance=None, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every sign-in saves the user: its name is unchanged
    generation_bump()


def connect_signals() -> None:
    """Plans, teams and users: any saved or deleted row bumps the generation.

    Teams and users are shown by name on many pages but belong to no plan; signals, not the team services
    alone, because the admin's user pages write users and memberships too. A plan row is saved by the admin,
    the import and the factories, besides the services that move its revisions.
    """
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from ..models import Plan, ReportingUnit, Team

    # Reporting units: their names show on the zone sections, which belong to no plan's revisions either.
    for model in (Plan, Team, get_user_model(), ReportingUnit):
        post_save.connect(_names_changed, sender=model, dispatch_uid=f"pagecache-save-{model.__name__}")
        post_delete.connect(_names_changed, sender=model, dispatch_uid=f"pagecache-delete-{model.__name__}")
