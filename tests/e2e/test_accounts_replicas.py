"""Revocation across real processes: three `hub serve gateway` processes on one database (SQLite file
or PostgreSQL). A person signed in on one is served by all three; `hub users disable` (another
process again) and every gateway refuses the very next request. No replica holds a cache to expire."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.kit.http import http_client
from tests.kit.infra import free_port, isolated_backends
from tests.kit.waiting import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "e2e-account-password"


async def _ready(url: str) -> bool:
    try:
        async with http_client() as http:
            return (await http.get(f"{url}/healthz", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def _hub(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hubcli.main", *args,
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate(stdin.encode() if stdin else None)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def _serve_gateway(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hubcli.main", "serve", "gateway", "--port", str(port),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_disabled_person_is_refused_at_once_by_every_gateway_process(
    backend: str, tmp_path: Path
) -> None:
    async with isolated_backends(backend) as (amqp_url, db_url):
        env = {
            **os.environ,
            "HUB_ENV": "test",
            "HUB_DATA_DIR": str(tmp_path / "var"),
            "HUB_AMQP_URL": amqp_url,
            "HUB_DB_POOL_SIZE": "2",
            **({"HUB_DATABASE_URL": db_url} if db_url else {}),
        }
        await _hub(env, "migrate")
        await _hub(
            env, "users", "create", "e2e.centre", "--role", "centre", "--centre", "150203", "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        ports = [free_port() for _ in range(3)]
        gateways = [f"http://127.0.0.1:{port}" for port in ports]
        procs = [await _serve_gateway(env, port) for port in ports]
        try:
            for url in gateways:
                await eventually(lambda u=url: _ready(u), what=f"{url} up", timeout=60, interval=0.2)
            async with http_client() as http:
                login = await http.post(
                    f"{gateways[0]}/api/v1/auth/login", json={"username": "e2e.centre", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                for url in gateways:
                    assert (await http.get(f"{url}/api/v1/auth/me", headers=headers)).status_code == 200

                await _hub(env, "users", "disable", "e2e.centre")
                for url in gateways:
                    answer = await http.get(f"{url}/api/v1/auth/me", headers=headers)
                    assert answer.status_code == 401 and answer.json()["type"].endswith("/invalid-token"), url
        finally:
            for proc in procs:
                if proc.returncode is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                await asyncio.wait_for(proc.wait(), timeout=30)
