"""Database engines: one per service, SQLite (WAL) embedded by default, PostgreSQL by URL.

On PostgreSQL every service owns one schema (named after the service) in the shared database,
selected by `search_path`, so tables and Alembic's version table never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Table, event, insert, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from hub.config import ServiceName, Settings
from hub.sqlite_inline import inline_engine

WRITE_OPTION = "hub_write_transaction"
# session.info key: rows to insert just before this Database's transaction commits, by table.
_AT_COMMIT = "hub_insert_at_commit"


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
        # Under a backlog (after an outage) a request waits this long for a connection, then is shed with
        # 503 + Retry-After (hub/database_away.py), instead of holding the caller for SQLAlchemy's 30 s.
        pool_timeout=kwargs.pop("pool_timeout", settings.db_pool_timeout_s),
        pool_pre_ping=True,
        connect_args={"server_settings": {"search_path": service}},
        **kwargs,
    )


def _sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int = 30_000) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets readers run beside the writer; FULL sync so a committed case survives power loss.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
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


_CONNECTION_ERRORS = (
    ConnectionError,  # refused, reset: raised as is by asyncpg's connect
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,  # the database system is starting up / shutting down
    asyncpg.exceptions.OperatorInterventionError,  # terminating connection due to administrator command
    asyncpg.exceptions.ConnectionDoesNotExistError,
    sa_exc.TimeoutError,  # no pooled connection free in time
)


def is_connection_error(exc: BaseException) -> bool:
    """Did `exc` come from the connection to the database, not from the work? The chain of causes is
    followed through the database's own layers only (SQLAlchemy, asyncpg): a refused connection to
    another service, wrapped by its HTTP client, is not the database's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _CONNECTION_ERRORS):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if not type(current).__module__.startswith(("sqlalchemy", "asyncpg")):
            return False
        current = current.__cause__ or current.__context__
    return False


class Database:
    """A service's engine plus a unit of work that wakes background workers after commit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.is_postgres = engine.dialect.name == "postgresql"
        # SQLite's write transactions run on the loop's thread (hub/sqlite_inline.py); reads stay on
        # aiosqlite's. An engine connects on first use: constructing one does no I/O.
        inline = (
            inline_engine(engine.url.render_as_string(hide_password=False))
            if engine.dialect.name == "sqlite"
            else None
        )
        if inline is not None:
            _sqlite_pragmas(inline, busy_timeout_ms=0)  # the lock is awaited there, not slept on
        self.write_engine = inline or engine  # the engine `transaction()` writes through
        self._writes = async_sessionmaker(inline, expire_on_commit=False) if inline else self.sessions
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        # SQLite has one writer per file: queueing writers here costs nothing, while letting them
        # collide makes SQLite's busy handler sleep (up to 100 ms a try) and throughput collapses.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine this database uses (to observe all its statements)."""
        return (self.engine,) if self.write_engine is self.engine else (self.engine, self.write_engine)

    def on_commit(self, topic: str, callback: Callable[[], None]) -> None:
        """Call `callback` after any transaction that flagged `topic` (e.g. "outbox") commits."""
        self._listeners.setdefault(topic, []).append(callback)

    @staticmethod
    def flag(session: AsyncSession, topic: str) -> None:
        session.info.setdefault("topics", set()).add(topic)

    @staticmethod
    async def insert_at_commit(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
        """Insert `row` in this transaction. In one of `transaction()`'s, rows nobody reads back before
        the commit (outbox events, timeline entries) wait for it and go in one executemany per table:
        a batch of deliveries writes its ~10 rows a case in one statement, not one each. Elsewhere (a
        session its caller commits) the row is inserted now."""
        pending: dict[Table, list[dict[str, Any]]] | None = session.info.get(_AT_COMMIT)
        if pending is None:
            await session.execute(insert(table).values(**row))
        else:
            pending.setdefault(table, []).append(row)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error; then wake whoever waits for its work."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self._writes())
            async with session.begin():
                await session.connection(execution_options={WRITE_OPTION: True})
                session.info[_AT_COMMIT] = {}
                yield session
                # Only on success (an error skips this and rolls back): in the order they were added.
                for table, rows in session.info.pop(_AT_COMMIT).items():
                    await session.execute(insert(table), rows)
            topics = session.info.pop("topics", set())
        for topic in topics:
            for callback in self._listeners.get(topic, []):
                callback()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def answers(self, timeout: float = 5) -> bool:
        """Does the database answer a ping within `timeout` (refused, shutting down, every pooled
        connection busy: no)? The test that tells an outage from a fault of the work at hand."""
        try:
            await asyncio.wait_for(self.ping(), timeout=timeout)
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


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
