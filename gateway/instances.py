"""The gateway checks, at start, that the services behind its URLs belong to its own hub.

Each service says on `/healthz` which instance it is (hub/config.py `Settings.instance`). A URL that
leads to another hub's service (two hubs on one machine, a port set twice) would put cases into the
other hub's database; the services already refuse a credential naming another instance, and here the
gateway reports the mismatch where ops look, on `/readyz`, so a load balancer never sends it traffic.
A service not reached yet is not a mismatch: readiness does not wait on the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

log = logging.getLogger(__name__)


class UpstreamInstances:
    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str], instance: str) -> None:
        self.client = client
        self.urls = urls
        self.instance = instance
        self.seen: dict[str, str] = {}

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Ask each service once it answers; done when every one has."""
        while not stop.is_set() and len(self.seen) < len(self.urls):
            for service, url in self.urls.items():
                if service not in self.seen:
                    await self._ask(service, url)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def _ask(self, service: str, url: str) -> None:
        try:
            answer = await self.client.get(f"{url}/healthz", timeout=2)
            named = answer.json().get("instance")
        except (httpx.HTTPError, ValueError, AttributeError):
            return  # not up yet (or not a hub service): asked again
        if isinstance(named, str):
            self.seen[service] = named
            if named != self.instance:
                log.error("%s at %s belongs to hub instance %s, not %s", service, url, named, self.instance)

    async def check(self) -> tuple[str, str]:
        wrong = [f"{s} at {self.urls[s]} is instance {i}" for s, i in self.seen.items() if i != self.instance]
        if not wrong:
            return "upstreams", "ok"
        return "upstreams", f"another hub's services (this hub is {self.instance}): " + "; ".join(wrong)
