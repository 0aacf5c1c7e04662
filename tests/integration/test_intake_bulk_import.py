"""Intake's bulk import of history (`POST /internal/v1/cases:import`, decision 0004): one transaction
per batch, idempotent on channel + source_ref, each item answered on its own, no events, one audit
entry per batch, personal data encrypted as registration does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hub import audit
from services.intake.tables import audit_log, cases, kit
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

pytestmark = pytest.mark.integration


# What the gateway's 12345 adapter sends with its back-fill (a credential minted per request).
def adapter() -> dict[str, str]:
    return as_actor("intake", "adapter", id="hotline12345", kind="system", system="hotline12345")


def _item(ref: str, phone: str = "13912345678", status: str = "closed") -> dict[str, Any]:
    return {
        "case": {
            "channel": "hotline12345",
            "source_ref": ref,
            "request_type": "complaint",
            "title": "楼上漏水多次协商未果",
            "description": "楼上住户卫生间漏水，多次协商未果，要求协调处理",
            "reporter": {"name": "王某", "phone": phone},
            "location": {"address": "幸福小区3栋2单元501室"},
        },
        "registered_at": "2026-10-01T02:30:00+00:00",
        "status": status,
    }


async def test_import_batch_is_idempotent_answers_each_item_and_writes_no_events(hub: InProcessHub) -> None:
    url = hub.settings.url_of("intake") + "/internal/v1/cases:import"
    batch = [
        _item("GD1"),
        _item("GD2", status="registered"),
        _item("GD3", phone="12345"),  # not a phone number: refused on its own
        _item("GD1"),  # repeated in the batch
        {"case": {"channel": "hotline12345"}},  # nothing usable
    ]
    async with http_client(timeout=60) as client:
        first = await client.post(url, json={"items": batch}, headers=adapter())
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["created"], body["existing"], body["invalid"]) == (2, 0, 3)
        items = body["items"]
        assert [i.get("created") for i in items[:2]] == [True, True]
        assert items[2]["source_ref"] == "GD3" and items[2]["errors"][0]["field"].startswith("reporter")
        assert items[3]["errors"] == [{"field": "source_ref", "message": "repeated in this batch"}]
        assert "errors" in items[4]
        # Numbered on the day 12345 registered them (Beijing time), in one block.
        assert {i["case_no"] for i in items[:2]} == {"ZZ-20261001-000001", "ZZ-20261001-000002"}

        again = await client.post(url, json={"items": batch[:2]}, headers=adapter())
        assert [(i["case_no"], i["created"]) for i in again.json()["items"]] == [
            (items[0]["case_no"], False),
            (items[1]["case_no"], False),
        ]
        refused = await client.post(url, json={"items": batch[:1]}, headers=as_actor("intake", "ops"))
        assert refused.status_code == 403

    async with hub.runtime("intake").db.sessions() as session:
        rows = {
            r.source_ref: r
            for r in await session.execute(select(cases).where(cases.c.channel == "hotline12345"))
        }
        events = (await session.execute(select(func.count()).select_from(kit.outbox))).scalar_one()
        chain = await audit.read_chain(session, audit_log)
    assert set(rows) == {"GD1", "GD2"} and events == 0
    assert {r.status for r in rows.values()} == {"closed", "registered"}
    one = rows["GD1"]
    assert one.reporter_phone_enc and "13912345678" not in one.reporter_phone_enc
    assert one.reporter_phone_hash and one.reporter_phone_masked and one.duplicate_of is None
    assert one.category and one.colour in ("red", "orange", "yellow", "blue")
    assert one.registered_at.year == 2026 and one.registered_at.month == 10
    imported = [e for e in chain if e.action == "cases.imported"]
    assert len(imported) == 1 and imported[0].detail["count"] == 2  # the re-send created nothing
    assert audit.verify(chain, hub.settings.hash_key).ok
