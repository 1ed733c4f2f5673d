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
caller then steps past its result with `cursor.nextset()`. Several prepared statements that do
not depend on each other go in one message with `execute_prepared_together` (one round trip: a
search by id reads its image and its stored matches so); the cursor steps from one's rows to the
next's with `cursor.nextset()`.
"""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"%s")


def numbered(sql: str) -> str:
    """`sql` with its %s placeholders as PostgreSQL's $1, $2, ... (a PREPARE body)."""
    count = iter(range(1, sql.count("%s") + 1))
    return _PLACEHOLDER.sub(lambda _m: f"${next(count)}", sql)


@dataclass(frozen=True)
class Prepared:
    """A statement to run prepared: `sql` with positional %s placeholders, whose PostgreSQL types
    are `types`, and the `params` for this run."""

    sql: str
    params: Sequence
    types: Sequence[str]

    def __post_init__(self):
        if (
            len(self.types) != len(self.params)
            or self.sql.count("%s") != len(self.params)
            or "%%" in self.sql
        ):
            raise ValueError("a prepared statement needs one type per %s placeholder and no other %")


def _execute_text(cursor, statement: Prepared) -> str:
    """`EXECUTE name (%s, ...)` for the statement, prepared in the cursor's session first if it is not yet."""
    session = cursor.cursor.connection  # psycopg's: a new connection has prepared nothing
    prepared = getattr(session, "deeplens_prepared", None)
    if prepared is None:
        prepared = session.deeplens_prepared = set()
    key = f"{statement.sql}\0{','.join(statement.types)}"
    name = "deeplens_" + hashlib.sha1(key.encode()).hexdigest()[:20]
    if name not in prepared:
        cursor.execute(f"PREPARE {name} ({', '.join(statement.types)}) AS {numbered(statement.sql)}")
        prepared.add(name)
    return f"EXECUTE {name} ({', '.join(['%s'] * len(statement.params))})"


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
    statement = Prepared(sql, params, types)
    if before.count("%s") != len(before_params):
        raise ValueError("the statement before needs one parameter per %s placeholder")
    prefix = f"{before.rstrip().rstrip(';')}; " if before else ""
    cursor.execute(f"{prefix}{_execute_text(cursor, statement)}", [*before_params, *params])


def execute_prepared_together(cursor, statements: Sequence[Prepared]) -> None:
    """Run the statements, each prepared, in one message (one round trip, one implicit transaction):
    the cursor holds the first's rows; `cursor.nextset()` steps to the next's."""
    if not statements:
        raise ValueError("nothing to run")
    texts = [_execute_text(cursor, statement) for statement in statements]
    cursor.execute("; ".join(texts), [param for statement in statements for param in statement.params])
