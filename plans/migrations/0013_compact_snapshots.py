"""Snapshots become "month ends plus the current day", and KPI explanations summarise their points.

Data only: drops each plan's snapshots of days that are neither month ends nor its latest day, and
rewrites stored KPI explanations (current and month-end) from the full point list to its summary
(``inputs.points``: count, used, exclusions, first and last kept point), without the fit's point list
(``values.points``). The numbers the method computed are unchanged, so ``method_version`` stays.
"""

import datetime
from collections import defaultdict

from django.db import migrations

BATCH = 1000


def _is_month_end(day):
    return (day + datetime.timedelta(days=1)).day == 1


def drop_stray_days(apps, schema_editor):
    StatusSnapshot = apps.get_model("plans", "StatusSnapshot")
    days = defaultdict(set)
    for plan_id, day in StatusSnapshot.objects.values_list("plan_id", "as_of").distinct().order_by():
        days[plan_id].add(day)
    for plan_id, plan_days in days.items():
        latest = max(plan_days)
        stray = [d for d in plan_days if d != latest and not _is_month_end(d)]
        if stray:
            StatusSnapshot.objects.filter(plan_id=plan_id, as_of__in=stray).delete()


def _summary(rows):
    used = sorted((r["date"], r["value"]) for r in rows if r.get("used"))
    excluded = defaultdict(int)
    for r in rows:
        if not r.get("used") and r.get("reason"):
            excluded[r["reason"]] += 1
    point = lambda p: {"date": p[0], "value": p[1]}  # noqa: E731
    return {
        "count": len(rows),
        "used": len(used),
        "excluded": dict(excluded),
        "first": point(used[0]) if used else None,
        "last": point(used[-1]) if used else None,
    }


def _compact(explanation):
    inputs = dict(explanation["inputs"])
    inputs["points"] = _summary(inputs.pop("measurements") or [])
    values = {k: v for k, v in explanation.get("values", {}).items() if k != "points"}
    return {**explanation, "inputs": inputs, "values": values}


def compact_explanations(apps, schema_editor):
    for model_name, kind in (("KPI", {}), ("StatusSnapshot", {"item_type": "kpi"})):
        model = apps.get_model("plans", model_name)
        rows = model.objects.filter(explanation__kind="kpi", explanation__inputs__has_key="measurements", **kind)
        last = 0
        while True:
            batch = list(rows.filter(pk__gt=last).order_by("pk").only("pk", "explanation")[:BATCH])
            if not batch:
                break
            for row in batch:
                row.explanation = _compact(row.explanation)
            model.objects.bulk_update(batch, ["explanation"])
            last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("plans", "0012_text_without_control_characters")]

    operations = [
        migrations.RunPython(drop_stray_days, migrations.RunPython.noop),
        migrations.RunPython(compact_explanations, migrations.RunPython.noop),
    ]
