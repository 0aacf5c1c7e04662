"""Group commit: small writes made by concurrent tasks share one transaction.

A task hands its write (a function of the session) to `GroupCommit.run` and waits for it to be committed.
The first write starts a transaction at once; the writes handed in while it is open go together in the
next one, and so on until none is waiting: nothing waits for a group to fill, and under load one commit
(on SQLite, one fsync and one turn of the write lock) carries many writes. The SMS sender's records of
sends that completed together are the case in point: four notices of one case, one commit.

A group that fails (any error: the database away, a constraint, a bug in one write) is rolled back and
each of its writes is made again alone, in its own transaction, so each caller gets its own outcome,
exactly as without grouping. Its transaction wakes the database's listeners (the outbox relay) once.

Only where writers queue anyway: on SQLite every write transaction waits for the one write lock, so
grouping removes lock turns and fsyncs and costs no concurrency. On PostgreSQL writes run concurrently
over the pool; funnelled through one transaction at a time, the paced bench was slower end to end
(benchmarks/RESULTS.md, "Sends recorded together"), so there each write is its own transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database

log = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class _Waiting:
    write: Write
    done: asyncio.Future[None]
    context: contextvars.Context

    async def make(self, session: AsyncSession) -> None:
        """The write on the group's session, in a task of its own carrying the caller's context."""
        await asyncio.create_task(self.write(session), context=self.context)


class GroupCommit:
    def __init__(self, db: Database, *, max_group: int = 64) -> None:
        self._db = db
        self._grouped = not db.is_postgres
        self._max_group = max_group
        self._waiting: list[_Waiting] = []
        self._drain: asyncio.Task[None] | None = None
        self.groups = 0  # transactions committed for more than one write (tests read it)

    async def run(self, write: Write) -> None:
        """Make `write` in a transaction, grouped with others handed in meanwhile; return once it is
        committed, or raise its own error (the group's error is retried alone first)."""
        if not self._grouped:
            async with self._db.transaction() as session:
                await write(session)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)  # a caller that gave up leaves no "never retrieved" warning
        # The write runs in its caller's context (its trace: an outbox event it emits carries the
        # caller's traceparent), whichever task drains the group.
        self._waiting.append(_Waiting(write, done, contextvars.copy_context()))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_all(), context=contextvars.Context())
        # Shielded: a caller that gives up waiting does not cancel the group its write is in.
        await asyncio.shield(done)

    async def _drain_all(self) -> None:
        group: list[_Waiting] = []
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: len(group)]
                await self._commit(group)
        except BaseException:
            # Cancelled (the process stopping): nobody is left waiting for an answer that never comes.
            for waiting in [*group, *self._waiting]:
                _settle(waiting.done, RuntimeError("group commit stopped before this write was committed"))
            self._waiting.clear()
            raise

    async def _commit(self, group: list[_Waiting]) -> None:
        if len(group) > 1:
            try:
                async with self._db.transaction() as session:
                    for waiting in group:
                        await waiting.make(session)
            except Exception as exc:
                # Rolled back: each write is made alone below, so each caller gets its own outcome.
                log.info(
                    "a group of %d writes failed (%s); each is made alone", len(group), type(exc).__name__
                )
            else:
                self.groups += 1
                for waiting in group:
                    _settle(waiting.done, None)
                return
        for waiting in group:
            try:
                async with self._db.transaction() as session:
                    await waiting.make(session)
            except Exception as exc:
                _settle(waiting.done, exc)
            else:
                _settle(waiting.done, None)


def _retrieved(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
