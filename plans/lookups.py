"""``field__any=values``: ``__in`` for long lists of plain values, sent to PostgreSQL as one array.

An update of 10,000 KPIs at national scale 10 filters by 10,000 ids several times. As ``__in`` each id is a
placeholder of its own: Django resolves them one by one, psycopg splits a 60 KB statement and PostgreSQL plans
a 10,000-item list, 0.1-0.2 s a query before any row is read. ``= ANY(%s)`` sends the list as one array
parameter. The values must be plain (ids, not model instances; no expression or subquery); other databases get
``IN``.
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject, Lookup


class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        field = self.lhs.output_field
        # As ``__in``: NULL matches nothing; each value is prepared once, as the field would prepare it.
        return list(dict.fromkeys(field.get_prep_value(value) for value in self.rhs if value is not None))

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        lhs, params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", (*params, values)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", (*params, *values)


# A relation's lookups are its own (ForeignObject does not inherit Field's): ``kpi_id__any`` needs both.
Field.register_lookup(Any)
ForeignObject.register_lookup(Any)
