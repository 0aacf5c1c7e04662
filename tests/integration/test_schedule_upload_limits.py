"""Hostile holiday-schedule uploads (issue 16): a 200 KB body is refused by its size, a small document of
nested aliases (the "billion laughs", 14 s of parsing before) is refused before it expands, a list longer
than a year is refused, each with problem details and nothing loaded; the parse runs off the event loop,
so referral's /healthz keeps answering meanwhile. Figures printed (not asserted: timing is for
benchmarks)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

pytestmark = pytest.mark.integration


def _alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["2027-01-01"]']
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(9))}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nyear: 2027\nholidays: *a{levels - 1}\n"


async def test_hostile_schedules_are_refused_quickly_and_health_keeps_answering(hub: InProcessHub) -> None:
    referral = hub.url("referral")
    headers = as_actor("referral", "centre")
    big = "year: 2027\nholidays:\n" + "".join(f"  - 2027-01-{1 + i % 28:02d}\n" for i in range(200_000 // 16))
    too_many = "year: 2027\nholidays:\n" + "".join(
        f"  - 2027-{1 + i // 28:02d}-{1 + i % 28:02d}\n" for i in range(400)
    )
    cases = {"200 KB": big, "alias bomb": _alias_bomb(), "400 entries": too_many}
    async with http_client(base_url=referral) as client:
        before = (await client.get("/internal/v1/calendar", headers=headers)).json()
        for name, text in cases.items():
            upload = asyncio.create_task(
                client.post("/internal/v1/calendar/schedules", json={"text": text}, headers=headers)
            )
            started = time.perf_counter()
            health: list[float] = []
            while not upload.done():
                t0 = time.perf_counter()
                assert (await client.get("/healthz")).status_code == 200
                health.append(time.perf_counter() - t0)
            refused = await upload
            took = time.perf_counter() - started
            assert refused.status_code == 422, (name, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
            worst = max(health, default=0.0)
            print(
                f"\n{name} ({len(text):,} chars): refused in {took * 1000:.0f} ms; /healthz worst {worst * 1000:.0f} ms"
            )
        after = (await client.get("/internal/v1/calendar", headers=headers)).json()
    assert after == before  # nothing loaded
