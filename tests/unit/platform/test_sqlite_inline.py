"""SQLite write transactions run in place (hub/sqlite_inline.py): they commit and roll back as before,
and waiting for a write lock another process holds never stalls the service's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db import Database
from hub.sqlite_inline import InlineConnection, inline_engine
from tests.kit.infra import sqlite_database

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(20)))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(tmp_path / "hub.db", metadata) as database:
        yield database


@contextlib.contextmanager
def another_process_writing(path: Path) -> Iterator[sqlite3.Connection]:
    """The write lock held by another connection, as a back-fill or a CLI command would hold it."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (id, text) VALUES (1, 'other')")
    try:
        yield other
    finally:
        other.close()


async def _texts(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(select(notes.c.text).order_by(notes.c.id))).scalars())


async def test_a_transaction_commits_and_one_that_raises_leaves_nothing(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(insert(notes).values(id=1, text="kept"))
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)  # in place, no worker thread
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await session.execute(insert(notes).values(id=2, text="rolled back"))
            raise RuntimeError("the work failed")
    assert await _texts(db) == ["kept"]


async def test_waiting_for_another_process_lock_leaves_the_loop_free_and_then_writes(
    db: Database, tmp_path: Path
) -> None:
    async def write(id_: int, text: str) -> None:
        async with db.transaction() as session:
            await session.execute(insert(notes).values(id=id_, text=text))

    await write(0, "connected")  # the service's connection is open before the other takes the lock
    with another_process_writing(tmp_path / "hub.db") as other:
        writing = asyncio.ensure_future(write(2, "ours"))
        # The loop keeps serving while our transaction waits for the lock. A wait slept on inside
        # SQLite (its busy handler, on this thread) would stop every task for as long as it lasts:
        # the longest gap between these ticks would be that long (30 s in service).
        loop = asyncio.get_running_loop()
        gaps, last = [], loop.time()
        for _ in range(20):
            await asyncio.sleep(0.005)
            gaps.append(loop.time() - last)
            last = loop.time()
        assert max(gaps) < 1.0 and not writing.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writing, timeout=10)
    assert await _texts(db) == ["connected", "other", "ours"]


async def test_a_lock_held_past_the_wait_is_the_usual_database_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    inline = inline_engine(f"sqlite+aiosqlite:///{path}", lock_wait_s=0.2)
    assert inline is not None
    try:
        with another_process_writing(path), pytest.raises(OperationalError, match="database is locked"):
            async with inline.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        await inline.dispose()


def test_an_in_memory_database_has_no_second_engine() -> None:
    # A second engine on ":memory:" would be a second, empty database.
    assert inline_engine("sqlite+aiosqlite://") is None
    assert inline_engine("sqlite+aiosqlite:///:memory:") is None
