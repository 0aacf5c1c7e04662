"""SQLite group commit (hub.db.Database.transaction): writers queued behind a writer share its
transaction in savepoints; each one's work is committed when its block returns, and a failing
writer's work alone is rolled back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db import Database, _sqlite_pragmas

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    _sqlite_pragmas(engine)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    database = Database(engine)
    yield database  # type: ignore[misc]
    await database.dispose()


async def count(db: Database, where: object = None) -> int:
    async with db.sessions() as session:
        stmt = select(func.count()).select_from(items)
        return int((await session.execute(stmt if where is None else stmt.where(where))).scalar_one())


async def test_concurrent_writers_commit_together_and_a_failure_rolls_back_only_its_own_work(
    db: Database,
) -> None:
    woken: list[str] = []
    db.on_commit("items", lambda: woken.append("items"))
    visible_on_return: list[int] = []

    async def write(i: int) -> None:
        async with db.transaction() as session:
            await session.execute(items.insert().values(id=i, name=f"n{i}"))
            Database.flag(session, "items")
            await asyncio.sleep(0)  # let the others queue up behind this writer
            if i % 5 == 0:
                raise ValueError("this writer fails after writing")
        visible_on_return.append(await count(db, items.c.id == i))

    results = await asyncio.gather(*(write(i) for i in range(1, 41)), return_exceptions=True)
    failed = [i for i, r in zip(range(1, 41), results, strict=True) if isinstance(r, ValueError)]
    assert failed == [5, 10, 15, 20, 25, 30, 35, 40]
    assert all(r is None for r in results if not isinstance(r, ValueError))
    assert visible_on_return == [1] * 32  # committed (and readable elsewhere) as soon as the block returned
    assert await count(db) == 32
    assert await count(db, items.c.id.in_(failed)) == 0
    assert woken and len(woken) < 32  # woken after commits, fewer commits than writers


async def test_an_integrity_error_is_the_writers_own_and_the_others_commit(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(items.insert().values(id=1, name="first"))

    async def insert(i: int) -> None:
        async with db.transaction() as session:
            await session.execute(items.insert().values(id=i, name=f"n{i}"))

    results = await asyncio.gather(insert(2), insert(1), insert(3), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert await count(db) == 3
