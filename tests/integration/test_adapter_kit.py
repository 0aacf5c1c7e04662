"""Shared by the adapter tests: the in-process hub with the four external-system simulators, the
gateway's adapters pointed at them and the simulators pushing to the gateway. (No tests here.)"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from gateway.adapters.common import SYSTEMS
from gateway.adapters.security import signed_headers
from gateway.settings import GatewaySettings
from hubcli.services import HubSettings
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, RunningApp, _serve, make_settings, running_hub
from tests.kit.waiting import eventually

# Short back-off so outages in tests are seconds, not minutes (bounded waits everywhere).
FAST = {
    "adapter_retry_base_s": 0.2,
    "adapter_retry_max_s": 1.0,
    "adapter_max_attempts": 40,
}


@dataclass
class AdapterHub:
    hub: InProcessHub
    sims: dict[str, RunningApp]
    client: httpx.AsyncClient

    @property
    def gateway(self) -> str:
        return self.hub.gateway

    @property
    def settings(self) -> HubSettings:
        return self.hub.settings

    def sim_url(self, system: str) -> str:
        return self.sims[system].url

    def sim_state(self, system: str) -> Any:
        return self.sims[system].app.state.sim

    async def sim(self, system: str, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, self.sim_url(system) + path, **kwargs)
        assert response.status_code < 500, response.text
        return response.json()

    async def received(self, system: str, ref: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.sim(system, "GET", "/_sim/received"))["items"]
        return [i for i in items if ref is None or i["ref"] == ref]

    async def regressions(self, system: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.sim(system, "GET", "/_sim/regressions"))["items"]
        return items

    async def push_signed(
        self, system: str, path: str, payload: Any, *, secret: str | None = None, at: datetime | None = None
    ) -> httpx.Response:
        """Push as the system does, with our own hands (for tampering in security tests)."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        secret = secret or getattr(self.settings, f"{system}_webhook_secret")
        headers = signed_headers(secret, body, at or datetime.now(UTC))
        return await self.client.post(
            f"{self.gateway}/adapters/{system}{path}", content=body, headers=headers
        )

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.gateway}/api/v1/ops/adapter-deliveries", params={"page_size": 500, **params}
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def timeline(self, case_no: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"{self.gateway}/api/v1/cases/{case_no}/timeline")
        if response.status_code == 404:
            return []
        items: list[dict[str, Any]] = response.json()
        return items

    async def events_of(self, case_no: str, event: str) -> list[dict[str, Any]]:
        return [e for e in await self.timeline(case_no) if e["event"] == event]

    async def case(self, case_no: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.gateway}/api/v1/cases/{case_no}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def lead_referral(self, case_no: str) -> dict[str, Any]:
        case = await eventually(
            lambda: self.case(case_no),
            until=lambda c: any(r["role"] == "lead" and r["status"] == "dispatched" for r in c["referrals"]),
            what=f"{case_no} dispatched",
        )
        lead: dict[str, Any] = next(
            r for r in case["referrals"] if r["role"] == "lead" and r["status"] == "dispatched"
        )
        return lead

    async def department(self, referral: dict[str, Any], action: str, body: Any = None) -> dict[str, Any]:
        """A department acts on its referral through the gateway (auth off: actor headers)."""
        headers = {"X-Hub-Actor-Role": "department", "X-Hub-Actor-Department": referral["department"]}
        response = await self.client.post(
            f"{self.gateway}/api/v1/referrals/{referral['id']}/{action}", headers=headers, json=body
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def acknowledge_and_reply(
        self, case_no: str, outcome: str = "resolved", summary: str = "已现场处理完毕"
    ) -> None:
        lead = await self.lead_referral(case_no)
        await self.department(lead, "acknowledge")
        await self.department(lead, "reply", {"outcome": outcome, "summary": summary})

    async def centre(self, case_no: str, action: str, body: Any = None) -> httpx.Response:
        return await self.client.post(
            f"{self.gateway}/api/v1/cases/{case_no}/{action}",
            headers={"X-Hub-Actor-Role": "centre"},
            json=body,
        )

    async def count_cases(self, channel: str, source_ref: str | None = None) -> int:
        """Cases intake holds for a channel (and reference): "nothing created" is checked here."""
        from services.intake.tables import cases

        conditions = [cases.c.channel == channel]
        if source_ref is not None:
            conditions.append(cases.c.source_ref == source_ref)
        async with self.hub.runtime("intake").db.sessions() as session:
            return int(
                (
                    await session.execute(select(func.count()).select_from(cases).where(*conditions))
                ).scalar_one()
            )

    async def wait_received(
        self, system: str, ref: str, count: int, timeout: float = 30
    ) -> list[dict[str, Any]]:
        return await eventually(
            lambda: self.received(system, ref),
            until=lambda items: len(items) >= count,
            timeout=timeout,
            what=f"{count} updates at the {system} simulator for {ref}",
        )

    async def wait_quiet(self, case_no: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Until no delivery of the case is pending or being sent. True too before a later update's
        delivery is recorded: wait for what should arrive first (`wait_received`), then for this."""
        return await eventually(
            lambda: self.deliveries(case_no=case_no),
            until=lambda rows: bool(rows) and all(r["status"] not in ("pending", "sending") for r in rows),
            timeout=timeout,
            what=f"deliveries of {case_no} settled",
        )


def simulator_app(system: str, settings: GatewaySettings) -> Any:
    module = importlib.import_module(f"gateway.adapters.{system}.simulator")
    return module.from_settings(settings)


def available_systems() -> list[str]:
    return [s for s in SYSTEMS if importlib.util.find_spec(f"gateway.adapters.{s}.simulator") is not None]


@asynccontextmanager
async def adapter_hub(backend: str, tmp_path: Path, **extra: Any) -> AsyncIterator[AdapterHub]:
    base = GatewaySettings(**{k: v for k, v in extra.items() if k.endswith("_secret") or k.endswith("_key")})
    sims: dict[str, RunningApp] = {}
    try:
        for system in available_systems():
            sims[system] = await _serve(simulator_app(system, base))
        urls = {f"{system}_url": sims[system].url for system in sims}
        async with (
            isolated_backends(backend) as (amqp_url, db_url),
            running_hub(make_settings(tmp_path, amqp_url, db_url, **{**FAST, **urls, **extra})) as hub,
            http_client() as client,
        ):
            for running in sims.values():
                running.app.state.sim.hub_url = hub.gateway
            yield AdapterHub(hub, sims, client)
    finally:
        for running in sims.values():
            running.server.should_exit = True
        for running in sims.values():
            with contextlib.suppress(Exception):
                await running.task
