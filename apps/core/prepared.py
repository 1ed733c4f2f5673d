"""Prepared statements for the few statements every search runs, so that PostgreSQL plans them once
per database session instead of at every call: under load, planning was about 45 % of
PostgreSQL's time per search (pg_stat_statements; the stored pairs and groups alone 0.74 ms).

SQL-level PREPARE / EXECUTE through Django's cursor (Django binds parameters on the client, where
psycopg's own prepared statements are not available), so the statements are logged and counted as
any other. Each session prepares a statement the first time it runs it; a new connection (after a
database restart) prepares again. Tenants stay apart: a prepared statement names its tables
without a schema, and PostgreSQL analyses it again whenever the search_path (the tenant) has
changed since its last use (PostgreSQL docs, PREPARE).

A statement that needs transaction-local settings (an index's search width) takes them as `before`:
a statement sent in the same message as the EXECUTE (one round trip; PostgreSQL runs the message as
one implicit transaction, so `set_config(..., true)` holds for the EXECUTE and ends with it). The
caller then steps past its result with `cursor.nextset()`.
"""

import hashlib
import re
from collections.abc import Sequence

_PLACEHOLDER = re.compile(r"%s")


def numbered(sql: str) -> str:
    """`sql` with its %s placeholders as PostgreSQL's $1, $2, ... (a PREPARE body)."""
    count = iter(range(1, sql.count("%s") + 1))
    return _PLACEHOLDER.sub(lambda _m: f"${next(count)}", sql)


def execute_prepared(
    cursor,
    sql: str,
    params: Sequence,
    types: Sequence[str],
    *,
    before: str = "",
    before_params: Sequence = (),
) -> None:
    """Run `sql` (positional %s placeholders, whose PostgreSQL types are `types`) with `params` as a
    prepared statement of the cursor's session, after `before` (with `before_params`) in the same
    message when given."""
    if len(types) != len(params) or sql.count("%s") != len(params) or "%%" in sql:
        raise ValueError("a prepared statement needs one type per %s placeholder and no other %")
    if before.count("%s") != len(before_params):
        raise ValueError("the statement before needs one parameter per %s placeholder")
    session = cursor.cursor.connection  # psycopg's: a new connection has prepared nothing
    prepared = getattr(session, "deeplens_prepared", None)
    if prepared is None:
        prepared = session.deeplens_prepared = set()
    name = "deeplens_" + hashlib.sha1(f"{sql}\0{','.join(types)}".encode()).hexdigest()[:20]
    if name not in prepared:
        cursor.execute(f"PREPARE {name} ({', '.join(types)}) AS {numbered(sql)}")
        prepared.add(name)
    prefix = f"{before.rstrip().rstrip(';')}; " if before else ""
    cursor.execute(f"{prefix}EXECUTE {name} ({', '.join(['%s'] * len(params))})", [*before_params, *params])
