"""The broker away (issue 16): every process says so on `/readyz` as `degraded` (200: the load balancer
keeps sending traffic) and on `hub_broker_connected`; the gateway keeps registering cases (201, their
events wait in the outbox) and everything flows when the broker is back. A set-up that fails on a
reachable broker (a queue declared elsewhere with other arguments) is retried, shown on `/readyz`, and
fails liveness (`/healthz` 503) past HUB_BROKER_SETUP_GRACE_S, so the orchestrator restarts the process.

The outage is a cut TCP proxy between the hub and RabbitMQ (tests/kit/proxy.py), not a stopped server:
the other tests of the run share that server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import httpx
import pytest

from hubcli.services import migrate_all
from services.referral.main import bootstrap as referral_bootstrap
from tests.integration.test_walking_skeleton import CASE
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import _serve, make_settings, running_hub
from tests.kit.proxy import TcpProxy, tcp_proxy
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration


def _through(proxy: TcpProxy, amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"))


def _broker_port(amqp_url: str) -> int:
    return urlsplit(amqp_url).port or 5672


async def _readyz(url: str) -> httpx.Response:
    async with http_client() as client:
        return await client.get(f"{url}/readyz", timeout=5)


async def _connected_gauge(url: str) -> float:
    async with http_client() as client:
        text = (await client.get(f"{url}/metrics", timeout=5)).text
    line = next(line for line in text.splitlines() if line.startswith("hub_broker_connected "))
    return float(line.split()[1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_with_the_broker_away_cases_are_taken_and_flow_when_it_returns(
    backend: str, tmp_path: Path
) -> None:
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        tcp_proxy("127.0.0.1", _broker_port(amqp_url)) as proxy,
    ):
        settings = make_settings(tmp_path, _through(proxy, amqp_url), db_url)
        async with running_hub(settings) as hub:
            urls = {s: hub.apps[s].url for s in ("gateway", "intake", "referral", "notification")}
            proxy.cut()
            for service, url in urls.items():
                ready = await eventually(
                    lambda u=url: _readyz(u),  # type: ignore[misc]
                    until=lambda r: r.json()["checks"]["broker"] != "ok",
                    what=f"{service} to notice the broker is away",
                )
                assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
                assert await _connected_gauge(url) == 0

            async with http_client(base_url=hub.gateway) as client:
                taken = [await client.post("/api/v1/cases", json=CASE) for _ in range(3)]
                assert [r.status_code for r in taken] == [201, 201, 201], [r.text for r in taken]
                case_nos = [r.json()["case_no"] for r in taken]

                proxy.restore()

                async def dispatched(case_no: str) -> dict[str, Any]:
                    found: dict[str, Any] = (await client.get(f"/api/v1/cases/{case_no}")).json()
                    return found

                for case_no in case_nos:
                    await eventually(
                        lambda n=case_no: dispatched(n),  # type: ignore[misc]
                        until=lambda c: bool(c.get("referrals")),
                        what=f"{case_no} dispatched after the broker came back",
                        timeout=60,
                    )
            for service, url in urls.items():
                ready = await eventually(
                    lambda u=url: _readyz(u),  # type: ignore[misc]
                    until=lambda r: r.json()["status"] == "ready",
                    what=f"{service} ready again",
                    timeout=60,
                )
                assert await _connected_gauge(url) == 1


async def test_a_failing_broker_set_up_is_retried_shown_and_fails_liveness_until_it_recovers(
    tmp_path: Path,
) -> None:
    async with isolated_backends("sqlite") as (amqp_url, db_url):
        # Someone declared referral's queue with other arguments (a classic queue without a dead-letter
        # exchange): referral's declaration is refused with PRECONDITION_FAILED.
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel()
            await channel.declare_queue("referral.case-events", durable=True)
            settings = make_settings(tmp_path, amqp_url, db_url, broker_setup_grace_s=1)
            await asyncio.to_thread(migrate_all, settings)
            referral = await _serve(referral_bootstrap(settings))
            try:
                async with http_client(base_url=referral.url, timeout=5) as client:
                    ready = await eventually(
                        lambda: client.get("/readyz"),
                        until=lambda r: "set-up failing" in r.json()["checks"]["broker"],
                        what="the failed set-up on /readyz",
                    )
                    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
                    assert "PRECONDITION" in ready.json()["checks"]["broker"].upper()
                    dead = await eventually(
                        lambda: client.get("/healthz"),
                        until=lambda r: r.status_code == 503,
                        what="liveness to fail past the grace",
                    )
                    assert "set-up failing" in dead.json()["reason"]

                    await channel.queue_delete("referral.case-events")  # the conflict is gone
                    await eventually(
                        lambda: client.get("/readyz"),
                        until=lambda r: r.json()["status"] == "ready",
                        what="the retried set-up to succeed",
                        timeout=30,
                    )
                    assert (await client.get("/healthz")).status_code == 200
            finally:
                referral.server.should_exit = True
                await referral.task
        finally:
            await connection.close()
