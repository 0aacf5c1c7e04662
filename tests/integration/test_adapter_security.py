"""Inbound webhooks of all four systems: a bad signature, a stale (or future) timestamp, missing
headers or a replayed request → 401 problem details, and nothing is created (TARGETS.md reliability 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.adapters.court.simulator import mediation_request
from gateway.adapters.hotline12345.simulator import work_order
from gateway.adapters.police110.simulator import incident
from gateway.adapters.procuratorate12309.simulator import clue
from gateway.adapters.security import purge_nonces, signed_headers
from gateway.adapters.simkit import SimState
from gateway.tables import adapter_nonces
from tests.integration.test_adapter_kit import AdapterHub, adapter_hub

pytestmark = pytest.mark.integration

STATE = SimState("tests", "unused")


def _payloads() -> dict[str, tuple[str, dict[str, Any], str]]:
    order, inc, req, sub = work_order(STATE), incident(STATE), mediation_request(STATE), clue(STATE)
    return {
        "hotline12345": ("/work-orders", order, order["orderNo"]),
        "police110": ("/incidents", inc, inc["jjdbh"]),
        "court": ("/mediation-requests", req, req["ah"]),
        "procuratorate12309": ("/submissions", sub, sub["clueNo"]),
    }


async def _refused(ah: AdapterHub, system: str, path: str, body: bytes, headers: dict[str, str]) -> str:
    response = await ah.client.post(f"{ah.gateway}/adapters/{system}{path}", content=body, headers=headers)
    assert response.status_code == 401, (system, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 401 and problem["title"]
    reason: str = problem["reason"]
    return reason


async def test_bad_stale_or_replayed_pushes_are_401_and_create_nothing(backend: str, tmp_path: Path) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        for system, (path, payload, ref) in _payloads().items():
            body = json.dumps(payload, ensure_ascii=False).encode()
            secret = getattr(ah.settings, f"{system}_webhook_secret")
            now = datetime.now(UTC)

            wrong_secret = signed_headers("not-the-secret", body, now)
            assert await _refused(ah, system, path, body, wrong_secret) == "mismatch"
            tampered = signed_headers(secret, body, now)
            assert await _refused(ah, system, path, body.replace(b"1", b"2", 1), tampered) == "mismatch"
            other_system = "police110" if system != "police110" else "court"
            foreign = signed_headers(getattr(ah.settings, f"{other_system}_webhook_secret"), body, now)
            assert await _refused(ah, system, path, body, foreign) == "mismatch"
            stale = signed_headers(secret, body, now - timedelta(minutes=5, seconds=30))
            assert await _refused(ah, system, path, body, stale) == "stale"
            future = signed_headers(secret, body, now + timedelta(minutes=6))
            assert await _refused(ah, system, path, body, future) == "stale"
            assert await _refused(ah, system, path, body, {"Content-Type": "application/json"}) == "malformed"
            sm3 = {**tampered, "X-Hub-Signature": "sm3=" + tampered["X-Hub-Signature"].split("=", 1)[1]}
            assert (
                await _refused(ah, system, path, body, sm3) == "malformed"
            )  # the algorithm is ours to choose
            assert await ah.count_cases(system) == 0, f"{system}: a refused push created a case"

            # A genuine push is taken once; the very same request again is a replay.
            genuine = signed_headers(secret, body, now)
            first = await ah.client.post(
                f"{ah.gateway}/adapters/{system}{path}", content=body, headers=genuine
            )
            assert first.status_code == 201, first.text
            assert await _refused(ah, system, path, body, genuine) == "replayed"
            assert await ah.count_cases(system, ref) == 1

        # Nonces are kept in the gateway database until they could no longer pass the time check.
        db = ah.hub.runtime("gateway").db
        async with db.sessions() as session:
            rows = (await session.execute(select(adapter_nonces))).all()
        assert {r.system for r in rows} == set(_payloads())
        for row in rows:
            assert timedelta(minutes=9) < row.expires_at - datetime.now(UTC) <= timedelta(minutes=10)
        assert await purge_nonces(db, datetime.now(UTC) + timedelta(minutes=11)) == len(rows)
