"""The ops desk's other calls (issue 15): a failed adapter delivery retried by ops (once; scoped,
refused for other roles), and the holiday-schedule preview: the deadlines a schedule would move,
nothing written; a bad file is a 422 in Chinese (both backends)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from gateway.authorization import decide
from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import (
    FACILITIES,
    HOUSING,
    Api,
    by_department,
    clock,
    hub,
    problem,
    sh,
)
from tests.kit.inprocess import InProcessHub

__all__ = ["clock", "hub"]

SAMPLE_2027 = Path(__file__).resolve().parents[1] / "unit" / "referral" / "data" / "schedule_2027_sample.yaml"


async def test_a_failed_adapter_delivery_is_retried_by_ops_once(hub: InProcessHub) -> None:
    from gateway.tables import adapter_deliveries as d

    now = datetime.now(UTC)
    async with hub.runtime("gateway").db.transaction() as session:
        inserted = await session.execute(
            d.insert()
            .values(
                update_id=str(uuid.uuid4()),
                case_no="ZZ-20260302-77777",
                system="hotline12345",
                update_name="accepted",
                update_key="1:accepted",
                round=1,
                rank=0,
                data={},
                status="failed",
                attempts=20,
                next_attempt_at=now,
                last_error="HTTP 503",
                created_at=now - timedelta(minutes=42),
                finished_at=now,
            )
            .returning(d.c.id)
        )
        delivery_id = inserted.scalar_one()
    api = Api(hub)
    path = f"/api/v1/ops/adapter-deliveries/{delivery_id}/retry"
    # Ops only (the route table; bearer auth enforces it: tests/browser/test_console_ops.py).
    template = "/api/v1/ops/adapter-deliveries/{delivery_id}/retry"
    assert decide("POST", template, "ops").allowed
    assert not any(
        decide("POST", template, r).allowed for r in ("centre", "supervisor", "department", "adapter")
    )
    problem(
        await api.post(
            "/api/v1/ops/adapter-deliveries/999999/retry", {"reason": "对方系统已恢复"}, role="ops"
        ),
        404,
    )
    retried = await api.post(path, {"reason": "对方系统已恢复"}, role="ops")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    async with hub.runtime("gateway").db.sessions() as session:
        row = (await session.execute(select(d.c.status).where(d.c.id == delivery_id))).one()
    assert row.status in ("pending", "sending", "sent", "failed")  # the sender has it again
    if row.status == "pending":
        assert problem(await api.post(path, {"reason": "再试"}, role="ops"), 409)


async def test_the_schedule_preview_shows_the_deadlines_it_would_move_and_writes_nothing(
    hub: InProcessHub, clock: ManualClock
) -> None:
    from services.referral.tables import deadlines, holiday_schedules

    clock.set(sh(2026, 12, 28, 10, 0))  # 7 working days reach into 2027, which nobody published yet
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    lead = by_department(state, HOUSING)
    assert lead["deadline_provisional"]

    async def stored() -> tuple[int, list[tuple[object, ...]]]:
        async with hub.runtime("referral").db.sessions() as session:
            count = (await session.execute(select(func.count()).select_from(holiday_schedules))).scalar_one()
            rows = (
                await session.execute(select(deadlines.c.id, deadlines.c.due_at, deadlines.c.provisional))
            ).all()
        return int(count), sorted(tuple(r) for r in rows)

    before = await stored()
    text = SAMPLE_2027.read_text(encoding="utf-8")
    bad = await api.post(
        "/api/v1/calendar/schedules/preview", {"text": "year: 2027\nholidays: [2027-02-30]\n"}
    )
    assert "节假日安排文件有误" in problem(bad, 422)["title"]
    problem(await api.post("/api/v1/calendar/schedules/preview", {"text": text}, role="ops"), 403)
    preview = await api.post("/api/v1/calendar/schedules/preview", {"text": text, "source": SAMPLE_2027.name})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["year"] == 2027 and body["recomputed"] == 3
    moved = [m for m in body["deadlines"] if m["case_no"] == case_no and m["department"] == HOUSING]
    (handling,) = [m for m in moved if m["kind"] == "handling"]
    # 2027-01-01 becomes a holiday: Wed 01-06 → Thu 01-07 (as the load itself would do).
    assert handling["due_at_before"].startswith("2027-01-06T02:00")
    assert handling["due_at_after"].startswith("2027-01-07T02:00")
    assert await stored() == before  # nothing written
    loaded = await api.post("/api/v1/calendar/schedules", {"text": text, "source": SAMPLE_2027.name})
    assert loaded.status_code == 200 and loaded.json()["recomputed"] == body["recomputed"]
