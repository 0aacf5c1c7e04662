"""Group commit (hub/group_commit.py): writes handed in together share one transaction, each caller
returns once its write is committed, and a write that fails fails alone — the others of its group are
committed all the same."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.group_commit import GroupCommit
from tests.kit.infra import sqlite_database

metadata = MetaData()
sends = Table("sends", metadata, Column("id", Integer, primary_key=True), Column("ref", String(20)))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(tmp_path / "hub.db", metadata) as database:
        yield database


def _commits(db: Database) -> list[int]:
    seen: list[int] = []
    event.listen(db.write_engine.sync_engine, "commit", lambda _conn: seen.append(1))
    return seen


def _insert(id_: int) -> Any:
    async def write(session: AsyncSession) -> None:
        await session.execute(insert(sends).values(id=id_, ref=f"ref-{id_}"))

    return write


async def _ids(db: Database) -> list[int]:
    async with db.sessions() as session:
        return list((await session.execute(select(sends.c.id).order_by(sends.c.id))).scalars())


async def test_writes_handed_in_together_share_transactions_and_each_returns_committed(db: Database) -> None:
    commits = _commits(db)
    group = GroupCommit(db)
    await asyncio.gather(*(group.run(_insert(i)) for i in range(1, 9)))
    assert await _ids(db) == list(range(1, 9))
    # All eight were handed in before the first transaction opened: one commit carries them.
    assert len(commits) == 1 and group.groups == 1
    # And those handed in while a transaction is open go together in the next one.
    first = asyncio.ensure_future(group.run(_insert(10)))
    await asyncio.sleep(0)  # the first write's transaction opens (a yield, not a wait for time)
    await asyncio.gather(first, *(group.run(_insert(i)) for i in range(11, 15)))
    assert await _ids(db) == [*range(1, 9), *range(10, 15)]
    assert len(commits) == 3 and group.groups == 2


async def test_a_write_that_fails_fails_alone_and_the_rest_of_its_group_is_committed(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(insert(sends).values(id=3, ref="there already"))
    group = GroupCommit(db)
    outcomes = await asyncio.gather(*(group.run(_insert(i)) for i in range(1, 6)), return_exceptions=True)
    assert [type(o) for o in outcomes] == [type(None)] * 2 + [IntegrityError] + [type(None)] * 2
    assert await _ids(db) == [1, 2, 3, 4, 5]


async def test_a_lone_write_is_its_own_transaction(db: Database) -> None:
    commits = _commits(db)
    group = GroupCommit(db)
    await group.run(_insert(1))
    await group.run(_insert(2))
    assert await _ids(db) == [1, 2]
    assert len(commits) == 2 and group.groups == 0


async def test_each_write_runs_in_its_callers_context_whoever_drains_the_group(db: Database) -> None:
    """A grouped write emits an event carrying its caller's trace: it must see the caller's context
    (contextvars: the OTel span, the actor), not the first caller's or none."""
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="none")
    seen: dict[int, str] = {}

    def written_by(id_: int) -> Any:
        async def write(session: AsyncSession) -> None:
            seen[id_] = caller.get()
            await session.execute(insert(sends).values(id=id_, ref=caller.get()))

        return write

    async def call(id_: int) -> None:
        caller.set(f"case-{id_}")
        await group.run(written_by(id_))

    group = GroupCommit(db)
    await asyncio.gather(*(call(i) for i in range(1, 6)))
    assert group.groups == 1
    assert seen == {i: f"case-{i}" for i in range(1, 6)}
