"""Rows written at commit (hub/db.py `insert_at_commit`): outbox events and timeline entries wait for
their transaction's commit and go in one statement per table, in the order they were added; a
transaction that fails writes none of them; a session committed by its caller gets them at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, select

from hub.db import Database
from tests.kit.infra import sqlite_database

metadata = MetaData()
entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(20), nullable=False),
)
others = Table("others", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(tmp_path / "hub.db", metadata) as database:
        yield database


def _inserts(db: Database) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT"):
            seen.append(statement.split("(")[0].strip())

    for engine in db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    return seen


async def _names(db: Database, table: Table = entries) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(select(table.c.name).order_by(table.c.id))).scalars())


async def test_a_transactions_rows_go_in_one_statement_per_table_in_order(db: Database) -> None:
    inserts = _inserts(db)
    async with db.transaction() as session:
        for name in ("a", "b", "c"):
            await Database.insert_at_commit(session, entries, {"name": name})
        await Database.insert_at_commit(session, others, {"id": 1, "name": "x"})
        assert await _names(db) == []  # nothing written before the commit
    assert await _names(db) == ["a", "b", "c"]
    assert await _names(db, others) == ["x"]
    assert inserts == ["INSERT INTO entries", "INSERT INTO others"]


async def test_a_transaction_that_fails_writes_none_of_them(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await Database.insert_at_commit(session, entries, {"name": "lost"})
            raise RuntimeError("the handler failed")
    async with db.transaction() as session:
        await Database.insert_at_commit(session, entries, {"name": "kept"})
    assert await _names(db) == ["kept"]


async def test_a_session_its_caller_commits_gets_the_row_at_once(db: Database) -> None:
    async with db.sessions() as session, session.begin():
        await Database.insert_at_commit(session, entries, {"name": "now"})
        assert list((await session.execute(select(entries.c.name))).scalars()) == ["now"]
    assert await _names(db) == ["now"]
