"""A per-process cache of what the API reads on every request (tokens, item details), emptied by every committed
change to the tables of the app and of its users.

Each of those tables has a statement-level trigger that notifies ``CHANNEL`` (PostgreSQL's NOTIFY, delivered
once the writing transaction commits, whichever process or tool wrote). Each web process listens on a connection
of its own, and before it serves anything from memory it takes in, without waiting, what has arrived there: any
notification empties its cache. So a read from memory reflects every change committed before the request came,
up to the time PostgreSQL takes to deliver a notification on the same host (well under a millisecond): a token
revoked in the admin is refused at once by every process, and a client that wrote through one process reads its
write through any other.

The cache is used only where that holds: on PostgreSQL, by reads in autocommit (inside a transaction a reader may
see its own uncommitted writes, and its notifications arrive only at its commit), while the listening connection
answers. A write through this process empties it too (``changed``, at the end of each unsafe request). Behind a
pooler in transaction mode LISTEN does not work: set ``API_READ_CACHE=False`` there. What a read fills while a
notification is arriving is not kept (``put`` checks the generation it read under).
"""

import contextlib
import logging
import os
import threading
import time

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

logger = logging.getLogger(__name__)

CHANNEL = "tracker_changed"
# The apps whose tables notify: the domain, and the users and groups its permissions read.
NOTIFYING_APPS = ("plans", "auth")
# Columns whose changes no cached read shows: a token's last use, written once a minute by the reads themselves.
QUIET_COLUMNS = {"plans_apitoken": {"last_used_at"}}
# Entries kept at most, then all forgotten: a KPI with its explanation expanded is up to 30 KB (60 MB in all).
MAX_ENTRIES = 2000
# The listening connection is checked with a query this often (a silently dropped one would miss notifications),
# and tried again this long after it failed.
PING_SECONDS = 10
RETRY_SECONDS = 5


def _tables() -> dict[str, list[str]]:
    """Each notifying table and its columns."""
    tables = {}
    for label in NOTIFYING_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                tables[model._meta.db_table] = [field.column for field in model._meta.local_concrete_fields]
    return tables


def triggers_install(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create or replace the notifying trigger on every table of ``NOTIFYING_APPS`` (after each migrate; a table
    or column a partial migration has not made yet is left)."""
    target = connections[using]
    if target.vendor != "postgresql":
        return
    quote = target.ops.quote_name
    with target.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {CHANNEL}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
        )
        existing = set(target.introspection.table_names(cursor))
        for table, columns in _tables().items():
            if table not in existing:
                continue
            update = "UPDATE"
            quiet = QUIET_COLUMNS.get(table)
            if quiet:
                present = {column.name for column in target.introspection.get_table_description(cursor, table)}
                update += " OF " + ", ".join(quote(c) for c in columns if c in present and c not in quiet)
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER {CHANNEL} AFTER INSERT OR {update} OR DELETE OR TRUNCATE "
                f"ON {quote(table)} FOR EACH STATEMENT EXECUTE FUNCTION {CHANNEL}()"
            )


def install_on_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    if sender.label == "plans":
        triggers_install(using)


class ReadCache:
    """The process's cache (``read_cache``): ``generation()``, then ``get`` / ``put`` under it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict = {}
        self._generation = 0
        self._listener: psycopg.Connection | None = None
        self._pid = 0
        self._retry_at = 0.0
        self._pinged_at = 0.0
        self._database = None
        self._inherited: list = []

    def generation(self) -> int | None:
        """The cache's generation once what has arrived is taken in; None when it must not be used now."""
        if not settings.API_READ_CACHE or connection.vendor != "postgresql" or connection.in_atomic_block:
            return None
        with self._lock:
            return self._generation if self._listening() else None

    def get(self, key, generation: int | None):
        return None if generation is None else self._entries.get(key)

    def put(self, key, value, generation: int | None) -> None:
        """Keep ``value``, read under ``generation``, unless a change has come since."""
        if generation is None:
            return
        with self._lock:
            if generation == self._generation and self._listener is not None:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = value

    def changed(self) -> None:
        """Forget everything (a notification, a write through this process, a new listening connection)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._generation += 1
        self._entries.clear()

    def _listening(self) -> bool:
        """Whether the listening connection answers, after taking in its notifications. Under the lock."""
        if self._pid != os.getpid():  # a forked worker: the parent's connection is not this process's
            if self._listener is not None:
                # Kept from the collector: closing it here would end the parent's session on the socket they share.
                self._inherited.append(self._listener)
            self._pid, self._listener = os.getpid(), None
            self._forget()
        now = time.monotonic()
        if self._listener is not None and self._database != connection.settings_dict["NAME"]:
            self._close(0.0)  # the connection moved to another database (a test database)
        if self._listener is None:
            if now < self._retry_at:
                return False
            return self._connect(now)
        try:
            self._take_in()
            if now - self._pinged_at >= PING_SECONDS:
                self._listener.execute("SELECT 1")  # notifications met meanwhile go to the handler
                self._pinged_at = now
            return True
        except Exception:
            logger.warning("The read cache's listening connection failed; reads go to the database", exc_info=True)
            self._close(now)
            return False

    def _take_in(self) -> None:
        """The notifications the socket holds, without waiting for any."""
        pgconn = self._listener.pgconn
        # Twice: a read that got data does not look further, and the server's farewell (a FATAL message) comes
        # with its end of file; the second read finds that end (an error) or nothing (at once).
        pgconn.consume_input()
        pgconn.consume_input()
        while pgconn.notifies() is not None:
            self._forget()

    def _connect(self, now: float) -> bool:
        params = connection.get_connection_params()
        for name in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(name, None)
        params.setdefault("connect_timeout", 2)
        try:
            self._database = connection.settings_dict["NAME"]
            self._listener = psycopg.Connection.connect(**params, autocommit=True)
            self._listener.add_notify_handler(lambda notify: self._forget())
            self._listener.execute(f"LISTEN {CHANNEL}")
        except Exception:
            logger.warning("The read cache cannot listen for changes; reads go to the database", exc_info=True)
            self._close(now)
            return False
        self._pinged_at = now
        self._forget()  # what was kept before may have changed unheard
        return True

    def close(self) -> None:
        """Stop listening (before the database is dropped); the next read listens again."""
        with self._lock:
            self._close(0.0)

    def _close(self, now: float) -> None:
        listener, self._listener = self._listener, None
        self._retry_at = now + RETRY_SECONDS
        self._forget()
        if listener is not None:
            with contextlib.suppress(Exception):  # already broken
                listener.close()


read_cache = ReadCache()


class WritesForgetMiddleware:
    """Empties this process's cache after each unsafe request (a write), so that the next request through this
    process reads the write whether or not its notification has come back yet."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            read_cache.changed()
        return response
