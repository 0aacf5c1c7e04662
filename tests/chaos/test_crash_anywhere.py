"""Crash anywhere, lose nothing (TARGETS.md reliability 1), bounded and on loopback only.

Cases are posted at a steady pace while services are SIGKILLed at random moments and restarted,
and RabbitMQ is restarted once. A client retries a failed post with the same work-order number,
as 12345 does. Afterwards: every case registered exactly once, dispatched exactly once per
department, and its acceptance SMS handed to the provider at most once; all within 60 s after
the last recovery. Size: HUB_CHAOS_CASES (default 1500; the documented full run is 10000).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_replicas import _count
from tests.integration.test_walking_skeleton import CASE
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings
from tests.kit.processes import ProcessHub, process_hub
from tests.kit.quiescence import wait_quiescent
from tests.kit.sms import acceptance, unique_phone
from tests.kit.waiting import eventually

pytestmark = pytest.mark.chaos
CASES = int(os.environ.get("HUB_CHAOS_CASES", "1500"))
SERVICES = ("gateway", "intake", "referral", "notification")


async def _post_until_accepted(client: httpx.AsyncClient, hub: ProcessHub, i: int) -> str:
    body = {
        **CASE,
        "channel": "hotline12345",
        "source_ref": f"GD-CHAOS-{i:06d}",
        "reporter": {**CASE["reporter"], "phone": unique_phone(i)},
    }
    for _ in range(600):
        try:
            response = await client.post(f"{hub.gateway}/api/v1/cases", json=body, timeout=10)
            if response.status_code in (200, 201):
                case_no: str = response.json()["case_no"]
                return case_no
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)  # a real client's back-off before retrying the same work order
    raise AssertionError(f"work order {i} never accepted")


async def _restart_rabbitmq() -> None:
    await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)
    await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)


async def _chaos(hub: ProcessHub, stop: asyncio.Event, log: list[str], rng: random.Random) -> float:
    """Kill and restart services until told to stop; restart the broker once. Returns last recovery."""
    last_recovery = time.monotonic()
    broker_restarted = False
    while not stop.is_set():
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        if stop.is_set():
            break
        if not broker_restarted and len(log) >= 3:
            await _restart_rabbitmq()
            broker_restarted = True
            log.append("rabbitmq restarted")
        else:
            victim = rng.choice(SERVICES)
            await hub.kill(victim)
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            await hub.start(victim)
            log.append(f"{victim} killed and restarted")
        last_recovery = time.monotonic()
    assert broker_restarted, "the run was too short to restart the broker"
    return last_recovery


async def test_crash_anywhere_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("HUB_CHAOS_SEED", "20261122")))
    async with isolated_backends("postgresql") as (amqp_url, db_url):
        settings = make_settings(tmp_path, amqp_url, db_url)
        async with process_hub(settings, Path("test-artifacts/logs/chaos")) as hub:
            stop = asyncio.Event()
            log: list[str] = []
            chaos = asyncio.create_task(_chaos(hub, stop, log, rng))
            sem = asyncio.Semaphore(16)
            async with httpx.AsyncClient() as client:

                async def one(i: int) -> str:
                    async with sem:
                        return await _post_until_accepted(client, hub, i)

                case_nos = await asyncio.gather(*(one(i) for i in range(CASES)))
            stop.set()
            last_recovery = await chaos
            sms_count: list[Any] = []

            async def all_sms() -> int:
                sms_count[:] = acceptance(await hub.sms_received())  # type: ignore[arg-type]
                return len({m["params"]["case_no"] for m in sms_count})

            await eventually(all_sms, until=lambda n: n >= CASES, what="every acceptance SMS", timeout=60)
            await wait_quiescent(settings, timeout=60)
            settled_after = time.monotonic() - last_recovery

            cases = await _count(settings, "intake", "SELECT source_ref FROM cases")
            referrals = await _count(settings, "referral", "SELECT case_no, department, round FROM referrals")
            sms = acceptance(await hub.sms_received())  # type: ignore[arg-type]

    per_case_sms = Counter(m["params"]["case_no"] for m in sms)
    per_referral = Counter(referrals)
    print(
        f"\nchaos: {len(log)} disruptions ({', '.join(Counter(log).keys())}); cases posted={CASES} "
        f"registered={len(cases)} distinct case numbers={len(set(case_nos))} referrals={len(referrals)} "
        f"duplicate referrals={sum(n - 1 for n in per_referral.values())} acceptance SMS={len(sms)} "
        f"cases with SMS={len(per_case_sms)} duplicate SMS={sum(n - 1 for n in per_case_sms.values())} "
        f"settled {settled_after:.1f}s after the last recovery"
    )
    assert len(cases) == CASES == len(set(case_nos))
    assert len({c for c, _, _ in referrals}) == CASES and max(per_referral.values()) == 1
    assert len(per_case_sms) == CASES and max(per_case_sms.values()) == 1
    assert settled_after <= 60
