"""The infrastructure away under a steady load (issue 16's outage proof), bounded and on loopback only.

Work orders arrive at a steady HUB_OUTAGE_RATE per second (default 5) from a client that behaves as
12345's does (tests/kit/reliability.py: the same work-order number until accepted, a 503's Retry-After
honoured). Meanwhile RabbitMQ is stopped for HUB_OUTAGE_BROKER_S seconds, then, after a calm spell,
PostgreSQL for HUB_OUTAGE_DB_S seconds. Full size: 60 and 180 (the issue's); `make test` runs 15 and 45.
PostgreSQL is a private cluster of this test (tests/kit/private_postgres.py): the shared server is never
stopped. RabbitMQ is the shared broker, stopped with `rabbitmqctl stop_app` as the chaos test restarts it
(chaos tests run alone, after the rest of the suite).

Shown: the gateway answers every request throughout, within the client's timeout (35 s: above the
gateway's own bound on a call to a service, 30 s): 201, or 503 with Retry-After, never a hang; no dead letter; afterwards every work order registered once, dispatched
once per department, its acceptance SMS sent once; the hub at rest within 120 s of the database's
return (the load goes on 10 s after it; a client refused near the end waits up to 30 s to try again).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest

from hub.config import SERVICES
from tests.chaos.work_orders import work_order
from tests.kit.infra import fresh_vhost
from tests.kit.inprocess import make_settings
from tests.kit.private_postgres import private_postgres
from tests.kit.processes import process_hub
from tests.kit.quiescence import wait_quiescent
from tests.kit.reliability import (
    ARTIFACTS,
    Client,
    LoadLog,
    consumer_outcomes,
    dead_letters,
    failed,
    report,
    steady_load,
    tally,
)
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

pytestmark = pytest.mark.chaos
RATE = float(os.environ.get("HUB_OUTAGE_RATE", "5"))
BROKER_S = float(os.environ.get("HUB_OUTAGE_BROKER_S", "15"))
DB_S = float(os.environ.get("HUB_OUTAGE_DB_S", "45"))
CALM_S = 10.0  # steady load before, between and after the outages
CLIENT_TIMEOUT_S = 35.0
SETTLE_S = 120.0  # the load goes on 10 s; clients refused at the end wait up to 30 s


def _rabbitmqctl(action: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", action], check=True, timeout=120)


def _answers(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} × {n}" for status, n in sorted(counts.items())) or "none"


async def test_the_gateway_answers_through_broker_and_database_outages_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    async with fresh_vhost() as amqp_url, private_postgres() as pg:
        settings = make_settings(tmp_path, amqp_url, await pg.create_database())
        async with process_hub(settings, ARTIFACTS / "logs" / "outage") as hub:
            log = LoadLog()
            client = Client(hub.gateway, log, timeout=CLIENT_TIMEOUT_S)
            stop = asyncio.Event()
            tasks: list[asyncio.Task[str]] = []
            load = asyncio.create_task(
                steady_load(client, partial(work_order, "OUTAGE"), rate=RATE, stop=stop, tasks=tasks)
            )
            try:
                # The scenario's schedule (a steady load with outages at set times), not a synchronisation.
                load_began = time.monotonic()
                await asyncio.sleep(CALM_S)
                broker_down = time.monotonic()
                if BROKER_S > 0:  # 0: the database outage alone
                    await asyncio.to_thread(_rabbitmqctl, "stop_app")
                    broker_down = time.monotonic()
                    await asyncio.sleep(BROKER_S)
                    await asyncio.to_thread(_rabbitmqctl, "start_app")
                broker_up = time.monotonic()
                await asyncio.sleep(CALM_S)
                await pg.stop("fast")
                db_down = time.monotonic()
                await asyncio.sleep(DB_S)
                await pg.start()
                db_up = time.monotonic()
                await asyncio.sleep(CALM_S)
            finally:
                stop.set()
                await load
            case_nos = await asyncio.gather(*tasks)
            exited = {name: p.returncode for name, p in hub.procs.items() if p.returncode is not None}

            async def sms_cases() -> int:
                return len({m["params"]["case_no"] for m in acceptance(await hub.sms_received())})

            await eventually(
                sms_cases, until=lambda n: n >= len(tasks), what="every acceptance SMS", timeout=120
            )
            await wait_quiescent(settings, timeout=120)
            settled_after = time.monotonic() - db_up
            counted = await tally(settings, log.posted, await hub.sms_received())
            dead, unavailable = await dead_letters(hub.gateway)
            outcomes = await consumer_outcomes({s: hub.url(s) for s in SERVICES})
            await client.close()

    answers = log.statuses()
    not_an_answer = {s: n for s, n in answers.items() if s not in ("200", "201", "503+Retry-After")}
    failures = failed(
        {
            f"processes exited: {exited}": not exited,
            f"answers other than 201 or 503 with Retry-After: {not_an_answer}": not not_an_answer,
            "dead letters": dead == 0 and not unavailable and outcomes["dead_lettered"] == 0,
            "work orders lost or duplicated": len(set(case_nos)) == counted.work_orders == counted.registered
            and counted.lost == 0
            and counted.duplicates == 0,
            f"not settled within {SETTLE_S:.0f} s": settled_after <= SETTLE_S,
        }
    )
    report(
        "outage",
        f"{RATE:g} cases/s; RabbitMQ stopped {BROKER_S:g} s, PostgreSQL stopped {DB_S:g} s",
        [
            ("answers, all", _answers(answers)),
            *(
                (f"  {phase}", f"{_answers(log.statuses(since, until))}; {log.latency(since, until)}")
                for phase, since, until in (
                    ("before", load_began, broker_down),
                    ("broker away", broker_down, broker_up),
                    ("between", broker_up, db_down),
                    ("database away", db_down, db_up),
                    ("after", db_up, float("inf")),
                )
            ),
            ("unanswered (timeout)", f"{log.unanswered()} (client timeout {CLIENT_TIMEOUT_S:g} s)"),
            ("broker away, measured", f"{broker_up - broker_down:.0f} s"),
            ("database away, measured", f"{db_up - db_down:.0f} s"),
            *counted.figures(),
            ("dead letters", f"{dead}" + (f" (unavailable: {unavailable})" if unavailable else "")),
            (
                "consumer outcomes",
                ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
            ),
            ("settled after the database returned", f"{settled_after:.0f} s"),
        ],
        time.monotonic() - began,
        failures,
    )
    assert not failures, failures
