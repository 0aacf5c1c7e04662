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


def _pg_admin_url() -> str:
    """Set by HUB_TEST_PG_ADMIN_URL, else what scripts/ensure-services arranged, else local trust auth."""
    if url := os.environ.get("HUB_TEST_PG_ADMIN_URL"):
        return url
    remembered = Path(__file__).resolve().parents[2] / ".pg-admin-url"
    if remembered.exists():
        return remembered.read_text().strip()
    return "postgresql://postgres@127.0.0.1:5432/postgres"


AMQP_BASE = os.environ.get("HUB_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@asynccontextmanager
async def fresh_vhost() -> AsyncIterator[str]:
    """A RabbitMQ virtual host of our own: queues of earlier runs can never reach this one."""
    name = f"hubtest-{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", name)
    await asyncio.to_thread(_rabbitmqctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield f"{AMQP_BASE}/{quote(name, safe='')}"
    finally:
        await asyncio.to_thread(_rabbitmqctl, "delete_vhost", name)


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
