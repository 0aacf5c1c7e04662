"""An anonymous 12345 report (匿名举报): no reporter contact, so no SMS to anyone about it as a citizen,
no callback (回访); the case closes on the department's reply with that reason recorded (RULES.md
"Reporters"). Phone and ID validation for named reporters: tests/unit/intake/test_intake_model.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from services.notification.tables import contacts, deliveries
from tests.integration.test_adapter_kit import adapter_hub
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.quiescence import wait_quiescent
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SYSTEM = "hotline12345"
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "notification" / "templates" / "sms.yaml"


def citizen_template_codes() -> set[str]:
    templates = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))["templates"]
    return {t["provider_code"] for t in templates.values() if t["audience"] == "citizen"}


async def test_an_anonymous_12345_report_closes_on_the_reply_with_no_sms_and_no_callback(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        pushed = await ah.sim(
            SYSTEM,
            "POST",
            "/_sim/push/work-order",
            json={"anonymous": 1, "citizenName": "", "citizenPhone": ""},
        )
        assert pushed["status"] == 201, pushed
        order_no, case_no = pushed["orderNo"], pushed["response"]["case_no"]
        case = await ah.case(case_no)
        assert case["reporter"]["anonymous"] is True

        await ah.acknowledge_and_reply(case_no, outcome="resolved", summary="已核查并处理")
        closed = await eventually(
            lambda: _referral_state(ah.hub.apps["referral"].url, case_no),
            until=lambda s: s.get("status") == "closed",
            what=f"{case_no} closed on the reply",
        )
        # Closed on the department's reply, the reason recorded; never called back, never rated.
        assert closed["close_reason"] == "anonymous_reporter"
        assert closed["satisfaction"] is None and closed["anonymous"] is True
        timeline = await eventually(
            lambda: _events(ah, case_no),
            until=lambda t: "case.closed.v1" in t,
            what="the closure on the timeline",
        )
        assert "case.replied.v1" in timeline
        assert not any("callback" in e for e in timeline)
        # 12345 is told the whole loop, archive (归档) included, as for any work order.
        items = await ah.wait_received(SYSTEM, order_no, 5)
        assert [i["action"] for i in items][-1] == "归档"

        await wait_quiescent(ah.settings)
        # No SMS attempted for the reporter: no contact to send to, nothing in the ledger for a
        # citizen, nothing citizen-facing at the SMS provider (departments still get their 吹哨 SMS).
        notification = ah.hub.runtime("notification")
        async with notification.db.sessions() as session:
            contact = (await session.execute(select(contacts).where(contacts.c.case_no == case_no))).one()
            ledger = (await session.execute(select(deliveries).where(deliveries.c.case_no == case_no))).all()
        assert contact.sms_capable is False and contact.phone_enc is None
        assert ledger, "the departments' dispatch messages show notification did see the case"
        assert [r.template for r in ledger if r.recipient_kind == "citizen"] == []
        sent = await ah.hub.sms_received()
        about_case = [m for m in sent if case_no in str(m["params"])]
        assert about_case and not [m for m in about_case if m["template_code"] in citizen_template_codes()]


async def _referral_state(url: str, case_no: str) -> dict[str, Any]:
    async with http_client(base_url=url) as client:
        response = await client.get(f"/internal/v1/cases/{case_no}", headers=as_actor("referral"))
    return response.json() if response.status_code == 200 else {}


async def _events(ah: Any, case_no: str) -> list[str]:
    return [e["event"] for e in await ah.timeline(case_no)]
