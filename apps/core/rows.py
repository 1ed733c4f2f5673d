"""Model instances from raw rows, for the few reads on every request where compiling the ORM's
query costs more than running it (the caller's API key or user, a search's result rows)."""

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


def columns(alias: str, fields: Sequence[Field]) -> str:
    """`alias."column", ...` for a raw SELECT of these fields."""
    return ", ".join(f'{alias}."{f.column}"' for f in fields)


def instance(model: type[M], fields: Sequence[Field], values) -> M:
    """An instance of `model` from the values of `fields` (a raw row), each converted as the ORM
    converts it (a JSONField's text decoded); fields not given are deferred, loaded when read."""
    values = [
        f.from_db_value(v, None, connection) if v is not None and hasattr(f, "from_db_value") else v
        for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], values)
