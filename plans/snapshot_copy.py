"""Today's snapshot of items just written, copied from their rows by the database.

Today's snapshot of an item holds what its row holds once a recompute has written it: status, score, progress,
forecast, and on a month end the explanation (``plans.recompute.snapshot_row``). The incremental update therefore
has the database copy the rows it has just written (or left as they were) into today's snapshot: one
``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` over every kind of item, which writes a snapshot row only where it
differs from the stored one. At national scale 10 a bulk upload's chain holds 10,000 KPIs whose snapshots mostly stay as
they were: reading them back into Python to compare and rewriting the rest cost the update 0.35 s, the statement
a fraction of that, with no row sent either way.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable

from django.db import connection

from .choices import ItemType
from .dates import is_month_end
from .models import KPI, FocusArea, Goal, Milestone, Plan, StatusSnapshot
from .setwrites import IDS_PER_STATEMENT, ids_match, sender

# Each kind of item: its model, the column naming its plan and the one holding its forecast (None: it has none).
SOURCES = {
    ItemType.KPI: (KPI, "plan_id", "forecast_value"),
    ItemType.MILESTONE: (Milestone, "plan_id", None),
    ItemType.GOAL: (Goal, "plan_id", None),
    ItemType.FOCUS_AREA: (FocusArea, "plan_id", None),
    ItemType.PLAN: (Plan, "id", None),
}
COMPARED = ("status", "score", "progress", "forecast", "explanation")


def today_snapshot_copy(plan_id: int, today: datetime.date, keys: list[tuple[str, int]]) -> None:
    """Make today's snapshot of the items ``keys`` ((item type, id) pairs of plan ``plan_id``) what their rows now
    hold, in one statement (per ``IDS_PER_STATEMENT`` items): rows missing are inserted, rows that differ are
    updated, equal ones are left (no new row version)."""
    today_snapshot_copy_prepared(plan_id, today, keys)()


def today_snapshot_copy_prepared(plan_id: int, today: datetime.date, keys: list[tuple[str, int]]) -> Callable[[], None]:
    """``today_snapshot_copy`` as a function sending its statements, which the caller may send in a pipeline
    (``plans.setwrites.StatementsStepped``) right after the writes of those items: the incremental update copies
    each chunk of KPIs as soon as it has written them, while it evaluates the next chunk."""
    return sender(
        *(
            _statement(plan_id, today, keys[start : start + IDS_PER_STATEMENT])
            for start in range(0, len(keys), IDS_PER_STATEMENT)
        )
    )


def _statement(plan_id: int, today: datetime.date, keys) -> tuple[str, list]:
    quote = connection.ops.quote_name
    fields = {name: StatusSnapshot._meta.get_field(name) for name in COMPARED}
    # Typed NULLs: in a UNION, PostgreSQL would take a bare one for text, which a jsonb column refuses.
    null = {name: f"CAST(NULL AS {field.db_type(connection)})" for name, field in fields.items()}
    explanation = "explanation" if is_month_end(today) else null["explanation"]
    by_type = defaultdict(list)
    for item_type, item_id in keys:
        by_type[item_type].append(item_id)
    selects, params = [], []
    for item_type, ids in by_type.items():
        model, plan_column, forecast = SOURCES[item_type]
        match, values = ids_match("id", ids)
        selects.append(
            f"SELECT %s, %s, id, %s, status, score, progress, {forecast or null['forecast']}, {explanation} "
            f"FROM {quote(model._meta.db_table)} WHERE {plan_column} = %s AND {match}"
        )
        params += [plan_id, item_type, today, plan_id, *values]
    snapshot = quote(StatusSnapshot._meta.db_table)
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(f"{snapshot}.{quote(name)} {distinct} excluded.{quote(name)}" for name in COMPARED)
    sql = (
        f"INSERT INTO {snapshot} (plan_id, item_type, item_id, as_of, {', '.join(map(quote, COMPARED))}) "
        + " UNION ALL ".join(selects)
        + " ON CONFLICT (item_type, item_id, as_of) DO UPDATE SET "
        + ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in COMPARED)
        + f" WHERE {changed}"
    )
    return sql, params
