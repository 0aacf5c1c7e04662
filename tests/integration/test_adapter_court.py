"""Court pre-litigation mediation (诉调对接) against its simulator: delegated mediation in; an agreement
goes for judicial confirmation (司法确认), a failure back to filing (立案); a case the hub refers to
court is filed there and followed under the court's new 案号."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_adapter_kit import adapter_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SYSTEM = "court"


async def test_delegated_mediation_agreement_goes_for_judicial_confirmation(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        pushed = await ah.sim(
            SYSTEM, "POST", "/_sim/push/mediation-request", json={"ay": "商品房预售合同纠纷"}
        )
        assert pushed["status"] == 201, pushed
        court_no, case_no = pushed["ah"], pushed["response"]["case_no"]
        case = await ah.case(case_no)
        assert (case["channel"], case["source_ref"], case["request_type"]) == (SYSTEM, court_no, "help")
        assert case["category"] == "contract" and case["people_involved"] == 2
        assert case["amount_yuan"] is not None

        accepted = await ah.wait_received(SYSTEM, court_no, 1)
        assert (accepted[0]["jglx"], accepted[0]["tjzt"], accepted[0]["zzbh"]) == ("1", "1", case_no)

        await ah.acknowledge_and_reply(
            case_no, outcome="mediated", summary="双方自愿达成调解协议，分期支付房款"
        )
        await ah.wait_received(SYSTEM, court_no, 2)
        assert (await ah.centre(case_no, "close", {"reason": "centre"})).status_code == 200
        items = await ah.wait_received(SYSTEM, court_no, 3)
        assert [(i["jglx"], i["tjzt"]) for i in items] == [("1", "1"), ("2", "3"), ("4", "5")]
        assert items[1]["action"] == "调解成功，申请司法确认" and items[1]["has_agreement"] is True
        assert await ah.regressions(SYSTEM) == []


async def test_failed_mediation_goes_back_to_filing_and_a_referred_case_is_filed_at_court(
    tmp_path: Path,
) -> None:
    async with adapter_hub("sqlite", tmp_path) as ah:
        # A delegated mediation that fails: back to the court for filing (退回立案).
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/mediation-request")
        court_no, case_no = pushed["ah"], pushed["response"]["case_no"]
        await ah.acknowledge_and_reply(case_no, outcome="unresolved", summary="被申请人拒绝调解")
        items = await ah.wait_received(SYSTEM, court_no, 2)
        assert [(i["jglx"], i["tjzt"]) for i in items] == [("1", "1"), ("3", "4")]

        # A 12345 dispute the centre could not resolve is referred on to court (信调裁诉).
        order = await ah.sim("hotline12345", "POST", "/_sim/push/work-order")
        other = order["response"]["case_no"]
        await ah.acknowledge_and_reply(other, outcome="referred_to_litigation", summary="建议通过诉讼解决")
        referred = await ah.centre(other, "refer-onward", {"to": "court"})
        assert referred.status_code == 200, referred.text
        filed = await eventually(
            lambda: ah.sim(SYSTEM, "GET", "/_sim/records"),
            until=lambda doc: any(r.get("zzbh") == other for r in doc["items"]),
            what="the referred case filed at court",
        )
        new_no = next(r["ah"] for r in filed["items"] if r.get("zzbh") == other)
        assert "民初" in new_no  # the court's own number for the new filing
        got = await ah.wait_received(SYSTEM, new_no, 1)
        assert (got[0]["jglx"], got[0]["action"]) == ("6", "诉讼引导（移送立案）")

        # Later updates of that case reach the court under the court's number.
        assert (await ah.centre(other, "close", {"reason": "centre"})).status_code == 200
        followed = await ah.wait_received(SYSTEM, new_no, 2)
        assert followed[1]["jglx"] == "4"
        rows = await ah.wait_quiet(other)
        assert {(r["system"], r["update"]) for r in rows} >= {
            ("court", "referred_to_court"),
            ("court", "closed"),
        }
        # The 12345 side of the same case: sent only when both systems got the closing.
        sync = (await ah.client.get(f"{ah.gateway}/api/v1/ops/adapter-deliveries/cases/{other}")).json()
        closing = next(u for u in sync if u["update"] == "closed")
        assert closing["systems"] == {"hotline12345": "sent", "court": "sent"} and closing["status"] == "sent"
        assert await ah.regressions(SYSTEM) == []
