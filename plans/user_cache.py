"""The signed-in user, its role, teams and reporting units kept in the cache, so a warm page reads no row.

``CachedModelBackend.get_user`` (what AuthenticationMiddleware asks for every request's user) reads one cache
entry per user: the user row, whether it is a manager, its team ids and its reporting-unit ids. The entry is
kept with a version, and used only while that version is the current one; the version is two counters in the
cache, one per user and one for everybody, moved by signals whenever what the entry holds may change:

- a save or delete of the user (deactivation, a new password, a new name);
- a change of its groups (the manager role), its teams or its reporting units, from either side (``m2m_changed``);
- a save or delete of any group, team or unit (a deleted team takes its memberships with it, without a
  membership signal), and a ``clear()`` from the team's, unit's or group's side: the counter for everybody.

Like the page generation (plans.page_generation) a counter moves at once and again when the transaction commits,
so a request that read the old rows in between keeps them under a version that is already retired. Entries expire
after ``TIMEOUT`` seconds, so a change made behind the signals' back (SQL by hand) shows within that time. When
the cache is down, the user is read from the database as Django's ModelBackend does.

The answers are put on the user object where plans.permissions looks for them (``_is_manager``, ``_team_ids``,
``_writable_team_ids``, ``_unit_scope``): that object lives for one request.
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction

from .failopen import Breaker, fail_open

ALL_VERSION_KEY = "user:version"
VERSION_KEY = "user:{pk}:version"
ENTRY_KEY = "user:{pk}"
TIMEOUT = 60
_breaker = Breaker(seconds=30)


def _bump(key: str) -> None:
    def bump():
        try:
            cache.incr(key)
        except ValueError:  # missing: start afresh from the clock, so a value never repeats
            cache.set(key, time.time_ns(), timeout=None)

    fail_open(bump, None, "user cache version not bumped", breaker=_breaker)


def _changed(key: str) -> None:
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def user_changed(pk) -> None:
    """What the entry of user ``pk`` holds changed in the current transaction."""
    _changed(VERSION_KEY.format(pk=pk))


def users_changed() -> None:
    """Something every user's entry may hold changed (a group, team or unit itself)."""
    _changed(ALL_VERSION_KEY)


def _version(found: dict, key: str):
    value = found.get(key)
    if value is None:
        cache.add(key, time.time_ns(), timeout=None)
        value = cache.get(key)
    return value


def _load(pk) -> dict:
    """The user row, then its manager group, teams and units in one query (kind 0, 1 and 2)."""
    from django.db.models import Value

    from .models import ReportingUnit, Team
    from .permissions import MANAGER

    user = get_user_model()._default_manager.filter(pk=pk).first()
    if user is None:
        return {"user": None}
    # order_by(): the models' default orderings are not allowed inside a UNION on SQLite.
    manager = user.groups.filter(name=MANAGER).order_by().values_list("id", Value(0))
    teams = Team.objects.filter(members=pk).order_by().values_list("id", Value(1))
    units = ReportingUnit.objects.filter(reporters=pk).order_by().values_list("id", Value(2))
    rows = list(manager.union(teams, units, all=True))
    return {
        "user": user,
        "manager": user.is_superuser or any(kind == 0 for _pk, kind in rows),
        "teams": frozenset(row_id for row_id, kind in rows if kind == 1),
        "units": frozenset(row_id for row_id, kind in rows if kind == 2),
    }


def user_entry(pk) -> dict | None:
    """The kept entry of user ``pk`` (read from the database and kept when not current); None when the cache
    cannot be read."""
    keys = (ALL_VERSION_KEY, VERSION_KEY.format(pk=pk), ENTRY_KEY.format(pk=pk))

    def read():
        found = cache.get_many(keys)
        return (_version(found, keys[0]), _version(found, keys[1])), found.get(keys[2])

    read_at = fail_open(read, None, "user not read", breaker=_breaker)
    if read_at is None:
        return None
    version, entry = read_at
    if entry is not None and entry["version"] == version:
        return entry
    entry = {"version": version, **_load(pk)}  # the versions were read first: a change in between retires it
    fail_open(lambda: cache.set(keys[2], entry, TIMEOUT), None, "user not kept", breaker=_breaker)
    return entry


def _scopes_put(user, entry: dict) -> None:
    user._is_manager = entry["manager"]
    user._team_ids = set(entry["teams"])
    user._writable_team_ids = None if entry["manager"] else set(entry["teams"])
    user._unit_scope = None if entry["manager"] else (entry["units"] or None)


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend, with the user of a session (and its role, teams and units) read from the cache."""

    def get_user(self, user_id):
        entry = user_entry(user_id)
        if entry is None:
            return super().get_user(user_id)
        user = entry["user"]
        if user is None or not self.user_can_authenticate(user):
            return None
        _scopes_put(user, entry)
        return user


def _user_saved(sender, instance=None, **kwargs) -> None:
    user_changed(instance.pk)


def _everyone(sender, **kwargs) -> None:
    users_changed()


def _membership_changed(sender, instance=None, action="", reverse=False, pk_set=None, **kwargs) -> None:
    """A user's groups, teams or units changed: from the user's side ``instance`` is the user; from the other,
    ``pk_set`` holds the users (None on ``clear()``: every user's entry is retired)."""
    if not action.startswith("post_"):
        return
    if isinstance(instance, get_user_model()):
        user_changed(instance.pk)
    elif pk_set is None:
        users_changed()
    else:
        for pk in pk_set:
            user_changed(pk)


def connect_signals() -> None:
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from .models import ReportingUnit, Team

    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="user-cache-save")
    post_delete.connect(_user_saved, sender=user_model, dispatch_uid="user-cache-delete")
    for model in (Group, Team, ReportingUnit):
        post_save.connect(_everyone, sender=model, dispatch_uid=f"user-cache-save-{model.__name__}")
        post_delete.connect(_everyone, sender=model, dispatch_uid=f"user-cache-delete-{model.__name__}")
    for through in (user_model.groups.through, Team.members.through, ReportingUnit.reporters.through):
        m2m_changed.connect(_membership_changed, sender=through, dispatch_uid=f"user-cache-m2m-{through.__name__}")
