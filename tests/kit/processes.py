"""The hub as real processes (`hub serve …`), for tests that SIGKILL and restart a service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.config import SERVICES
from hubcli.services import HubSettings, migrate_all
from tests.kit.http import http_client
from tests.kit.infra import bound_socket
from tests.kit.waiting import eventually


@dataclass
class ProcessHub:
    settings: HubSettings
    env: dict[str, str]
    log_dir: Path
    ports: dict[str, int]
    sockets: dict[str, socket.socket]
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    async def start(self, name: str, **env: str) -> None:
        # The process serves on the socket this hub holds for it (`--fd`): its port cannot be taken by
        # another test worker between runs, and a restarted process picks up where the killed one was.
        fd = self.sockets[name].fileno()
        command = ["sim", "sms"] if name == "sms" else ["serve", name]
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "hubcli.main", *command, "--fd", str(fd)],
            env={**os.environ, **self.env, **self.extra_env.get(name, {}), **env},
            stdout=log,
            stderr=log,
            pass_fds=(fd,),
        )
        log.close()
        await eventually(lambda: self._ready(name), what=f"{name} ready", timeout=60, interval=0.1)

    async def _ready(self, name: str) -> bool:
        proc = self.procs[name]
        if proc.returncode is not None:
            raise AssertionError(
                f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
            )
        path = "/_sim/received" if name == "sms" else "/readyz"
        try:
            async with http_client() as client:
                answer = await client.get(self.url(name) + path, timeout=2)
            # "ready", not merely 200: a process answers 200 "degraded" before its broker set-up is done.
            return answer.status_code == 200 and (name == "sms" or answer.json()["status"] == "ready")
        except httpx.HTTPError:
            return False

    async def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hooks, no flushing: what a power cut or OOM kill does."""
        proc = self.procs[name]
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()

    async def wait_exit(self, name: str, timeout: float = 60) -> int:
        return await asyncio.wait_for(self.procs[name].wait(), timeout=timeout)

    async def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()

    async def sms_received(self) -> list[dict[str, object]]:
        async with http_client() as client:
            items: list[dict[str, object]] = (await client.get(self.url("sms") + "/_sim/received")).json()[
                "items"
            ]
            return items


@asynccontextmanager
async def process_hub(
    settings: HubSettings,
    log_dir: Path,
    start: tuple[str, ...] = ("sms", "intake", "referral", "notification", "gateway"),
    env: dict[str, str] | None = None,
) -> AsyncIterator[ProcessHub]:
    """`env`: more settings for every process (e.g. HUB_OUTBOX_RETENTION_DAYS)."""
    await asyncio.to_thread(migrate_all, settings)
    sockets = {name: bound_socket() for name in (*SERVICES, "sms")}
    ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
    env = {
        **(env or {}),
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_AMQP_URL": settings.amqp_url,
        "HUB_SMS_URL": f"http://127.0.0.1:{ports['sms']}",
        "HUB_RETRY_DELAYS_MS": "[200,1000,3000]",
        "HUB_RELAY_IDLE_POLL_S": "0.2",
        "HUB_LEASE_S": "3",
        "HUB_AUTH_REQUIRED": "true" if settings.auth_required else "false",
        # The suite and keys of the test's settings (HUB_TEST_CRYPTO=national reaches the processes too).
        "HUB_CRYPTO": settings.crypto.value,
        "HUB_PII_KEY": settings.pii_key,
        "HUB_HASH_KEY": str(settings.hash_key),
        **{f"HUB_{s.upper()}_URL": f"http://127.0.0.1:{ports[s]}" for s in SERVICES},
    }
    if settings.database_url:
        env["HUB_DATABASE_URL"] = settings.database_url
    if settings.otlp_endpoint:
        env["HUB_OTLP_ENDPOINT"] = settings.otlp_endpoint
    # Spans of every process land beside its logs, for the personal-data scan.
    env["HUB_TRACE_FILE"] = str(settings.trace_file or (log_dir / "spans.jsonl"))
    log_dir.mkdir(parents=True, exist_ok=True)
    hub = ProcessHub(settings, env, log_dir, ports, sockets)
    try:
        for name in start:
            await hub.start(name)
        yield hub
    finally:
        await hub.stop_all()
        for sock in sockets.values():
            sock.close()
