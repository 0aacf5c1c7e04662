"""README's run command from a fresh clone: `make run` brings the hub up on embedded defaults, a case
goes through to an SMS, and Ctrl-C stops everything. (README's test command is what CI runs on a
fresh clone: `.ci/run` → `make test`.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.test_walking_skeleton import CASE
from tests.kit.http import http_client
from tests.kit.infra import free_port, fresh_vhost
from tests.kit.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


async def _get(url: str) -> httpx.Response | None:
    try:
        async with http_client() as client:
            return await client.get(url, timeout=2)
    except httpx.HTTPError:
        return None


async def test_make_run_from_a_fresh_clone_serves_a_case_end_to_end(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    await asyncio.to_thread(subprocess.run, ["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # The two ports the test reads; `hub up` chooses the services' own (their defaults when free).
    ports = {name: free_port() for name in ("GATEWAY", "SIM_SMS")}
    log = (tmp_path / "make-run.log").open("wb")
    async with fresh_vhost() as amqp_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "VIRTUAL_ENV"))},
            "HUB_AMQP_URL": amqp_url,
            **{f"HUB_{name}_PORT": str(port) for name, port in ports.items()},
        }
        proc = await asyncio.create_subprocess_exec(
            "make", "run", cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
            ready = await eventually(
                lambda: _get(f"{gateway}/readyz"),
                until=lambda r: r is not None and r.status_code == 200,
                what="gateway ready after make run",
                timeout=300,
                interval=0.5,
            )
            assert ready is not None
            # A newcomer's first client, created the way the README says, with the same environment.
            created = await asyncio.create_subprocess_exec(
                *(".venv/bin/hub", "clients", "create", "--role", "centre"),
                cwd=clone,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(created.communicate(), timeout=120)
            assert created.returncode == 0, err.decode()
            printed = dict(line.split(": ", 1) for line in out.decode().splitlines() if ": " in line)
            async with http_client() as client:
                token = await client.post(
                    f"{gateway}/api/v1/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": printed["client_id"],
                        "client_secret": printed["client_secret"],
                    },
                    timeout=30,
                )
                assert token.status_code == 200, token.text
                bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
                unauthenticated = await client.post(f"{gateway}/api/v1/cases", json=CASE, timeout=30)
                assert unauthenticated.status_code == 401  # `make run` requires tokens
                # Red: exempt from citizens' quiet hours (21:00-08:00), so the SMS is due at any hour.
                red = {**CASE, "people_involved": 40, "flags": ["mass_gathering_risk"]}
                response = await client.post(f"{gateway}/api/v1/cases", json=red, headers=bearer, timeout=30)
            assert response.status_code == 201, response.text
            case_no = response.json()["case_no"]
            sim = f"http://127.0.0.1:{ports['SIM_SMS']}/_sim/received"
            got = await eventually(
                lambda: _get(sim),
                until=lambda r: r is not None and any(case_no in m["text"] for m in r.json()["items"]),
                what="acceptance SMS at the simulator",
                timeout=60,
            )
            assert got is not None
            assert (clone / "var" / "intake.db").exists()  # embedded SQLite under ./var
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
            code = await asyncio.wait_for(proc.wait(), timeout=60)
            log.close()
        assert code in (0, 2, 130, -2), (tmp_path / "make-run.log").read_text()[-2000:]
        for port in ports.values():  # every service process is gone: its port is free again
            assert await _get(f"http://127.0.0.1:{port}/healthz") is None
