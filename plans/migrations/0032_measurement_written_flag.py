# Every statement that writes plans_measurement sets a flag local to its transaction (PostgreSQL only), which
# plans.series.measurements_unwritten reads: a series read on another connection (plans.series.series_packed_aside)
# sees what this transaction would see exactly while the flag is unset. A trigger, not a flag our write paths set,
# so that no path can forget it (the bulk upsert's COPY, a raw statement, Django's cascades); once per statement,
# not per row. On SQLite nothing is read aside: no trigger.

from django.db import migrations

FUNCTION = "plans_measurement_written"
FLAG = "plans.measurements_written"

CREATE = f"""
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('{FLAG}', 'on', true);  -- true: local to this transaction (or savepoint, if rolled back)
    RETURN NULL;
END
$$;
CREATE TRIGGER {FUNCTION} AFTER INSERT OR UPDATE OR DELETE ON plans_measurement
    FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}();
"""
DROP = f"DROP TRIGGER IF EXISTS {FUNCTION} ON plans_measurement; DROP FUNCTION IF EXISTS {FUNCTION}();"


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0031_kpi_tie_indexes_where_set"),
    ]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP), elidable=False)]
