"""Two hubs on one machine: `hub up` binds every port before anything starts. A port in the way is a
clear error and a non-zero exit; otherwise the second hub runs beside the first (its internal ports
move to free ones) and each case lands in its own hub's database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from hub.config import Environment, Settings
from tests.integration.test_walking_skeleton import CASE
from tests.kit.auth import bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.infra import bound_socket, free_port, isolated_backends
from tests.kit.waiting import eventually

pytestmark = pytest.mark.e2e


def _env(settings: Settings, **ports: int) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_AMQP_URL": settings.amqp_url,
        **{f"HUB_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }


def _hub_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hubcli.main", "up"], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("taken", ["gateway", "intake"])
async def test_a_port_in_the_way_is_a_clear_error_and_nothing_starts(taken: str, tmp_path: Path) -> None:
    other = bound_socket()  # someone else listens there (a listening socket)
    port = other.getsockname()[1]
    settings = Settings(env=Environment.test, data_dir=tmp_path / "var")
    ports = {"gateway": free_port(), taken: port}  # the taken one set explicitly
    try:
        done = await asyncio.to_thread(_hub_up, _env(settings, **ports))
    finally:
        other.close()
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert f"port {port}" in out and f"HUB_{taken.upper()}_PORT" in out, out
    assert not (tmp_path / "var").exists()  # refused before migrating or starting anything


async def _ready(url: str) -> bool:
    try:
        async with http_client() as client:
            answer = await client.get(f"{url}/readyz", timeout=2)
            return answer.status_code == 200 and answer.json()["status"] == "ready"
    except httpx.HTTPError:
        return False


@asynccontextmanager
async def _running_hub(settings: Settings, gateway_port: int, log: Path) -> AsyncIterator[str]:
    """`hub up` on embedded SQLite with only the gateway's port set; its base URL once it serves."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hubcli.main",
            "up",
            env=_env(settings, gateway=gateway_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{gateway_port}"
    try:
        await eventually(lambda: _ready(url), what=f"hub at {url} ready", timeout=120, interval=0.5)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=60)


async def test_two_hubs_side_by_side_each_keep_their_own_cases(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        hubs: list[tuple[Settings, str]] = []
        for name in ("first", "second"):
            amqp_url, _ = await stack.enter_async_context(isolated_backends("sqlite"))
            settings = Settings(env=Environment.test, data_dir=tmp_path / name, amqp_url=amqp_url)
            url = await stack.enter_async_context(
                _running_hub(settings, free_port(), tmp_path / f"{name}-hub-up.log")
            )
            hubs.append((settings, url))
        assert hubs[0][0].instance() != hubs[1][0].instance()

        registered: list[tuple[str, str, str]] = []  # (hub url, case number, title)
        for i, (settings, url) in enumerate(hubs):
            headers = bearer(await fetch_token(url, await create_client(settings, "centre")))
            title = f"{CASE['title']}（第{i + 1}个平台）"
            async with http_client(base_url=url, headers=headers) as client:
                response = await client.post("/api/v1/cases", json={**CASE, "title": title})
            assert response.status_code == 201, response.text
            registered.append((url, response.json()["case_no"], title))

        # Each hub finds its own case under its number, never the other hub's.
        for (settings, url), (_, case_no, title) in zip(hubs, registered, strict=True):
            headers = bearer(await fetch_token(url, await create_client(settings, "centre")))
            async with http_client(base_url=url, headers=headers) as client:
                found = await client.get(f"/api/v1/cases/{case_no}")
            assert found.status_code == 200 and found.json()["title"] == title, found.text
        print(f"\ntwo hubs side by side: {[(u, no) for u, no, _ in registered]}")
