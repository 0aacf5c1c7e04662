"""A process answers at most HUB_MAX_IN_FLIGHT requests at once: the next is refused at once with 503 +
Retry-After, its handler never reached; probes are always answered; a finished request (even one that
failed) frees its place. What a client refused after an outage relies on: an answer, never a hang."""

from __future__ import annotations

import asyncio
import random

import httpx
from fastapi import FastAPI

from hub.admission import AdmitWithinCapacity
from hub.metrics import KitMetrics
from hub.problems import install_problem_handlers
from tests.kit.http import http_client


class Held:
    """An app whose /cases requests wait until released, counting the handlers entered."""

    def __init__(self, max_in_flight: int) -> None:
        self.release = asyncio.Event()
        self.entered = 0
        self.waiting = asyncio.Condition()
        self.metrics = KitMetrics("test")
        app = FastAPI()
        install_problem_handlers(app)
        app.add_middleware(
            AdmitWithinCapacity,
            max_in_flight=max_in_flight,
            retry_after_s=2,
            metrics=self.metrics,
            rng=random.Random(7),
        )

        @app.post("/cases")
        async def register() -> dict[str, str]:
            async with self.waiting:
                self.entered += 1
                self.waiting.notify_all()
            await self.release.wait()
            return {"status": "registered"}

        @app.post("/fails")
        async def fails() -> dict[str, str]:
            raise ValueError("a fault of the handler")

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        self.app = app

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return http_client(transport=transport, base_url="http://hub")

    async def until_entered(self, n: int) -> None:
        async with self.waiting:
            await self.waiting.wait_for(lambda: self.entered >= n)


async def test_past_the_bound_a_request_is_refused_at_once_saying_when_to_retry() -> None:
    held = Held(max_in_flight=3)
    async with held.client() as client:
        admitted = [asyncio.create_task(client.post("/cases")) for _ in range(3)]
        await held.until_entered(3)

        refused = await client.post("/cases")  # answered while the three still wait
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/overloaded")
        assert "请求过多" in refused.json()["detail"]
        assert 2 <= int(refused.headers["retry-after"]) <= 4
        assert held.entered == 3  # the refused request never reached a handler

        probe = await client.get("/healthz")  # a busy process is alive
        assert probe.status_code == 200

        held.release.set()
        assert [r.status_code for r in await asyncio.gather(*admitted)] == [200, 200, 200]
        assert (await client.post("/cases")).status_code == 200  # the places are free again

    rendered = held.metrics.render()[0].decode()
    assert "hub_http_refused_total 1.0" in rendered
    assert "hub_http_in_flight 0.0" in rendered


async def test_a_request_that_fails_frees_its_place() -> None:
    held = Held(max_in_flight=1)
    held.release.set()
    async with held.client() as client:
        for _ in range(3):
            assert (await client.post("/fails")).status_code == 500
        assert (await client.post("/cases")).status_code == 200


async def test_retry_after_is_spread_so_refused_clients_do_not_return_together() -> None:
    held = Held(max_in_flight=1)
    async with held.client() as client:
        first = asyncio.create_task(client.post("/cases"))
        await held.until_entered(1)
        waits = {int((await client.post("/cases")).headers["retry-after"]) for _ in range(40)}
        held.release.set()
        await first
    assert waits <= {2, 3, 4}
    assert len(waits) > 1
