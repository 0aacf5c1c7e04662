"""Isolated broker and database resources for one test run (created fresh, removed afterwards)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db import Database
from tests.kit.http import http_client


def _pg_admin_url() -> str:
    """Set by HUB_TEST_PG_ADMIN_URL, else what scripts/ensure-services arranged, else local trust auth."""
    if url := os.environ.get("HUB_TEST_PG_ADMIN_URL"):
        return url
    remembered = Path(__file__).resolve().parents[2] / ".pg-admin-url"
    if remembered.exists():
        return remembered.read_text().strip()
    return "postgresql://postgres@127.0.0.1:5432/postgres"


AMQP_BASE = os.environ.get("HUB_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
# RabbitMQ's management API (scripts/ensure-services enables it): a vhost in ~20 ms instead of the
# ~1 s an Erlang VM takes to start for each rabbitmqctl call. Without it, rabbitmqctl.
RABBITMQ_API = os.environ.get("HUB_TEST_RABBITMQ_API", "http://127.0.0.1:15672/api")
RABBITMQ_API_AUTH = ("guest", "guest")


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port and held: nobody else (another test worker, an outgoing
    connection's ephemeral port) can take the port between choosing it and serving on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # only a listening socket keeps another SO_REUSEADDR bind off the port
    return sock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


async def _vhost_via_api(method: str, name: str) -> bool:
    """Create (PUT) or delete (DELETE) a vhost over the management API; False when it is not there."""
    async with http_client(base_url=RABBITMQ_API, auth=RABBITMQ_API_AUTH) as api:
        try:
            response = await api.request(method, f"/vhosts/{name}")
        except httpx.ConnectError:
            return False
        if method == "DELETE" and response.status_code == 404:
            return True
        response.raise_for_status()
        if method == "PUT":
            permissions = {"configure": ".*", "write": ".*", "read": ".*"}
            (await api.put(f"/permissions/{name}/guest", json=permissions)).raise_for_status()
        return True


async def _add_vhost(name: str) -> None:
    if not await _vhost_via_api("PUT", name):
        await asyncio.to_thread(_rabbitmqctl, "add_vhost", name)
        await asyncio.to_thread(_rabbitmqctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")


async def _delete_vhost(name: str) -> None:
    if not await _vhost_via_api("DELETE", name):
        await asyncio.to_thread(_rabbitmqctl, "delete_vhost", name)


@asynccontextmanager
async def fresh_vhost() -> AsyncIterator[str]:
    """A RabbitMQ virtual host of our own: queues of earlier runs can never reach this one."""
    name = f"hubtest-{uuid.uuid4().hex[:10]}"
    await _add_vhost(name)
    try:
        yield f"{AMQP_BASE}/{quote(name, safe='')}"
    finally:
        await _delete_vhost(name)


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    name = f"hubtest_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_pg_admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = _pg_admin_url().rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(_pg_admin_url())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def isolated_backends(backend: str) -> AsyncIterator[tuple[str, str | None]]:
    """(amqp_url, database_url) of a fresh vhost and, for "postgresql", a fresh database (else SQLite)."""
    async with fresh_vhost() as amqp_url:
        if backend != "postgresql":
            yield amqp_url, None
            return
        async with fresh_pg_database() as pg_url:
            yield amqp_url, pg_url


@asynccontextmanager
async def sqlite_database(path: Path, metadata: MetaData) -> AsyncIterator[Database]:
    """A hub `Database` on a fresh SQLite file holding a test's own tables (platform tests)."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    database = Database(engine)
    try:
        yield database
    finally:
        await database.dispose()
