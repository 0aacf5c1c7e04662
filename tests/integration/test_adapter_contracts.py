"""Contract tests of each adapter's client against its simulator (no hub needed): every update we send
is accepted in the system's own style and signature scheme, a repeated request id is not applied
twice, and each failure is classified (retry or give up) as the docs say. Plus: the code tables in
each mapping.py are the tables in docs/adapters/<system>.md."""

from __future__ import annotations

import contextlib
import importlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.adapters.common import SYSTEMS, Delivery, SystemClient
from gateway.adapters.registry import adapter_specs
from gateway.settings import GatewaySettings
from tests.kit.http import http_client
from tests.kit.inprocess import RunningApp, _serve

DOCS = Path(__file__).resolve().parents[2] / "docs" / "adapters"

# system → (their number for a record the simulator holds, the record, the updates in a full life)
RECORDS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "hotline12345": (
        "GD20261122000777",
        {"orderNo": "GD20261122000777", "status": 0, "_progress": (0, 0)},
        ["registered", "dispatched", "acknowledged", "replied", "closed"],
    ),
    "police110": (
        "J15020300000020261122000777",
        {"jjdbh": "J15020300000020261122000777", "clzt": "0", "_progress": (0, 0)},
        ["registered", "replied", "closed"],
    ),
    "court": (
        "(2026)内0203民诉前调777号",
        {"ah": "(2026)内0203民诉前调777号", "tjzt": "0", "_progress": (0, 0)},
        ["registered", "replied", "closed"],
    ),
    "procuratorate12309": (
        "JCY1502032026112200777",
        {"clueNo": "JCY1502032026112200777", "handleStatus": 0, "_progress": (0, 0)},
        ["registered", "dispatched", "replied", "closed"],
    ),
}


def _delivery(system: str, update: str, ref: str | None, **data: Any) -> Delivery:
    return Delivery(
        id=1,
        update_id=str(uuid.uuid4()),
        case_no="ZZ-20261122-000777",
        system=system,
        update=update,
        round=1,
        data={"at": datetime.now(UTC).isoformat(), "department": "白云路街道社区工作办公室", **data},
        external_ref=ref,
    )


@asynccontextmanager
async def simulator(
    system: str, settings: GatewaySettings
) -> AsyncIterator[tuple[RunningApp, httpx.AsyncClient]]:
    module = importlib.import_module(f"gateway.adapters.{system}.simulator")
    running = await _serve(module.from_settings(settings))
    try:
        async with http_client() as http:
            yield running, http
    finally:
        running.server.should_exit = True
        with contextlib.suppress(Exception):
            await running.task


def _client(system: str, http: httpx.AsyncClient, settings: GatewaySettings) -> SystemClient:
    return adapter_specs()[system].make_client(http, settings)


@pytest.mark.parametrize("system", SYSTEMS)
async def test_every_update_is_accepted_once_in_the_systems_own_style(system: str) -> None:
    ref, record, updates = RECORDS[system]
    async with simulator(system, GatewaySettings()) as (running, http):
        settings = GatewaySettings(**{f"{system}_url": running.url})
        client = _client(system, http, settings)
        sim = running.app.state.sim
        sim.records[ref] = dict(record)
        sent = []
        for update in updates:
            delivery = _delivery(system, update, ref, outcome="mediated", summary="双方达成和解协议")
            outcome = await client.deliver(delivery)
            assert outcome.ok, (update, outcome)
            assert outcome.external_state is not None and not outcome.duplicate
            sent.append(delivery)
        assert len(sim.received) == len(updates) and sim.regressions == []
        # The same request id again (a crash after their answer, before our record): not applied twice.
        again = await client.deliver(sent[-1])
        assert again.ok and again.duplicate
        assert len(sim.received) == len(updates) and sim.duplicates == 1


@pytest.mark.parametrize("system", SYSTEMS)
async def test_failures_are_classified_as_the_docs_say(system: str) -> None:
    ref, record, _updates = RECORDS[system]
    async with simulator(system, GatewaySettings()) as (running, http):
        settings = GatewaySettings(**{f"{system}_url": running.url})
        client = _client(system, http, settings)
        sim = running.app.state.sim
        sim.records[ref] = dict(record)

        unknown = await client.deliver(_delivery(system, "registered", ref + "X"))
        assert not unknown.ok and not unknown.retryable  # their "does not exist": never better on retry
        wrong_key = _client(system, http, settings.model_copy(update={f"{system}_app_secret": "wrong"}))
        refused = await wrong_key.deliver(_delivery(system, "registered", ref))
        assert not refused.ok and refused.retryable and sim.rejected >= 1  # keys may be mid-rotation
        sim.fail_next = 1
        busy = await client.deliver(_delivery(system, "registered", ref))
        assert not busy.ok and busy.retryable  # their own "busy" code
        sim.down_until = float("inf")
        down = await client.deliver(_delivery(system, "registered", ref))
        assert not down.ok and down.retryable and "HTTP 503" in down.detail
        sim.down_until = 0.0
        gone = _client(system, http, settings.model_copy(update={f"{system}_url": "http://127.0.0.1:9"}))
        unreachable = await gone.deliver(_delivery(system, "registered", ref))
        assert not unreachable.ok and unreachable.retryable
        assert sim.received == []  # none of these was applied


