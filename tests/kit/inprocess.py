"""The whole hub in the test's event loop: the four real services plus the SMS simulator, each on its
own loopback port, against a fresh RabbitMQ vhost and fresh databases. Same bootstrap as production."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from hub.config import SERVICES, Environment
from hub.crypto import Suite
from hub.runtime import ServiceRuntime
from hubcli.services import HubSettings, migrate_all
from services.notification.sms.simulator import create_app as create_sms_simulator
from tests.kit.credentials import gateway_sms_url
from tests.kit.http import http_client
from tests.kit.infra import bound_socket
from tests.kit.waiting import eventually

BOOTSTRAPS = {
    "gateway": "gateway.main",
    "intake": "services.intake.main",
    "referral": "services.referral.main",
    "notification": "services.notification.main",
}


@dataclass
class RunningApp:
    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str


@dataclass
class InProcessHub:
    settings: HubSettings
    apps: dict[str, RunningApp] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return self.apps["gateway"].url

    @property
    def sms(self) -> str:
        return self.apps["sms"].url

    def url(self, service: str) -> str:
        """A service's own port (tests that call it directly need tests/kit/credentials.py)."""
        return self.apps[service].url

    def sms_push_url(self, kind: str) -> str:
        """The gateway's route the SMS provider pushes to: kind `receipt` or `inbound`."""
        path = {"receipt": "receipts", "inbound": "inbound"}[kind]
        return gateway_sms_url(self.gateway, path, self.settings.sms_webhook_token)

    def runtime(self, service: str) -> ServiceRuntime:
        rt: ServiceRuntime = self.apps[service].app.state.runtime
        return rt

    async def sms_received(self) -> list[dict[str, Any]]:
        async with http_client() as client:
            items: list[dict[str, Any]] = (await client.get(f"{self.sms}/_sim/received")).json()["items"]
            return items


async def _serve(app: FastAPI, sock: socket.socket | None = None) -> RunningApp:
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: _started(server, task), what="server start", timeout=60)
    return RunningApp(app, server, task, f"http://127.0.0.1:{port}")


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():  # a start that failed says why at once instead of waiting out the timeout
        raise AssertionError(f"the server stopped while starting: {task.exception() or 'startup failed'!r}")
    return server.started


@asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[InProcessHub]:
    await asyncio.to_thread(migrate_all, settings)
    hub = InProcessHub(settings)
    try:
        hub.apps["sms"] = await _serve(
            create_sms_simulator(settings.sms_access_key_secret, {settings.sms_sign_name})
        )
        # Each service learns the others' addresses before it starts.
        sockets = {s: bound_socket() for s in ("intake", "referral", "notification")}
        ports = {s: sock.getsockname()[1] for s, sock in sockets.items()}
        settings = settings.model_copy(
            update={"sms_url": hub.sms, **{f"{s}_url": f"http://127.0.0.1:{p}" for s, p in ports.items()}}
        )
        hub.settings = settings
        for service in ("intake", "referral", "notification", "gateway"):
            app = importlib.import_module(BOOTSTRAPS[service]).bootstrap(settings)
            hub.apps[service] = await _serve(app, sockets.get(service))
        # The SMS provider pushes receipts and replies to the public edge, as in `hub up --simulators`.
        async with http_client() as client:
            await client.post(
                f"{hub.sms}/_sim/config",
                json={kind + "_url": hub.sms_push_url(kind) for kind in ("receipt", "inbound")},
            )
        for service in SERVICES:
            await eventually(
                functools.partial(_broker_ready, hub.runtime(service)),
                what=f"{service} broker connection",
                timeout=30,
            )
        yield hub
    finally:
        for running in reversed(list(hub.apps.values())):
            running.server.should_exit = True
        for running in hub.apps.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.task, timeout=15)


async def _broker_ready(rt: ServiceRuntime) -> bool:
    return rt.broker_ready.is_set()


def crypto_under_test() -> str:
    """The suite tests run under: HUB_TEST_CRYPTO=national runs a suite again under SM4/SM3 (`make test`
    does so for intake and notification)."""
    return os.environ.get("HUB_TEST_CRYPTO", "international")


def make_settings(
    data_dir: Path, amqp_url: str, database_url: str | None, *, crypto: str | None = None, **extra: Any
) -> HubSettings:
    """Every service's settings in one (each bootstrap takes it as its own), on the test's backends."""
    return HubSettings(
        env=Environment.test,
        crypto=Suite(crypto or crypto_under_test()),
        data_dir=data_dir,
        amqp_url=amqp_url,
        database_url=database_url,
        retry_delays_ms=(200, 1000, 3000),
        relay_idle_poll_s=0.2,
        # In-process hubs: the suite runs 4 workers on 2 cores beside PostgreSQL, so a wait of 10 s (the
        # product's default, then 503) for a pooled connection is that load, not an outage. Process hubs
        # (tests/kit/processes.py: the proof suites, replicas) keep the product's default.
        # Tests written before gateway auth call /api/v1 without a token; authed_hub turns it on.
        **{"auth_required": False, "db_pool_timeout_s": 30, **extra},
    )
