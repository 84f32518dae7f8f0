"""Set-based writes in one statement whatever the number of rows (PostgreSQL and SQLite).

Rows travel as one JSON parameter, unpacked by the database (``jsonb_to_recordset`` on PostgreSQL,
``json_each`` on SQLite), so writing 10 or 10,000 rows costs one query. Other backends fall back
to Django's batched ``bulk_update`` / ``bulk_create``.
"""

import json

from django.db import connection, models

# Subclasses before their bases: DateTimeField is a DateField.
PG_TYPES = {
    models.CharField: "text",
    models.FloatField: "double precision",
    models.DateTimeField: "timestamptz",
    models.DateField: "date",
    models.BooleanField: "boolean",
    models.JSONField: "jsonb",
    models.BigAutoField: "bigint",
    models.PositiveBigIntegerField: "bigint",
    models.ForeignKey: "bigint",
}


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
    if not objs:
        return
    if connection.vendor not in ("postgresql", "sqlite"):
        model.objects.bulk_update(objs, fields)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ["id", *fields]
    source, names = _source(model, columns)
    assignments = ", ".join(f'"{name}" = v."{name}"' for name in names[1:])
    sql = f"UPDATE {table} SET {assignments} FROM {source} WHERE {table}.id = v.id"
    with connection.cursor() as cursor:
        cursor.execute(sql, [_payload(model, columns, objs)])


def bulk_insert(model, objs: list, fields: list[str]) -> None:
    """INSERT ``objs`` (``fields`` only, no primary key) in one statement."""
    if not objs:
        return
    if connection.vendor not in ("postgresql", "sqlite"):
        model.objects.bulk_create(objs)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    source, names = _source(model, fields)
    column_list = ", ".join(f'"{name}"' for name in names)
    selected = ", ".join(f'v."{name}"' for name in names)
    sql = f"INSERT INTO {table} ({column_list}) SELECT {selected} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [_payload(model, fields, objs)])
