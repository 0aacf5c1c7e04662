"""Police 110 linkage (警情联动) against its simulator: incidents in (mapped to cases), sign-for,
mediation result and closing out in its own style, each once and in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_adapter_kit import adapter_hub

pytestmark = pytest.mark.integration

SYSTEM = "police110"


async def test_incident_becomes_a_case_and_the_mediation_result_goes_back(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/incident", json={"jqlbdm": "0606", "sars": 4})
        assert pushed["status"] == 201, pushed
        incident_no, case_no = pushed["jjdbh"], pushed["response"]["case_no"]
        case = await ah.case(case_no)
        assert (case["channel"], case["source_ref"], case["category"]) == (SYSTEM, incident_no, "noise")
        assert case["people_involved"] == 4 and case["colour"] == "yellow"  # 3–9 people

        first = await ah.wait_received(SYSTEM, incident_no, 1)
        assert (first[0]["fklx"], first[0]["clzt"], first[0]["zzbh"]) == ("01", "1", case_no)

        await ah.acknowledge_and_reply(case_no, outcome="mediated", summary="双方签订和解协议书")
        await ah.wait_received(SYSTEM, incident_no, 2)
        closed = await ah.centre(case_no, "close", {"reason": "centre"})
        assert closed.status_code == 200, closed.text
        items = await ah.wait_received(SYSTEM, incident_no, 3)
        assert [(i["action"], i["clzt"]) for i in items] == [("签收", "1"), ("调解结果", "3"), ("办结", "4")]
        assert items[1]["tjjg"] == "1"  # 调解成功
        assert await ah.regressions(SYSTEM) == []
        rows = await ah.wait_quiet(case_no)
        assert [r["update"] for r in rows] == ["registered", "replied", "closed"]  # no dispatch chatter


async def test_incident_flags_map_to_risk_and_a_repeat_is_the_same_case(tmp_path: Path) -> None:
    async with adapter_hub("sqlite", tmp_path) as ah:
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/incident", json={"sfqt": "1", "jqlbdm": "0608"})
        incident_no, case_no = pushed["jjdbh"], pushed["response"]["case_no"]
        case = await ah.case(case_no)
        assert case["flags"] == ["mass_gathering_risk"] and case["colour"] == "red"
        assert case["category"] == "construction_payment"

        record = next(
            r for r in (await ah.sim(SYSTEM, "GET", "/_sim/records"))["items"] if r["jjdbh"] == incident_no
        )
        again = await ah.push_signed(SYSTEM, "/incidents", record)
        assert again.status_code == 200 and again.json()["case_no"] == case_no
        assert await ah.count_cases(SYSTEM, incident_no) == 1

        bad = await ah.push_signed(
            SYSTEM, "/incidents", {**record, "jjdbh": "J2", "jqlbdm": "9999", "bjsj": "昨天"}
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"jqlbdm", "bjsj"}
