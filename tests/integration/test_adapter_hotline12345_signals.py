"""研判 reads the report: 12345 work orders carry only words, and the words decide the colour. Through
the real adapter path (signed pushes from the 12345 simulator, the gateway, intake, referral), on
both databases: a threat in the text is red and quotes its words, a negated one is not, 12345's
urgency raises the colour a step, and an urge whose text carries a new threat raises the case's
colour (referral follows: its list and the deadlines of referrals dispatched after the raise)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_adapter_kit import AdapterHub, adapter_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SYSTEM = "hotline12345"
THREAT = "市民来电反映：工地拖欠工资三个月，讨要未果，其工友情绪激动，扬言要从楼顶跳下去。"
NO_THREAT = "市民来电反映：工地拖欠工资三个月，讨要未果。现场没有人扬言要从楼顶跳下去，工人在等候协调。"


async def push_order(ah: AdapterHub, **fields: Any) -> dict[str, Any]:
    """The simulator pushes a work order with these fields (signed, the platform's own style)."""
    pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order", json=fields)
    assert pushed["status"] == 201, pushed
    answer: dict[str, Any] = {**pushed["response"], "orderNo": pushed["orderNo"]}
    return answer


def evidence_of(reason: dict[str, Any]) -> list[str]:
    return [e["quote"] for e in reason.get("evidence", [])]


async def test_a_text_only_work_order_is_graded_by_its_words(backend: str, tmp_path: Path) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        threat = await push_order(ah, title="反映工地欠薪", content=THREAT)
        assert threat["colour"] == "red"
        case = await ah.case(threat["case_no"])
        top = case["colour_reasons"][0]
        assert top["rule_id"] == "red.self_harm_threat" and top["colour"] == "red"
        assert evidence_of(top) == ["扬言…跳下去"]
        [evidence] = top["evidence"]
        assert evidence["reason_zh"] == "文本含“扬言…跳下去”：自伤风险"
        spans = [(s["source"], s["text"]) for s in evidence["spans"]]
        assert spans == [("description", "扬言"), ("description", "跳下去")]
        assert all(case["description"][s["start"] : s["end"]] == s["text"] for s in evidence["spans"])
        assert case["response_level"] == "joint_consultation"

        calm = await push_order(ah, title="反映工地欠薪", content=NO_THREAT)
        assert calm["colour"] == "blue"
        assert [r["rule_id"] for r in (await ah.case(calm["case_no"]))["colour_reasons"]] == ["blue.default"]

        # 12345's own urgency raises what the words give by one step, and says so.
        urgent = await push_order(ah, title="反映工地欠薪", content=NO_THREAT, urgency=1)
        assert urgent["colour"] == "yellow"
        reasons = (await ah.case(urgent["case_no"]))["colour_reasons"]
        assert [r["rule_id"] for r in reasons] == ["raise.urgent", "blue.default"]
        assert reasons[0]["inputs"] == {"urgent": True, "from_colour": "blue"}


async def test_an_urge_with_a_new_threat_raises_the_case(backend: str, tmp_path: Path) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        order = await push_order(
            ah, title="反映工地欠薪", content="市民来电反映：工地拖欠工资三个月，讨要未果。"
        )
        case_no = order["case_no"]
        assert order["colour"] == "blue"
        first = await ah.lead_referral(case_no)

        urge = {
            "orderNo": order["orderNo"],
            "urgeId": "CB-THREAT-1",
            "urgeTime": "2026-11-22 10:00:00",
            "urgeContent": "市民再次来电称，包工头扬言要拿刀砍人，请尽快处理",
            "urgeTimes": 1,
        }
        answer = await ah.push_signed(SYSTEM, "/urges", urge)
        assert answer.status_code == 200 and answer.json()["duplicate"] is False, answer.text

        case = await ah.case(case_no)
        assert case["colour"] == "red" and case["response_level"] == "joint_consultation"
        top = case["colour_reasons"][0]
        assert top["rule_id"] == "red.violence_threat"
        assert {s["source"] for e in top["evidence"] for s in e["spans"]} == {"note"}
        assert "砍人" in evidence_of(top)
        assert [n["text"] for n in case["notes"]] == [urge["urgeContent"]]
        assert case["notes"][0]["actor_role"] == "adapter" and case["notes"][0]["actor_id"] == SYSTEM
        changed = await eventually(
            lambda: ah.events_of(case_no, "case.assessment_changed.v1"), what="the raise on the timeline"
        )
        assert changed[0]["detail"]["colour"] == "red" and "风险升高" in changed[0]["detail"]["reason"]

        # The platform retries the same urge (same urgeId, a new signature): answered, read once.
        again = await ah.push_signed(
            SYSTEM, "/urges", {**urge, "urgeContent": "重发：" + urge["urgeContent"]}
        )
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert len((await ah.case(case_no))["notes"]) == 1

        # Referral follows intake's re-grading: the case is red in its lists ...
        reds = await eventually(
            lambda: ah.client.get(f"{ah.gateway}/api/v1/cases", params={"colour": "red"}),
            until=lambda r: case_no in [c["case_no"] for c in r.json()["items"]],
            what="the case red in referral's list",
        )
        assert reds.status_code == 200
        # ... and a referral dispatched after the raise gets red's acknowledge limit (30 minutes);
        # the one already running keeps the limit it started under (referral's rule).
        other = (
            "justice_office@150203001000"
            if "police" in first["department"]
            else "police_station@150203001000"
        )
        rerouted = await ah.centre(case_no, "dispatch", {"lead": other})
        assert rerouted.status_code == 200, rerouted.text
        lead = await eventually(
            lambda: ah.lead_referral(case_no), until=lambda r: r["department"] == other, what="re-routed lead"
        )
        assert span(lead) == timedelta(minutes=30)
        assert span(first) > timedelta(minutes=30)


def span(referral: dict[str, Any]) -> timedelta:
    return datetime.fromisoformat(referral["ack_due_at"]) - datetime.fromisoformat(referral["dispatched_at"])
