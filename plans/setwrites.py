"""Set-based writes in one statement whatever the number of rows (PostgreSQL and SQLite).

Updates travel as one JSON parameter, unpacked by the database (``jsonb_to_recordset`` on PostgreSQL,
``json_each`` on SQLite), so writing 10 or 10,000 rows costs one query; from ``COPY_MIN_ROWS`` rows on,
PostgreSQL takes them by COPY into a temporary table instead (``_copy_set``). Appends go by COPY on
PostgreSQL (``copy_rows``, ``insert_rows``, ``insert_returning_ids``, ``bulk_insert``). Other backends fall back
to Django's batched ``bulk_update`` / ``bulk_create``.
"""

import contextlib
import itertools
import json
import operator
from collections.abc import Callable
from types import SimpleNamespace

from django.db import connection, models, transaction

from . import jsontext

# Subclasses before their bases: DateTimeField is a DateField.
PG_TYPES = {
    models.CharField: "text",
    models.TextField: "text",
    models.FloatField: "double precision",
    models.DateTimeField: "timestamptz",
    models.DateField: "date",
    models.BooleanField: "boolean",
    models.JSONField: "jsonb",
    models.BigAutoField: "bigint",
    models.PositiveBigIntegerField: "bigint",
    models.ForeignKey: "bigint",
    models.IntegerField: "bigint",
}
# From this many rows, an update goes by COPY into a temporary table (``_copy_set``): one JSON parameter of
# 10,000 KPI rows (16 MB with their explanations) cost PostgreSQL more to parse than the UPDATE itself
# (0.4-0.9 s against 0.2-0.3 s by COPY at national scale 10), and Python as much again to encode. Below it,
# creating and dropping the temporary table costs more than the JSON it saves.
COPY_MIN_ROWS = 500


def _pg_type(field) -> str:
    for cls, sql_type in PG_TYPES.items():
        if isinstance(field, cls):
            return sql_type
    raise TypeError(f"No JSON mapping for {field!r}")


def _json_value(field, value):
    if value is None:
        return None
    if isinstance(field, models.DateTimeField):
        # SQLite stores naive UTC text in Django's own format; PostgreSQL parses ISO 8601 with offset.
        return connection.ops.adapt_datetimefield_value(value) if connection.vendor == "sqlite" else value.isoformat()
    if isinstance(field, models.DateField):
        return value.isoformat()
    if isinstance(field, models.JSONField) and connection.vendor == "sqlite":
        return json.dumps(value)
    return value


def _source(model, columns: list[str]) -> tuple[str, list[str]]:
    """SQL for a derived table ``v`` with ``columns``, read from one JSON parameter."""
    fields = [model._meta.get_field(name) for name in columns]
    if connection.vendor == "postgresql":
        spec = ", ".join(f'"{f.column}" {_pg_type(f)}' for f in fields)
        return f"jsonb_to_recordset(%s::jsonb) AS v({spec})", [f.column for f in fields]
    extracts = ", ".join(f"json_extract(value, '$.{f.column}') AS \"{f.column}\"" for f in fields)
    return f"(SELECT {extracts} FROM json_each(%s)) AS v", [f.column for f in fields]


def _payload(model, columns: list[str], objs) -> str:
    fields = [model._meta.get_field(name) for name in columns]
    rows = [{f.column: _json_value(f, getattr(obj, f.attname)) for f in fields} for obj in objs]
    return json.dumps(rows, allow_nan=False, default=str)


def bulk_set(model, objs: list, fields: list[str]) -> None:
    """UPDATE ``fields`` of ``objs`` (matched by primary key) in one statement."""
    with transaction.atomic(savepoint=False):  # a temporary table lives until the commit
        bulk_set_prepared(model, objs, fields)()


def bulk_set_prepared(model, objs: list, fields: list[str]) -> Callable[[], None]:
    """``bulk_set`` up to its UPDATE, which the returned function sends: in the caller's transaction, in a pipeline
    (``statements_overlapped``) if it likes. What cannot go in a pipeline, a COPY of many rows into a temporary
    table, is done here."""
    if not objs:
        return _nothing
    if connection.vendor not in ("postgresql", "sqlite"):
        return lambda: model.objects.bulk_update(objs, fields)
    columns = ["id", *fields]
    if connection.vendor == "postgresql" and len(objs) >= COPY_MIN_ROWS:
        return _copy_set(model, objs, columns)
    table = connection.ops.quote_name(model._meta.db_table)
    source, names = _source(model, columns)
    assignments = ", ".join(f'"{name}" = v."{name}"' for name in names[1:])
    sql = f"UPDATE {table} SET {assignments} FROM {source} WHERE {table}.id = v.id"
    return sender((sql, [_payload(model, columns, objs)]))


