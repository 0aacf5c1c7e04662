"""12345 dual track (双线融合) end to end against the 12345 simulator: work orders in, every status out
once and in order, urges and ratings, an outage, and a delivery that fails for good."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.adapters.ledger import retry_failed
from tests.integration.test_adapter_kit import adapter_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SYSTEM = "hotline12345"
FULL_LOOP = ["签收", "交办", "部门签收", "办结反馈", "归档"]


async def test_dual_track_work_order_to_closed_each_status_once_in_order(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order")
        assert pushed["status"] == 201, pushed
        order_no, case_no = pushed["orderNo"], pushed["response"]["case_no"]

        # The platform pushes the same work order again: the same case, nothing new.
        record = (await ah.sim(SYSTEM, "GET", "/_sim/records"))["items"][0]
        again = await ah.push_signed(
            SYSTEM, "/work-orders", {k: record[k] for k in record if k != "statusName"}
        )
        assert again.status_code == 200 and again.json()["case_no"] == case_no
        assert await ah.count_cases(SYSTEM, order_no) == 1

        # Registered and dispatched reach 12345 by themselves.
        first = await ah.wait_received(SYSTEM, order_no, 2)
        assert [i["action"] for i in first] == ["签收", "交办"]
        assert first[0]["hubCaseNo"] == case_no

        # The department acknowledges and replies; 12345 calls the citizen back and rates.
        await ah.acknowledge_and_reply(case_no, outcome="resolved", summary="已清理楼道大件垃圾")
        await ah.wait_received(SYSTEM, order_no, 4)
        rated = await ah.sim(
            SYSTEM, "POST", "/_sim/push/rating", params={"order_no": order_no, "satisfaction": 1}
        )
        assert rated["status"] == 200, rated
        assert rated["response"]["delivered_as"] == "callback"  # referral's callback endpoint took it

        items = await ah.wait_received(SYSTEM, order_no, 5)
        assert [i["action"] for i in items] == FULL_LOOP
        assert [i["status"] for i in items] == [1, 2, 2, 3, 4]
        assert items[3]["handleResult"] == 1  # 已解决
        assert len({i["request_id"] for i in items}) == 5
        assert (await ah.case(case_no))["status"] == "closed"
        assert await ah.regressions(SYSTEM) == []

        rows = await ah.wait_quiet(case_no)
        assert [r["update"] for r in rows] == [
            "registered",
            "dispatched",
            "acknowledged",
            "replied",
            "closed",
        ]
        assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows)
        assert [r["update_id"] for r in rows] == [i["request_id"] for i in items]  # our id is their requestId
        sync = (await ah.client.get(f"{ah.gateway}/api/v1/ops/adapter-deliveries/cases/{case_no}")).json()
        assert {u["status"] for u in sync} == {"sent"}

        delivered = await eventually(
            lambda: ah.events_of(case_no, "external.update_delivered.v1"),
            until=lambda e: len(e) == 5,
            what="delivery events on the case timeline",
        )
        assert all(e["trace_id"] for e in delivered)
        received = await ah.sim(SYSTEM, "GET", "/_sim/received")
        assert received["duplicates"] == 0 and received["rejected"] == 0


async def test_urges_become_one_event_each_and_unknown_work_orders_are_404(tmp_path: Path) -> None:
    async with adapter_hub("sqlite", tmp_path) as ah:
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order")
        order_no, case_no = pushed["orderNo"], pushed["response"]["case_no"]
        urge = {"orderNo": order_no, "urgeId": "CB-1", "urgeTime": "2026-11-22 10:00:00", "urgeTimes": 1}
        first = await ah.push_signed(SYSTEM, "/urges", urge)
        assert first.status_code == 200 and first.json() == {
            "case_no": case_no,
            "accepted": True,
            "duplicate": False,
        }
        # The platform retries the same urge (a new signature, the same urgeId): answered, not repeated.
        repeat = await ah.push_signed(SYSTEM, "/urges", {**urge, "urgeContent": "重发"})
        assert repeat.status_code == 200 and repeat.json()["duplicate"] is True
        second = await ah.sim(SYSTEM, "POST", "/_sim/push/urge", params={"order_no": order_no})
        assert second["status"] == 200 and second["response"]["duplicate"] is False

        urges = await eventually(
            lambda: ah.events_of(case_no, "hotline.urge_received.v1"),
            until=lambda e: len(e) >= 2,
            what="urge events on the timeline",
        )
        assert len(urges) == 2

        unknown = await ah.push_signed(
            SYSTEM, "/urges", {**urge, "orderNo": "GD20261122999999", "urgeId": "CB-9"}
        )
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        bad = await ah.push_signed(SYSTEM, "/work-orders", {"orderNo": "GD1", "orderType": 9, "content": "x"})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"orderType", "createTime"}  # their field names


async def test_a_dissatisfied_rating_reopens_and_12345_hears_the_redo(tmp_path: Path) -> None:
    async with adapter_hub("sqlite", tmp_path) as ah:
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order")
        order_no, case_no = pushed["orderNo"], pushed["response"]["case_no"]
        await ah.acknowledge_and_reply(case_no, outcome="partially_resolved")
        await ah.wait_received(SYSTEM, order_no, 4)
        rated = await ah.sim(
            SYSTEM, "POST", "/_sim/push/rating", params={"order_no": order_no, "satisfaction": 3}
        )
        assert rated["status"] == 200, rated
        items = await ah.wait_received(SYSTEM, order_no, 5)
        assert [i["action"] for i in items][:5] == ["签收", "交办", "部门签收", "办结反馈", "重办"]
        assert items[3]["handleResult"] == 2  # 部分解决
        assert await ah.regressions(SYSTEM) == []


async def test_platform_down_then_back_every_update_delivered_in_order_once(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path) as ah:
        # Down until the test brings it back (not for a fixed time: a slow machine must not race it).
        await ah.sim(SYSTEM, "POST", "/_sim/down", params={"seconds": 3600})
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order")  # pushes still reach the hub
        order_no, case_no = pushed["orderNo"], pushed["response"]["case_no"]
        await ah.acknowledge_and_reply(case_no)  # all while the platform's API answers 503
        await eventually(
            lambda: ah.deliveries(case_no=case_no),
            until=lambda rows: any(r["attempts"] >= 1 for r in rows),
            what="a delivery tried while the platform is down",
        )
        assert await ah.received(SYSTEM, order_no) == []
        await ah.sim(SYSTEM, "POST", "/_sim/down", params={"seconds": 0})

        items = await ah.wait_received(SYSTEM, order_no, 4, timeout=40)
        assert [i["action"] for i in items] == ["签收", "交办", "部门签收", "办结反馈"]
        assert len({i["request_id"] for i in items}) == 4
        rows = await ah.wait_quiet(case_no)
        assert rows[0]["attempts"] > 1  # it was retried with back-off, not lost
        assert all(r["status"] == "sent" for r in rows)
        assert await ah.regressions(SYSTEM) == []
        assert (await ah.sim(SYSTEM, "GET", "/_sim/received"))["count"] == 4


async def test_a_delivery_that_keeps_failing_is_failed_for_ops_and_holds_later_updates(
    tmp_path: Path,
) -> None:
    async with adapter_hub("sqlite", tmp_path, adapter_max_attempts=3) as ah:
        await ah.sim(SYSTEM, "POST", "/_sim/fail", params={"count": 1000})  # 50000 系统繁忙, every time
        pushed = await ah.sim(SYSTEM, "POST", "/_sim/push/work-order")
        order_no, case_no = pushed["orderNo"], pushed["response"]["case_no"]

        failed = await eventually(
            lambda: ah.deliveries(status="failed"),
            until=lambda rows: len(rows) == 1,
            what="a failed delivery",
        )
        assert failed[0]["case_no"] == case_no and failed[0]["update"] == "registered"
        assert failed[0]["attempts"] == 3 and "50000" in failed[0]["last_error"]
        events = await eventually(
            lambda: ah.events_of(case_no, "external.delivery_failed.v1"),
            what="delivery_failed on the timeline",
        )
        assert events[0]["detail"]["reason"].startswith("12345 code 50000")
        held = await eventually(
            lambda: ah.deliveries(case_no=case_no, status="pending"), what="the dispatched update held back"
        )
        assert [r["update"] for r in held] == ["dispatched"] and held[0]["attempts"] == 0

        # The platform recovers and ops put the failed update back in line: both go, in order.
        await ah.sim(SYSTEM, "POST", "/_sim/fail", params={"count": 0})
        assert await retry_failed(ah.hub.runtime("gateway").db, SYSTEM) == 1
        items = await ah.wait_received(SYSTEM, order_no, 2)
        assert [i["action"] for i in items] == ["签收", "交办"]
