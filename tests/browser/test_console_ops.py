"""The ops pages in a real Chromium (issue 15): an ops person replays a dead letter from 运维处置 and it is
processed exactly once (checked in referral's inbox and the store); a supervisor's bad holiday file is
refused in Chinese and nothing changes (checked in referral's database); a good one is previewed, then loaded."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.async_api import Page, expect
from sqlalchemy import func, select

from tests.browser.conftest import screenshot_path
from tests.browser.test_console import _dispatched_case, _login
from tests.integration.test_dead_letters import processed
from tests.kit.auth import bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

SAMPLE_2027 = Path(__file__).resolve().parents[1] / "unit" / "referral" / "data" / "schedule_2027_sample.yaml"


async def _emit(hub: InProcessHub, service: str, type_: str, subject: str, data: dict[str, object]) -> None:
    rt = hub.runtime(service)
    async with rt.db.transaction() as session:
        await rt.outbox.emit(session, type_, subject, data)


async def _known_to_referral(hub: InProcessHub, case_no: str) -> bool:
    from services.referral.tables import cases

    async with hub.runtime("referral").db.sessions() as session:
        return (
            await session.execute(select(cases.c.case_no).where(cases.c.case_no == case_no))
        ).first() is not None


async def test_an_ops_person_replays_a_dead_letter_and_it_is_processed_once(
    console_hub: InProcessHub, page: Page
) -> None:
    from services.intake.tables import kit as intake_kit

    hub = console_hub
    case_no = "ZZ-20260302-980001"
    # 12345 urges a case referral has never heard of: retried, then dead-lettered.
    await _emit(hub, "gateway", "hotline.urge_received.v1", case_no, {"case_no": case_no})
    desk = hub.runtime("referral").dead_letters

    async def dead() -> list[dict[str, object]]:
        return [i for i in (await desk.list(status="open"))[1] if i["case_no"] == case_no]

    (item,) = await eventually(dead, timeout=30, what="the urge dead-lettered")
    event_id = str(item["event_id"])

    # With bearer auth, only ops: a centre's token is refused (403 problem details), nothing replayed.
    centre = bearer(await fetch_token(hub.gateway, await create_client(hub, "centre")))
    async with http_client(base_url=hub.gateway, headers=centre) as http:
        for refused in (
            await http.get("/api/v1/ops/dead-letters"),
            await http.post(f"/api/v1/ops/dead-letters/{item['id']}/replay", json={"reason": "试试看"}),
        ):
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")

    # The fix: the case reaches referral after all (an anonymous copy of a real registration).
    model, _lead, _centre = await _dispatched_case(hub)
    async with hub.runtime("intake").db.sessions() as session:
        (body,) = (
            await session.execute(
                select(intake_kit.outbox.c.body).where(
                    intake_kit.outbox.c.subject == model, intake_kit.outbox.c.type == "case.registered.v1"
                )
            )
        ).one()
    data = json.loads(body)["data"]
    data.update(case_no=case_no, reporter={"anonymous": True}, reporter_key=None)
    await _emit(hub, "intake", "case.registered.v1", case_no, data)
    await eventually(lambda: _known_to_referral(hub, case_no), what="the case registered in referral")

    await _login(page, hub, "ops")
    await page.goto(hub.gateway + "/console/#/ops-desk")
    await expect(page.get_by_role("heading", name="运维处置")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=case_no)
    await expect(row).to_contain_text("hotline.urge_received.v1")
    await expect(row).to_contain_text("case not registered here yet")
    await row.get_by_role("button", name="查看").click()
    detail = page.get_by_role("region", name=f"死信 {item['id']}")
    await expect(detail).to_contain_text(event_id)
    # A reason is required: an empty one is refused in Chinese before anything is sent.
    await detail.get_by_role("button", name="重放").click()
    await expect(page.get_by_role("alert")).to_have_text("有 1 项需要修改：请填写原因。")
    await detail.get_by_label("原因").first.fill("重")
    await detail.get_by_role("button", name="重放").click()
    await expect(detail.locator(".field-error").first).to_have_text("原因至少填写 2 个字（现有 1 个）。")
    assert await processed(hub, event_id) == 0
    await detail.get_by_label("原因").first.fill("案件已补录，重放催办")
    await detail.get_by_role("button", name="重放").click()
    await expect(page.get_by_role("status")).to_have_text(f"死信 {item['id']} 已重放。")
    await expect(page.get_by_role("region", name=f"死信 {item['id']}")).to_contain_text("已处理（已重放）")
    await page.screenshot(path=screenshot_path("ops-desk"), full_page=True)

    assert await eventually(lambda: processed(hub, event_id), what="the replayed urge processed") == 1
    stored = await desk.get(int(str(item["id"]).split("-")[1]))
    assert stored["status"] == "resolved" and stored["resolution"] == "replayed" and stored["replays"] == 1
    assert (
        str(stored["resolved_by"]).startswith("ops:") and stored["resolve_reason"] == "案件已补录，重放催办"
    )
    # Nothing left to replay from the page: the open list no longer has it.
    await page.goto(hub.gateway + "/console/#/ops-desk")
    await expect(page.get_by_role("heading", name="运维处置")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=case_no)).to_have_count(0)
    assert await processed(hub, event_id) == 1


async def test_a_bad_holiday_file_is_refused_in_chinese_and_changes_nothing(
    console_hub: InProcessHub, page: Page
) -> None:
    from services.referral.tables import holiday_schedules

    async def schedules() -> int:
        async with console_hub.runtime("referral").db.sessions() as session:
            return int(
                (await session.execute(select(func.count()).select_from(holiday_schedules))).scalar_one()
            )

    before = await schedules()
    await _login(page, console_hub, "supervisor")
    await page.goto(console_hub.gateway + "/console/#/calendar")
    await expect(page.get_by_role("heading", name="节假日安排")).to_be_visible()
    await page.get_by_label("节假日安排文件（YAML 或 JSON）").set_input_files(
        files=[
            {"name": "2027.yaml", "mimeType": "text/yaml", "buffer": b"year: 2027\nholidays: [2027-02-30]\n"}
        ]
    )
    await page.get_by_role("button", name="预览").click()
    await expect(page.get_by_role("alert")).to_contain_text(re.compile("节假日安排文件有误"))
    await expect(page.get_by_role("button", name=re.compile("确认载入"))).to_have_count(0)
    await page.screenshot(path=screenshot_path("calendar-bad-file"), full_page=True)
    assert await schedules() == before

    # A good file: the preview first (nothing written), then the confirmation loads it.
    await page.get_by_label("节假日安排文件（YAML 或 JSON）").set_input_files(str(SAMPLE_2027))
    await page.get_by_role("button", name="预览").click()
    preview = page.get_by_role("region", name="载入预览")
    await expect(preview).to_contain_text("预览：2027 年")
    await expect(preview).to_contain_text("将重新计算")
    assert await schedules() == before
    await page.screenshot(path=screenshot_path("calendar-preview"), full_page=True)
    await preview.get_by_role("button", name="确认载入 2027 年安排").click()
    await expect(page.get_by_role("status")).to_contain_text("已载入 2027 年节假日安排")
    assert await schedules() == before + 1
