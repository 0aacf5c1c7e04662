"""SQLite for write transactions, run on the event loop's thread instead of aiosqlite's worker thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a thread of its own and wakes the
loop with the result: two thread switches and a loop wake-up per call, several calls per statement. On
the 2-core machine a statement cost 0.4–0.8 ms of CPU that way against 0.2–0.3 ms through SQLAlchemy
run in place (decision 0029; benchmarks/RESULTS.md, "SQLite in place"), and a case makes ~70. A write transaction's statements are short (keyed lookups, inserts, updates of a few
rows; one fsync at the commit), and on SQLite the service's writers queue for the one write lock
anyway, so running them in place costs the loop little.

Waiting for the lock must not block the loop, though: another process (a back-fill, a CLI command)
may hold it for a while. So these connections have no busy timeout of their own; a call that finds
the database locked outside a transaction (BEGIN IMMEDIATE, a pragma) is retried after an asyncio
sleep, up to the same 30 s the threaded connections wait. Inside a transaction opened with BEGIN
IMMEDIATE the lock is held, so no statement there meets it.

Reads (API queries, scans) stay on aiosqlite's thread: a long query must not stall the loop.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# As long as the threaded connections' busy timeout (hub/db.py), in seconds.
LOCK_WAIT_S = 30.0
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.001, 0.05


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: SQLAlchemy's adapter puts a call on it directly
    (to set the isolation level); the call runs at once and settles its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as the thread would
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection API with every call made on the caller's thread (no worker thread)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], lock_wait_s: float = LOCK_WAIT_S) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]
        self._lock_wait_s = lock_wait_s

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + self._lock_wait_s, _FIRST_PAUSE_S
        while True:
            outside = not self._connection.in_transaction
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                # Only a call made outside a transaction is safe to make again (it changed nothing).
                if not (outside and _is_locked(exc)) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_S)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()  # no thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "locked" in str(exc)
    )


def inline_engine(url: str, *, lock_wait_s: float = LOCK_WAIT_S, **kwargs: Any) -> AsyncEngine | None:
    """An engine on the same SQLite file whose connections run in place; None for an in-memory
    database (a second engine would open a second, empty database)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    connector = functools.partial(
        sqlite3.connect, database, timeout=0, isolation_level=None, check_same_thread=False
    )
    return create_async_engine(url, async_creator=lambda: InlineConnection(connector, lock_wait_s), **kwargs)
