"""One case through every service over RabbitMQ, in one trace (issue: platform and walking skeleton)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.kit.auth import auth_headers, authed_hub
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.quiescence import wait_quiescent
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module

CASE = {
    "channel": "window",
    "request_type": "complaint",
    "title": "楼上私改公共烟道",
    "description": "楼上邻居私自改动公共烟道，油烟倒灌半年，多次协商无果",
    "reporter": {"name": "王女士", "phone": "13812341234"},
    "location": {"address": "昆都仑区阿尔丁大街某小区3栋2单元", "street_code": "150203001000"},
    "people_involved": 2,
}


async def post_case(hub: InProcessHub, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    """Register a case as a centre client (its bearer token works whether or not auth is required).
    A citizen's client waits as long as the gateway may take (the first registration of a process loads
    the word segmenter: a second when idle, more on a loaded machine)."""
    async with http_client() as client:
        return await client.post(
            f"{hub.gateway}/api/v1/cases", json=body or CASE, headers={**await auth_headers(hub), **headers}
        )


async def timeline(hub: InProcessHub, case_no: str) -> list[dict[str, Any]]:
    async with http_client() as client:
        response = await client.get(
            f"{hub.gateway}/api/v1/cases/{case_no}/timeline", headers=await auth_headers(hub)
        )
        return response.json() if response.status_code == 200 else []


async def test_case_travels_gateway_intake_referral_notification_in_one_trace(
    authed_hub: InProcessHub, spans: InMemorySpanExporter
) -> None:
    hub = authed_hub
    response = await post_case(hub)
    assert response.status_code == 201, response.text
    registered = response.json()
    case_no, trace_id = registered["case_no"], registered["trace_id"]
    assert case_no.startswith("ZZ-") and len(trace_id) == 32

    await eventually(hub.sms_received, until=lambda items: acceptance(items, case_no), what="acceptance SMS")
    await wait_quiescent(hub.settings)
    sms = acceptance(await hub.sms_received(), case_no)
    assert len(sms) == 1
    assert sms[0]["phone"] == "13812341234"
    assert case_no in sms[0]["text"] and sms[0]["text"].startswith("【昆都仑区综治中心】")

    entries = await eventually(
        lambda: timeline(hub, case_no),
        until=lambda rows: (
            {r["event"] for r in rows}
            >= {"case.registered.v1", "referral.dispatched.v1", "notification.sent.v1"}
        ),
        what="timeline of all three services",
    )
    assert {e["service"] for e in entries} >= {"intake", "referral", "notification"}
    assert all(e["trace_id"] == trace_id and len(e["span_id"]) == 16 for e in entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    # Each handoff: who (role and department, never a person), and the wait since the previous one.
    assert entries[0]["since_previous_ms"] is None
    for before, after in pairwise(entries):
        gap = datetime.fromisoformat(after["at"]) - datetime.fromisoformat(before["at"])
        assert after["since_previous_ms"] == int(gap.total_seconds() * 1000)
    assert all(set(e["actor"]) <= {"service", "role", "department"} for e in entries)
    assert all(e["actor"]["service"] == e["service"] for e in entries)
    assert all(e["linked_trace_id"] is None for e in entries)  # one trace: nothing resumed later

    async with http_client() as client:
        case = (
            await client.get(f"{hub.gateway}/api/v1/cases/{case_no}", headers=await auth_headers(hub))
        ).json()
    assert case["status"] == "dispatched"
    leads = [r for r in case["referrals"] if r["role"] == "lead"]
    assert len(leads) == 1
    assert len({r["department"] for r in case["referrals"]}) == len(case["referrals"])  # once per department

    # Every span of the flow, in every service, belongs to the case's one trace.
    flow = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in flow}
    assert "POST /api/v1/cases" in names  # gateway server span
    assert "POST /internal/v1/cases" in names  # intake server span, reached over traced httpx
    assert "referral.case-events handle case.registered.v1" in names
    assert "notification.events handle referral.dispatched.v1" in names
    assert "sms send case_accepted" in names
    assert any(n.endswith("publish") for n in names)  # the outbox relay continued the trace
    span_ids = {format(s.context.span_id, "016x") for s in flow}
    assert {e["span_id"] for e in entries} <= span_ids  # timeline points at real exported spans


async def test_bad_case_is_refused_with_problem_details_and_nothing_is_written(
    authed_hub: InProcessHub,
) -> None:
    hub = authed_hub
    bad = {**CASE, "people_involved": 0, "reporter": {"name": "王女士", "phone": "12345"}}
    response = await post_case(hub, bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    fields = {e["field"] for e in problem["errors"]}
    assert {"people_involved", "reporter.phone"} <= fields
    async with hub.runtime("intake").db.sessions() as session:
        from sqlalchemy import func, select

        from services.intake.tables import cases

        assert (await session.execute(select(func.count()).select_from(cases))).scalar_one() == 0


async def test_every_service_reports_health_and_readiness(authed_hub: InProcessHub) -> None:
    hub = authed_hub  # health, readiness and metrics stay outside bearer auth
    instance = hub.settings.instance()  # one hub: every process names the same instance
    async with http_client() as client:
        for service in ("gateway", "intake", "referral", "notification"):
            url = hub.apps[service].url
            health = (await client.get(f"{url}/healthz")).json()
            assert health == {"status": "ok", "service": service, "instance": instance}
            ready = await client.get(f"{url}/readyz")
            assert ready.status_code == 200
            upstreams = {"upstreams": "ok"} if service == "gateway" else {}
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok", **upstreams}
            metrics = await client.get(f"{url}/metrics")
            assert "hub_outbox_pending" in metrics.text
