"""The plan PostgreSQL keeps for a prepared statement: made without the parameters' values
(`plan_cache_mode = force_generic_plan`). By default with sequential scans and sorts off, as the
tests of a few rows need to see whether an index can serve it at all; with `before`, under that
statement's settings alone (what the product sends with it) over analysed tables."""

from django.db import connection

from apps.core.prepared import numbered


def generic_plan(sql: str, params: list, types: list[str], *, before: str | None = None) -> str:
    """EXPLAIN of `sql` (%s placeholders, as execute_prepared takes it) prepared and run with
    `params`, in the current tenant's schema. Settings are transaction-local: the test's."""
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE generic_plan_probe ({', '.join(types)}) AS {numbered(sql)}")
        try:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            if before is None:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("SET LOCAL enable_sort = off")
            elif before:
                cursor.execute(before)
            cursor.execute(f"EXPLAIN EXECUTE generic_plan_probe ({', '.join(['%s'] * len(params))})", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE generic_plan_probe")