def _nothing() -> None:
    pass


def sender(*statements: tuple[str, list | None]) -> Callable[[], None]:
    """A function sending ``statements`` ((SQL, parameters) each) on the connection."""

    def send() -> None:
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)

    return send


_temporaries = itertools.count()


def _copy_set(model, objs: list, columns: list[str]) -> Callable[[], None]:
    """``bulk_set_prepared`` of many rows on PostgreSQL: COPY them into a temporary table (dropped at the latest on
    commit); the UPDATE from it to send."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in columns]
    temporary = quote(f"set_{model._meta.db_table}_{next(_temporaries)}")  # several may await their UPDATE
    spec = ", ".join(f"{quote(f.column)} {_pg_type(f)}" for f in fields)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
    # A tuple per object in one C call: the id and at least one field to set, so attrgetter gives a tuple.
    rows = map(operator.attrgetter(*(f.attname for f in fields)), objs)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {temporary} ({spec}) ON COMMIT DROP")
        _copy(cursor, f"COPY {temporary} FROM STDIN", fields, rows)
    return sender(
        (f"UPDATE {table} SET {assignments} FROM {temporary} AS v WHERE {table}.id = v.id", None),
        (f"DROP TABLE {temporary}", None),
    )


@contextlib.contextmanager
def statements_overlapped():
    """Statements sent in the block run on the server while Python goes on (PostgreSQL's pipeline mode): the
    incremental update's writes of 10,000 KPI rows, while it rolls up their goals. A result is waited for only when
    read, and an error raises at the latest when the block ends. No COPY in the block (``bulk_set_prepared``).
    Elsewhere each statement runs as it is sent."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():  # Django's exceptions, as elsewhere
        yield


class StatementsStepped:
    """``statements_overlapped`` in steps, for writes made ready piece by piece: ``step(prepare)`` waits for the
    statements the last step sent, calls ``prepare`` (which may COPY: nothing is pending) and sends the statements
    it returns, which run on the server while Python goes on until the next step or the block's end. The
    incremental update writes each chunk of KPIs while it evaluates the next. An error raises at the latest when
    the block ends; elsewhere than on PostgreSQL each statement runs as it is sent."""

    def __init__(self):
        self._open = None

    def __enter__(self):
        return self

    def step(self, prepare: Callable[[], list[Callable[[], None]]]) -> None:
        self.wait()
        sends = prepare()
        self._open = statements_overlapped()
        self._open.__enter__()
        for send in sends:
            send()

    def wait(self) -> None:
        """Until the statements sent so far have run: what follows may read, or COPY."""
        self._close(None, None, None)

    def _close(self, *exc_info) -> None:
        opened, self._open = self._open, None
        if opened is not None:
            opened.__exit__(*exc_info)

    def __exit__(self, *exc_info) -> None:
        self._close(*exc_info)


def bulk_insert(model, objs: list, fields: list[str]) -> None:
    """INSERT ``objs`` (``fields`` only, no primary key) in one statement (PostgreSQL: one COPY)."""
    if not objs:
        return
    if connection.vendor == "postgresql":
        columns = [model._meta.get_field(name).attname for name in fields]
        copy_rows(model, columns, [tuple(getattr(obj, name) for name in columns) for obj in objs])
        return
    if connection.vendor != "sqlite":
        model.objects.bulk_create(objs)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    source, names = _source(model, fields)
    column_list = ", ".join(f'"{name}"' for name in names)
    selected = ", ".join(f'v."{name}"' for name in names)
    sql = f"INSERT INTO {table} ({column_list}) SELECT {selected} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [_payload(model, fields, objs)])


def insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """INSERT ``rows`` (tuples of values in ``columns`` order, by attname; JSON columns as Python values):
    one COPY on PostgreSQL (``copy_rows``), one statement on SQLite (``bulk_insert``)."""
    if connection.vendor == "postgresql":
        copy_rows(model, columns, rows)
    elif rows:
        bulk_insert(model, [SimpleNamespace(**dict(zip(columns, row, strict=True))) for row in rows], columns)


def _with_defaults(model, columns: list[str], rows):
    """``columns`` and ``rows`` completed with every NOT NULL column they leave out that has a Python default
    (a field added later, such as a KPI's aggregation): COPY does not know Django's defaults."""
    given = set(columns)
    missing = [
        field
        for field in model._meta.concrete_fields
        if field.attname not in given and not field.primary_key and not field.null and field.has_default()
    ]
    if not missing:
        return columns, rows
    defaults = tuple(field.get_default() for field in missing)
    return [*columns, *(field.attname for field in missing)], (tuple(row) + defaults for row in rows)


def copy_rows(model, columns: list[str], rows, *, progress=None, chunk: int = 5000) -> None:
    """Append ``rows`` (tuples of values in ``columns`` order, by attname) to ``model``'s table.

    PostgreSQL: one COPY, the fastest way in (no per-row statement, no JSON to parse); elsewhere
    ``bulk_create`` in batches. A NOT NULL column left out takes its field's default (``_with_defaults``);
    a JSON column takes the Python value (None is NULL, not JSON null).
    ``rows`` may be a generator; ``progress.update(n)`` hears of each chunk.
    """
    columns, rows = _with_defaults(model, columns, rows)
    if connection.vendor != "postgresql":
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, chunk)):
            model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in batch])
            if progress:
                progress.update(len(batch))
        return
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    names = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        _copy(cursor, f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN", fields, rows, progress, chunk)


def _copy(cursor, sql: str, fields: list, rows, progress=None, chunk: int = 5000) -> None:
    """Run the COPY ``sql`` with ``rows`` (values for ``fields``, in order; JSON columns as Python values)."""
    json_at = [i for i, field in enumerate(fields) if isinstance(field, models.JSONField)]
    if json_at:
        rows = _json_encoded(rows, json_at)
    # The raw psycopg cursor's errors become Django's (IntegrityError ...), as for any other query.
    with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        count = 0
        for count, row in enumerate(rows, 1):  # noqa: B007  (count is read after the loop)
            copy.write_row(row)
            if progress and count % chunk == 0:
                progress.update(chunk)
        if progress:
            progress.update(count % chunk)


def _json_encoded(rows, positions: list[int]):
    """``rows`` with the values at ``positions`` (JSON columns) as JSON text, which COPY reads as is."""
    for row in rows:
        row = list(row)
        for i in positions:
            if row[i] is not None:
                row[i] = jsontext.dumps(row[i])
        yield row


def insert_returning_ids(model, columns: list[str], rows: list[tuple]) -> list[int]:
    """Insert ``rows`` (as ``copy_rows``) and return their new primary keys, in order.

    PostgreSQL: the ids are drawn from the table's sequence first (safe beside concurrent inserts),
    then the rows are copied with them; elsewhere ``bulk_create`` reports them.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=1000)
        return [obj.pk for obj in objs]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    copy_rows(model, ["id", *columns], ((pk, *row) for pk, row in zip(ids, rows, strict=True)))
    return ids


def copy_within(model, columns: list[str], source, source_columns: list, ids: list[int]) -> None:
    """INSERT into ``model`` (``columns``) one row per ``source`` row of ``ids``, its ``source_columns``
    (attnames; None for NULL) in order: rows derived from rows just written, without sending them again."""
    if not ids:
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    selected = ", ".join("NULL" if name is None else quote(name) for name in source_columns)
    table = quote(source._meta.db_table)
    insert = f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT {selected} FROM {table}"
    with connection.cursor() as cursor:
        for start in range(0, len(ids), IDS_PER_STATEMENT):
            where, params = ids_match("id", ids[start : start + IDS_PER_STATEMENT])
            cursor.execute(f"{insert} WHERE {where} ORDER BY id", params)


# SQLite's limit on parameters (32,766) per statement, with room for a few more: what ``ids_match`` may be given.
IDS_PER_STATEMENT = 30_000


def ids_match(column: str, ids: list[int]) -> tuple[str, list]:
    """Raw SQL matching ``column`` against ``ids``, and its parameters: one array on PostgreSQL (``= ANY``, as
    ``plans.lookups.Any``), a placeholder per id elsewhere (at most ``IDS_PER_STATEMENT``)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)
