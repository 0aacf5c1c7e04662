"""Procuratorate 12309 against its simulator: complaints and public-interest clues in; accepted,
handling, reply (with its result type) and closing out, each once and in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_adapter_kit import adapter_hub

pytestmark = pytest.mark.integration

SYSTEM = "procuratorate12309"


async def test_public_interest_clue_becomes_a_case_and_the_handling_result_goes_back(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/submission", json={"clueType": 4})
        assert pushed["status"] == 201, pushed
        clue_no, case_no = pushed["clueNo"], pushed["response"]["case_no"]
        case = await ah.case(case_no)
        assert (case["channel"], case["source_ref"]) == (SYSTEM, clue_no)
        assert (case["request_type"], case["category"]) == ("report", "public_interest_clue")

        await ah.wait_received(SYSTEM, clue_no, 1)
        await ah.acknowledge_and_reply(case_no, outcome="resolved", summary="已督促企业整改并立案审查")
        await ah.wait_received(SYSTEM, clue_no, 3)
        assert (await ah.centre(case_no, "close", {"reason": "centre"})).status_code == 200
        items = await ah.wait_received(SYSTEM, clue_no, 4)
        assert [i["handleStatus"] for i in items] == [1, 2, 3, 4]
        assert items[2]["resultType"] == 1 and items[0]["hubCaseNo"] == case_no
        assert await ah.regressions(SYSTEM) == []


async def test_anonymous_complaint_and_a_repeat_push(tmp_path: Path) -> None:
    async with adapter_hub("sqlite", tmp_path) as ah:
        pushed = await ah.sim(
            SYSTEM, "POST", "/_sim/push/submission", json={"clueType": 1, "anonymous": True, "submitter": {}}
        )
        clue_no, case_no = pushed["clueNo"], pushed["response"]["case_no"]
        case = await ah.case(case_no)
        assert (case["request_type"], case["category"]) == ("complaint", "law_related")
        assert case["reporter"]["anonymous"] is True
        record = next(
            r for r in (await ah.sim(SYSTEM, "GET", "/_sim/records"))["items"] if r["clueNo"] == clue_no
        )
        again = await ah.push_signed(
            SYSTEM, "/submissions", {k: v for k, v in record.items() if k != "handleStatus"}
        )
        assert again.status_code == 200 and again.json()["case_no"] == case_no
        assert await ah.count_cases(SYSTEM, clue_no) == 1
