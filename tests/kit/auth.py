"""Authenticated calls in tests: API clients created straight in the gateway's database, bearer tokens
from the gateway's own token endpoint, and `authed_hub`: the in-process hub with HUB_AUTH_REQUIRED on.

Use the fixture by importing it into the test module (`from tests.kit.auth import authed_hub`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.auth import NewClient
from gateway.auth import create_client as create_gateway_client
from hub.config import Settings
from hub.db import Database, create_engine_for
from hubcli.services import HubSettings
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub

TEST_RATE_PER_MINUTE = 100_000  # tests are not what the rate limit is for (test_gateway_auth tests it)


class AnyHub(Protocol):
    settings: HubSettings

    @property
    def gateway(self) -> str: ...


async def create_client(
    target: InProcessHub | Settings,
    role: str,
    *,
    department: str | None = None,
    system: str | None = None,
    rate_limit_per_minute: int = TEST_RATE_PER_MINUTE,
) -> NewClient:
    """A client in the gateway's database: through the running gateway's own database handle, or
    (for a hub of processes) through the gateway database URL of its settings."""
    if isinstance(target, InProcessHub):
        db = target.runtime("gateway").db
        return await create_gateway_client(
            db, role, department=department, system=system, rate_limit_per_minute=rate_limit_per_minute
        )
    db = Database(create_engine_for(target, "gateway"))
    try:
        return await create_gateway_client(
            db, role, department=department, system=system, rate_limit_per_minute=rate_limit_per_minute
        )
    finally:
        await db.dispose()


async def fetch_token(gateway: str, client: NewClient) -> str:
    async with http_client() as http:
        response = await http.post(
            f"{gateway}/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": client.secret,
            },
            timeout=30,
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


_cache: dict[tuple[str, ...], tuple[dict[str, str], float]] = {}


async def auth_headers(
    hub: AnyHub,
    role: str = "centre",
    *,
    department: str | None = None,
    system: str | None = None,
) -> dict[str, str]:
    """`Authorization` headers for a client of that role on that hub (created once, token reused)."""
    s = hub.settings
    key = (str(s.data_dir), s.database_url or "", s.amqp_url, role, department or "", system or "")
    cached = _cache.get(key)
    if cached and cached[1] > time.monotonic():
        return dict(cached[0])
    target: InProcessHub | Settings = hub if isinstance(hub, InProcessHub) else hub.settings
    client = await create_client(target, role, department=department, system=system)
    headers = bearer(await fetch_token(hub.gateway, client))
    _cache[key] = (headers, time.monotonic() + 600)  # tokens live 15 minutes
    return dict(headers)


@pytest.fixture
async def authed_hub(
    spans: InMemorySpanExporter, backend: str, tmp_path: Path
) -> AsyncIterator[InProcessHub]:
    """The whole hub in-process, like `hub`, but every /api/v1 call needs a bearer token."""
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, auth_required=True)) as running,
    ):
        yield running
