"""A gateway never talks to another hub's services: a URL set to a service of another instance (two hubs
on one machine) makes the gateway not ready, with the reason on `/readyz`, and every call it forwards
there is refused by the service (the credential names the gateway's instance) and answered 502, with
nothing written in the other hub."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from gateway.main import bootstrap as gateway_bootstrap
from gateway.settings import GatewaySettings
from hubcli.services import migrate_all
from services.intake.tables import cases
from tests.integration.test_walking_skeleton import CASE
from tests.kit.auth import bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub, _serve
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration


async def _case_count(hub: InProcessHub) -> int:
    async with hub.runtime("intake").db.sessions() as session:
        count: int = (await session.execute(select(func.count()).select_from(cases))).scalar_one()
        return count


async def test_a_gateway_of_another_instance_is_not_ready_and_its_calls_are_refused(
    hub: InProcessHub,
) -> None:
    # Another hub's gateway, its own data directory, but its service URLs lead to this hub's services.
    theirs = GatewaySettings.model_validate(
        {
            **hub.settings.model_dump(),
            "data_dir": hub.settings.data_dir / "another-hub",
            "instance_id": "another-hub",
        }
    )
    theirs.data_dir.mkdir(parents=True, exist_ok=True)
    assert theirs.instance() != hub.settings.instance()
    await asyncio.to_thread(
        migrate_all, theirs
    )  # its own gateway database (SQLite in its data directory, or a schema)
    other = await _serve(gateway_bootstrap(theirs))
    try:
        async with http_client(base_url=other.url) as client:
            ready = await eventually(
                lambda: client.get("/readyz"),
                until=lambda r: r.json()["checks"].get("upstreams", "ok") != "ok",
                what="the other gateway to find the mismatch",
            )
            assert ready.status_code == 503
            assert "another hub's services" in ready.json()["checks"]["upstreams"]

            before = await _case_count(hub)
            token = await fetch_token(other.url, await create_client(theirs, "centre"))
            refused = await client.post("/api/v1/cases", json=CASE, headers=bearer(token))
            assert refused.status_code == 502, refused.text
            assert refused.json()["type"].endswith("upstream-refused")
            assert "另一个平台实例" in refused.json()["detail"]
            assert await _case_count(hub) == before  # nothing reached the other hub's database
    finally:
        other.server.should_exit = True
        await other.task
