"""The 12345 dual track both ways (issue 12), through the real adapter path and the 12345 simulator:
the work order's 办理时限 binds the lead department, our 延期申请 and 回退 reach the platform once
each, its answer to a 延期申请 moves the deadline (or is recorded), and a merged work order hears
the surviving case's statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.adapters.common import local_time, parse_local_time
from gateway.tables import adapter_links
from services.referral.domain.calendar import WorkingCalendar
from tests.integration.test_adapter_kit import AdapterHub, adapter_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SYSTEM = "hotline12345"
LIMIT = "hotline12345.limitTime"


WINDOW_CASE = {
    "channel": "window",
    "request_type": "complaint",
    "title": "楼道堆放杂物",
    "description": "邻居长期在楼道堆放杂物，影响通行",
    "reporter": {"name": "王女士", "phone": "13812341234"},
    "location": {"address": "昆都仑区阿尔丁大街某小区3栋2单元", "street_code": "150203001000"},
}


def working_days_from_now(n: int) -> datetime:
    """n working days ahead on the statutory calendar, to the second (their times have no fraction)."""
    return WorkingCalendar().add_working_days(datetime.now(UTC), n).due.replace(microsecond=0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def handling(referral: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(
        d for d in referral["deadlines"] if d["kind"] == "handling" and d["status"] == "open"
    )
    return found


async def push_order(ah: AdapterHub, **overrides: Any) -> tuple[str, str]:
    pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order", json=overrides or None)
    assert pushed["status"] == 201, pushed
    return pushed["orderNo"], pushed["response"]["case_no"]


async def lead_of(ah: AdapterHub, case_no: str) -> dict[str, Any]:
    case = await ah.case(case_no)
    lead: dict[str, Any] = next(r for r in case["referrals"] if r["role"] == "lead" and r["round"] == 1)
    return lead


async def test_limit_time_two_working_days_away_is_the_leads_handling_deadline(
    backend: str, tmp_path: Path
) -> None:
    limit = working_days_from_now(2)
    async with adapter_hub(backend, tmp_path) as ah:
        _order_no, case_no = await push_order(ah, limitTime=local_time(limit))
        lead = await ah.lead_referral(case_no)
        deadline = handling(lead)

        # Theirs is earlier than ours ("135": at least 3 working days), so theirs applies, and says so.
        assert at(lead["due_at"]) == at(deadline["due_at"]) == limit
        assert lead["due_source"] == deadline["source"] == LIMIT
        assert at(deadline["external_due_at"]) == limit and at(deadline["own_due_at"]) > limit
        assert not deadline["floored"] and "12345 办理时限" in lead["due_why"]
        case = await ah.case(case_no)
        assert case["due_by"]["source"] == LIMIT and at(case["due_by"]["at"]) == limit
        # The supervision ladder runs on it: the 80% reminder comes before their limit, not ours.
        assert at(deadline["next_check_at"]) < limit

        # Assisting departments keep our own deadlines (they answer to the lead).
        for other in (r for r in case["referrals"] if r["role"] == "assisting"):
            assert other["due_source"] == "procedure"

        # A work order whose limit was over before it reached us: nobody can meet it, so the lead gets
        # until its acknowledge deadline (not a deadline already missed), and the read says why.
        past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        _late_order, late_case = await push_order(ah, limitTime=local_time(past))
        late = await ah.lead_referral(late_case)
        late_deadline = handling(late)
        assert at(late["due_at"]) == at(late["ack_due_at"]) > datetime.now(UTC)
        assert (
            late_deadline["floored"]
            and late["due_source"] == LIMIT
            and at(late_deadline["external_due_at"]) == past
        )
        assert "申请延期" in late["due_why"]


async def test_an_extension_request_reaches_12345_once_and_its_answer_moves_the_deadline_or_not(
    backend: str, tmp_path: Path
) -> None:
    limit = working_days_from_now(2)
    async with adapter_hub(backend, tmp_path) as ah:
        order_no, case_no = await push_order(ah, limitTime=local_time(limit))
        lead = await ah.lead_referral(case_no)
        await ah.department(lead, "acknowledge")
        asked = await ah.department(lead, "extension", {"working_days": 3, "reason": "需协调物业现场勘验"})
        assert asked["referral"]["status"] == "extension_requested"

        # The centre approves our own extension: ours moves out, theirs still binds the lead.
        decision = await ah.client.post(
            f"{ah.gateway}/api/v1/referrals/{lead['id']}/extension/decision",
            headers={"X-Hub-Actor-Role": "centre"},
            json={"approved": True},
        )
        assert decision.status_code == 200, decision.text
        decided = decision.json()["referral"]
        assert at(decided["due_at"]) == limit and decided["due_source"] == LIMIT

        # Arrived (no pending delivery is not enough: the request's may not have been recorded yet),
        # then settled, and still once.
        await eventually(
            lambda: ah.received(SYSTEM, order_no),
            until=lambda items: any(i["action"] == "延期申请" for i in items),
            what="the 延期申请 at the simulator",
        )
        await ah.wait_quiet(case_no)
        applied = [i for i in await ah.received(SYSTEM, order_no) if i["action"] == "延期申请"]
        assert len(applied) == 1  # exactly once, as 12345 numbers it
        applied_for = WorkingCalendar().add_working_days(limit, 3).due
        assert applied[0]["delayDays"] == 3 and applied[0]["applyLimitTime"] == local_time(applied_for)
        assert applied[0]["applyReason"] == "需协调物业现场勘验"

        # 12345 approves: the case's due_by and the lead's deadline move to its new limit.
        answer = await ah.sim(SYSTEM, "POST", "/_sim/answer/extension", params={"order_no": order_no})
        assert answer["status"] == 200 and answer["response"]["approved"] is True, answer
        new_limit = parse_local_time(answer["newLimitTime"])
        moved = await eventually(
            lambda: lead_of(ah, case_no),
            until=lambda r: at(r["due_at"]) != limit,
            what="the lead's deadline moved by 12345's approval",
        )
        assert at(moved["due_at"]) == min(new_limit, at(handling(moved)["own_due_at"])) == new_limit
        assert moved["due_source"] == LIMIT
        case = await ah.case(case_no)
        assert at(case["due_by"]["at"]) == new_limit
        approved = await eventually(
            lambda: ah.events_of(case_no, "case.external_extension_answered.v1"),
            what="the approval on the case timeline",
        )
        assert approved[0]["detail"]["approved"] is True and at(approved[0]["detail"]["due_by"]) == new_limit

        # The platform pushes the same answer again: accepted, not applied twice.
        again = await ah.push_signed(
            SYSTEM,
            "/extension-results",
            {
                "orderNo": order_no,
                "delayId": applied[0]["delayId"],
                "auditResult": 1,
                "newLimitTime": local_time(working_days_from_now(9)),
                "auditTime": local_time(),
            },
        )
        assert again.status_code == 200 and again.json()["duplicate"] is True

        # A second request, denied by 12345: recorded, nothing moves.
        await ah.department(moved, "extension", {"working_days": 1, "reason": "等待检测报告"})
        await eventually(
            lambda: ah.received(SYSTEM, order_no),
            until=lambda items: sum(i["action"] == "延期申请" for i in items) == 2,
            what="the second 延期申请 at the simulator",
        )
        denied = await ah.sim(
            SYSTEM, "POST", "/_sim/answer/extension", params={"order_no": order_no, "approve": "false"}
        )
        assert denied["status"] == 200 and denied["response"]["approved"] is False, denied
        answers = await eventually(
            lambda: ah.events_of(case_no, "case.external_extension_answered.v1"),
            until=lambda e: len(e) == 2,
            what="the denial on the case timeline",
        )
        assert answers[1]["detail"]["approved"] is False
        after = await lead_of(ah, case_no)
        assert at(after["due_at"]) == new_limit
        assert at((await ah.case(case_no))["due_by"]["at"]) == new_limit

        received = await ah.sim(SYSTEM, "GET", "/_sim/received")
        assert sum(i["action"] == "延期申请" for i in received["items"]) == 2
        assert received["duplicates"] == 0 and await ah.regressions(SYSTEM) == []


async def test_the_centres_return_reaches_12345_once_with_its_code(backend: str, tmp_path: Path) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        order_no, case_no = await push_order(ah)
        await ah.wait_received(SYSTEM, order_no, 2)  # 签收, 交办

        body = {"reason_code": "wrong_area", "reason": "事发地属相邻区，请重新派单"}
        returned = await ah.centre(case_no, "return-to-channel", body)
        assert returned.status_code == 200, returned.text
        assert returned.json()["changed"] is True
        again = await ah.centre(case_no, "return-to-channel", body)
        assert again.status_code == 200 and again.json()["changed"] is False  # a repeat changes nothing

        case = await ah.case(case_no)
        assert case["status"] == "returned_to_channel" and case["channel_return_code"] == "wrong_area"
        assert all(r["status"] == "cancelled" for r in case["referrals"])

        items = await ah.wait_received(SYSTEM, order_no, 3)
        await ah.wait_quiet(case_no)
        items = await ah.received(SYSTEM, order_no)
        assert [i["action"] for i in items] == ["签收", "交办", "回退"]
        assert (items[2]["returnType"], items[2]["status"]) == (2, 6)  # 不属本辖区, 已回退
        assert items[2]["returnReason"] == "事发地属相邻区，请重新派单"
        record = next(
            r for r in (await ah.sim(SYSTEM, "GET", "/_sim/records"))["items"] if r["orderNo"] == order_no
        )
        assert record["status"] == 6

        # Nothing is done to a returned case any more.
        closed = await ah.centre(case_no, "close")
        assert closed.status_code == 409

        # A case the centre registered itself has no channel to go back to: refused, nothing changes.
        window = await ah.client.post(f"{ah.gateway}/api/v1/cases", json=WINDOW_CASE)
        assert window.status_code == 201, window.text
        own = window.json()["case_no"]
        await eventually(
            lambda: ah.case(own), until=lambda c: bool(c["referrals"]), what="window case dispatched"
        )
        refused = await ah.centre(own, "return-to-channel", body)
        assert refused.status_code == 409 and refused.json()["type"].endswith("channel-not-returnable")
        assert (await ah.case(own))["status"] != "returned_to_channel"


async def _follows(ah: AdapterHub, case_no: str) -> str | None:
    async with ah.hub.runtime("gateway").db.sessions() as session:
        row = (
            await session.execute(
                select(adapter_links.c.follows_case_no).where(adapter_links.c.case_no == case_no)
            )
        ).first()
    return row.follows_case_no if row else None


async def test_a_merged_work_order_receives_the_closing_status_of_the_surviving_case_once(
    backend: str, tmp_path: Path
) -> None:
    merged_limit, surviving_limit = working_days_from_now(2), working_days_from_now(3)
    async with adapter_hub(backend, tmp_path) as ah:
        merged_order, merged_case = await push_order(ah, limitTime=local_time(merged_limit))
        surviving_order, surviving_case = await push_order(ah, limitTime=local_time(surviving_limit))
        await ah.wait_received(SYSTEM, merged_order, 2)
        await ah.wait_received(SYSTEM, surviving_order, 2)

        merge = await ah.centre(merged_case, "merge", {"into": surviving_case, "reason": "同一事项重复来电"})
        assert merge.status_code == 200, merge.text
        # The gateway has taken the merge in (its own consumer) before the surviving case moves on.
        await eventually(
            lambda: _follows(ah, merged_case), until=lambda f: f == surviving_case, what="merge seen"
        )

        # The merged order's earlier 办理时限 came along with its duty: it binds the surviving lead now.
        survivor = await eventually(
            lambda: ah.case(surviving_case),
            until=lambda c: at(c["due_by"]["at"]) == merged_limit,
            what="the merged order's limit on the surviving case",
        )
        lead = next(r for r in survivor["referrals"] if r["role"] == "lead")
        assert at(lead["due_at"]) == merged_limit and lead["due_source"] == LIMIT

        # The citizen of the merged order urges it: the surviving case is the one urged.
        urged = await ah.sim(SYSTEM, "POST", "/_sim/push/urge", params={"order_no": merged_order})
        assert urged["status"] == 200 and urged["response"]["case_no"] == surviving_case, urged

        await ah.acknowledge_and_reply(surviving_case, outcome="resolved", summary="已清理楼道")
        closed = await ah.centre(surviving_case, "close")
        assert closed.status_code == 200, closed.text

        await ah.wait_received(SYSTEM, merged_order, 5)
        await ah.wait_quiet(merged_case)
        await ah.wait_quiet(surviving_case)
        merged_items = await ah.received(SYSTEM, merged_order)
        assert [i["action"] for i in merged_items] == ["签收", "交办", "部门签收", "办结反馈", "归档"]
        for item in merged_items[2:]:
            assert item["hubCaseNo"] == surviving_case and surviving_case in item["handleOpinion"]
        surviving_items = await ah.received(SYSTEM, surviving_order)
        assert [i["action"] for i in surviving_items] == ["签收", "交办", "部门签收", "办结反馈", "归档"]
        assert await ah.regressions(SYSTEM) == []
        assert (await ah.sim(SYSTEM, "GET", "/_sim/received"))["duplicates"] == 0
