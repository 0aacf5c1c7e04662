"""INSERT … ON CONFLICT for the session's dialect: SQLite embedded, PostgreSQL by URL.

Both dialects spell the clause the same way but through their own `insert`; choosing it is done
here once rather than at every idempotent write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

# What DO UPDATE sets: fixed values, or values built from the row that was refused (`excluded`).
Update = Mapping[str, Any] | Callable[[Any], Mapping[str, Any]]


def upsert(
    session: AsyncSession,
    table: Table,
    on: Sequence[str],
    values: Mapping[str, Any] | None = None,
    *,
    update: Update | None = None,
) -> Insert:
    """INSERT into `table` that, on a conflict over the columns `on`, does nothing (`update` None)
    or updates the existing row. Without `values` the statement takes rows at execution
    (executemany) or through `.values(...)`; `.returning(...)` says whether a row went in."""
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    insert = (pg_insert if postgres else sqlite_insert)(table)
    if values is not None:
        insert = insert.values(**values)
    if update is None:
        return insert.on_conflict_do_nothing(index_elements=list(on))
    set_ = update(insert.excluded) if callable(update) else update
    return insert.on_conflict_do_update(index_elements=list(on), set_=dict(set_))