async def test_12345_takes_a_return_and_an_extension_request_in_its_own_fields() -> None:
    ref, record, _ = RECORDS["hotline12345"]
    async with simulator("hotline12345", GatewaySettings()) as (running, http):
        client = _client("hotline12345", http, GatewaySettings(hotline12345_url=running.url))
        sim = running.app.state.sim
        sim.records[ref] = dict(record)
        asked = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
        extension = _delivery(
            "hotline12345",
            "extension_requested",
            ref,
            amount=3,
            reason="需现场勘验",
            requested_external_due_at=asked.isoformat(),
        )
        outcome = await client.deliver(extension)
        assert outcome.ok and outcome.external_state == "2"
        applied = sim.received[-1]
        assert (applied["action"], applied["delayDays"], applied["applyReason"]) == (
            "延期申请",
            3,
            "需现场勘验",
        )
        assert applied["applyLimitTime"] == "2026-11-27 18:00:00" and applied["delayId"]  # Beijing time
        returned = await client.deliver(
            _delivery("hotline12345", "returned", ref, reason_code="wrong_area", reason="事发地属邻区")
        )
        assert returned.ok and returned.external_state == "6"
        assert (sim.received[-1]["returnType"], sim.received[-1]["returnReason"]) == (2, "事发地属邻区")

        # Their required fields: a 延期申请 without days is refused as a parameter error, never retried.
        bad = await client.deliver(_delivery("hotline12345", "extension_requested", ref, reason="x"))
        assert not bad.ok and not bad.retryable and "40003" in bad.detail


async def test_a_case_referred_to_court_is_filed_and_gets_the_courts_new_number() -> None:
    async with simulator("court", GatewaySettings()) as (running, http):
        client = _client("court", http, GatewaySettings(court_url=running.url))
        outcome = await client.deliver(_delivery("court", "referred_to_court", None, outcome="unresolved"))
        assert outcome.ok and outcome.external_ref and "民初" in outcome.external_ref
        closed = await client.deliver(_delivery("court", "closed", outcome.external_ref))
        assert closed.ok and closed.external_state == "5"


async def test_court_outcomes_agreement_to_judicial_confirmation_failure_to_filing() -> None:
    ref, record, _ = RECORDS["court"]
    async with simulator("court", GatewaySettings()) as (running, http):
        client = _client("court", http, GatewaySettings(court_url=running.url))
        sim = running.app.state.sim
        for outcome, jglx in (("mediated", "2"), ("unresolved", "3")):
            sim.records[ref] = dict(record)
            result = await client.deliver(_delivery("court", "replied", ref, outcome=outcome))
            assert result.ok
            assert sim.received[-1]["jglx"] == jglx


def _doc_rows(system: str) -> list[str]:
    return [
        line
        for line in (DOCS / f"{system}.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("|")
    ]


def _has_row(rows: list[str], *cells: str) -> bool:
    return any(all(cell in row for cell in cells) for row in rows)


def test_code_tables_are_the_documented_tables() -> None:
    missing: list[str] = []
    for system, spec in adapter_specs().items():
        rows = _doc_rows(system)
        m = spec.mapping

        def need(*cells: str, system: str = system, rows: list[str] = rows) -> None:
            if not _has_row(rows, *cells):
                missing.append(f"{system}: {' | '.join(cells)}")

        for update, state in m.OUTBOUND.items():
            if "|" in state.action:  # court's reply depends on the outcome: its own table
                continue
            need(f"`{update}`", f"`{state.action}`", state.label, f"`{state.state}`")
        tables = {
            "hotline12345": lambda m: [
                *((f"`{k}`", v[1], f"`{v[0]}`") for k, v in m.ORDER_TYPES.items()),
                *((f"`{k}`", v[1], f"`{v[0]}`") for k, v in m.SATISFACTION.items()),
                *((f"`{k}`", v, f"`{m.STATUS_RANK[k]}`") for k, v in m.STATUS.items()),
                *((f"`{k}`", f"`{v[0]}`", v[1]) for k, v in m.HANDLE_RESULT.items()),
                *((f"`{k}`", f"`{v[0]}`", v[1]) for k, v in m.RETURN_TYPES.items()),
                *((f"`{k}`", v[1]) for k, v in m.AUDIT_RESULTS.items()),
            ],
            "police110": lambda m: [
                *((f"`{k}`", v[1], f"`{v[0]}`" if v[0] else "none") for k, v in m.INCIDENT_CLASSES.items()),
                *((f"`{k}`", v[1], f"`{v[0]}`") for k, v in m.FLAGS.items()),
                *((f"`{k}`", v) for k, v in m.STATE.items()),
                *((f"`{k}`", f"`{v[0]}`", v[1]) for k, v in m.MEDIATION_RESULT.items()),
            ],
            "court": lambda m: [
                *((k, f"`{v}`") for k, v in m.CAUSES.items()),
                *((f"`{k}`", v) for k, v in m.STATE.items()),
                *((f"`{k}`", f"`{v[0]}`", f"`{v[1]}`") for k, v in m.OUTCOMES.items()),
            ],
            "procuratorate12309": lambda m: [
                *((f"`{k}`", v[2], f"`{v[0]}`") for k, v in m.CLUE_TYPES.items()),
                *((f"`{k}`", v) for k, v in m.STATUS.items()),
                *((f"`{k}`", f"`{v[0]}`", v[1]) for k, v in m.RESULT_TYPES.items()),
            ],
        }[system](m)
        for cells in tables:
            need(*cells)
    assert missing == []


def test_every_documented_setting_of_each_adapter_exists() -> None:
    text = (DOCS.parent / "settings.md").read_text(encoding="utf-8")
    for system in SYSTEMS:
        for suffix in ("URL", "APP_KEY", "APP_SECRET", "WEBHOOK_SECRET"):
            assert f"`HUB_{system.upper()}_{suffix}`" in text
        assert re.search(rf"`HUB_SIM_{system.upper()}_PORT`", text)
