"""Database engines: one per service, SQLite (WAL) embedded by default, PostgreSQL by URL.

On PostgreSQL every service owns one schema (named after the service) in the shared database,
selected by `search_path`, so tables and Alembic's version table never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from hub.config import ServiceName, Settings

WRITE_OPTION = "hub_write_transaction"

# Group commit on SQLite: writers queued behind the one writer join its database transaction (each in
# its own savepoint) and the group commits once. Bounded so a writer never waits long for its commit.
GROUP_MAX_MEMBERS = 32
GROUP_MAX_AGE_S = 0.02


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs from operators; the hub talks to PostgreSQL through asyncpg."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine_for(settings: Settings, service: ServiceName, **kwargs: Any) -> AsyncEngine:
    url = normalise_url(settings.database_url_for(service))
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(
        url,
        # processes × (pool + overflow) must stay under the server's max_connections (100 by default).
        pool_size=kwargs.pop("pool_size", settings.db_pool_size),
        max_overflow=kwargs.pop("max_overflow", settings.db_max_overflow),
        pool_pre_ping=True,
        connect_args={"server_settings": {"search_path": service}},
        **kwargs,
    )


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets readers run beside the writer; FULL sync so a committed case survives power loss.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # Transactions start themselves (below) so they can take the write lock up front.
        dbapi_conn.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front (BEGIN IMMEDIATE): a read-then-write transaction in WAL mode
        # would otherwise fail with SQLITE_BUSY when another writer committed in between. Readers
        # take a deferred snapshot and never wait for a writer.
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass
class _Group:
    """One SQLite transaction shared by consecutive writers; `committed` resolves when it commits."""

    session: AsyncSession
    started: float
    committed: asyncio.Future[None]
    members: int = 0
    topics: set[str] = field(default_factory=set)


class Database:
    """A service's engine plus a unit of work that wakes background workers after commit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.is_postgres = engine.dialect.name == "postgresql"
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        # SQLite has one writer per file: queueing writers here costs nothing, while letting them
        # collide makes SQLite's busy handler sleep (up to 100 ms a try) and throughput collapses.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._writers_waiting = 0
        self._group: _Group | None = None

    def on_commit(self, topic: str, callback: Callable[[], None]) -> None:
        """Call `callback` after any transaction that flagged `topic` (e.g. "outbox") commits."""
        self._listeners.setdefault(topic, []).append(callback)

    @staticmethod
    def flag(session: AsyncSession, topic: str) -> None:
        session.info.setdefault("topics", set()).add(topic)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error; then wake whoever waits for its work.

        On return the work is committed; on an exception nothing of it is. On SQLite, writers that
        queue up while another writes share its transaction, each in a savepoint (group commit): one
        commit (one fsync) for the group, and a failing writer's savepoint alone is rolled back.
        """
        if self._write_lock is None:
            async with self.sessions() as session:
                async with session.begin():
                    await session.connection(execution_options={WRITE_OPTION: True})
                    yield session
                topics = session.info.pop("topics", set())
            self._wake(topics)
            return
        async with self._grouped() as session:
            yield session

    @asynccontextmanager
    async def _grouped(self) -> AsyncIterator[AsyncSession]:
        assert self._write_lock is not None
        self._writers_waiting += 1
        try:
            await self._write_lock.acquire()
        finally:
            self._writers_waiting -= 1
        try:
            group = self._group
            if group is None:
                group = await self._open_group()
            group.members += 1
            session = group.session
            try:
                savepoint = await session.begin_nested()
            except BaseException as exc:
                await self._abort_group(group, exc)
                raise
            try:
                yield session
            except BaseException as exc:
                session.info.pop("topics", None)
                try:
                    await savepoint.rollback()
                except BaseException as rollback_exc:
                    await self._abort_group(group, rollback_exc)
                    raise exc from None
                with contextlib.suppress(Exception):  # a failed commit reaches the group's other members
                    await self._maybe_commit(group)
                raise
            try:
                await savepoint.commit()
            except BaseException as exc:
                await self._abort_group(group, exc)
                raise
            group.topics |= session.info.pop("topics", set())
            await self._maybe_commit(group)
        finally:
            self._write_lock.release()
        # Outside the lock: the next writer may extend the group; our work is durable once it commits.
        await asyncio.shield(group.committed)

    async def _open_group(self) -> _Group:
        session = self.sessions()
        try:
            await session.connection(execution_options={WRITE_OPTION: True})  # BEGIN IMMEDIATE
        except BaseException:
            await session.close()
            raise
        group = _Group(session, time.monotonic(), asyncio.get_running_loop().create_future())
        self._group = group
        return group

    async def _maybe_commit(self, group: _Group) -> None:
        """Commit now unless another writer is queued and the group is still small and young."""
        if self._group is not group:
            return  # already aborted
        if (
            self._writers_waiting > 0
            and group.members < GROUP_MAX_MEMBERS
            and time.monotonic() - group.started < GROUP_MAX_AGE_S
        ):
            return
        self._group = None
        try:
            await group.session.commit()
        except BaseException as exc:
            await self._close_failed(group, exc)
            raise
        await group.session.close()
        group.committed.set_result(None)
        self._wake(group.topics)

    async def _abort_group(self, group: _Group, exc: BaseException) -> None:
        if self._group is group:
            self._group = None
        await self._close_failed(group, exc)

    @staticmethod
    async def _close_failed(group: _Group, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            await group.session.rollback()
        with contextlib.suppress(Exception):
            await group.session.close()
        if not group.committed.done():
            failure = exc if isinstance(exc, Exception) else RuntimeError("transaction abandoned")
            group.committed.set_exception(failure)
            group.committed.exception()  # retrieved: members that already left see it when they await

    def _wake(self, topics: set[str]) -> None:
        for topic in topics:
            for callback in self._listeners.get(topic, []):
                callback()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def wait_for_database(db: Database, attempts: int = 30, delay_s: float = 1.0) -> None:
    """Wait for the database at start (a server restarting must not crash-loop the service)."""
    for attempt in range(attempts):
        try:
            await db.ping()
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay_s)
