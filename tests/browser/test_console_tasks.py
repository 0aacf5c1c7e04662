"""The worklists in a real browser, each as a named person: a supervisor decides, from 我的待办, the
extension a department asked for and sees the new deadline (the one the API then holds); a department
user acknowledges (报到) from its inbox, where what is still to acknowledge comes first."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot_path
from tests.browser.people import CASE, POLICE, centre_headers, department_headers, dispatched_case, login
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shown(moment: str) -> str:
    """A time as the console shows it (dom.js when(): Beijing time, yyyy/MM/dd HH:mm)."""
    return datetime.fromisoformat(moment).astimezone(SHANGHAI).strftime("%Y/%m/%d %H:%M")


async def test_a_supervisor_approves_an_extension_and_the_deadline_moves(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, lead, centre = await dispatched_case(console_hub)
    department = await department_headers(console_hub, POLICE)
    async with http_client(base_url=console_hub.gateway) as http:
        assert (await http.post(f"/api/v1/referrals/{lead['id']}/acknowledge", headers=department)).is_success
        asked = await http.post(
            f"/api/v1/referrals/{lead['id']}/extension",
            json={"working_days": 3, "reason": "需等待物业提供监控录像（测试数据）"},
            headers=department,
        )
        assert asked.status_code == 200, asked.text
        before = asked.json()["referral"]
    assert before["status"] == "extension_requested"

    await login(page, console_hub, "supervisor")
    nav = page.get_by_role("navigation", name="主导航")
    await nav.get_by_role("link", name="我的待办").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的待办")
    row = page.get_by_role("table", name="待审批的延期申请").get_by_role("row").filter(has_text=case_no)
    await expect(row).to_contain_text(shown(before["due_at"]))
    await row.get_by_text("审批延期：").click()
    await expect(row).to_contain_text("申请延长 3 个工作日")
    await row.get_by_label("审批结果").select_option(label="批准延期")
    await row.get_by_label("审批意见（可空）").fill("同意延期，请按期办结")
    await page.screenshot(path=screenshot_path("tasks-extension"), full_page=True)
    await row.get_by_role("button", name="提交审批").click()
    await expect(page.get_by_role("status")).to_contain_text("已批准延期，新的办理时限：")

    async with http_client(base_url=console_hub.gateway, headers=centre) as http:
        after = (await http.get(f"/api/v1/referrals/{lead['id']}")).json()
    assert after["status"] != "extension_requested"
    assert datetime.fromisoformat(after["due_at"]) > datetime.fromisoformat(before["due_at"])
    assert after["extensions"][-1]["approved"] is True
    await expect(page.get_by_role("status")).to_have_text(
        f"已批准延期，新的办理时限：{shown(after['due_at'])}。"
    )
    await expect(page.get_by_role("table", name="待审批的延期申请").filter(has_text=case_no)).to_have_count(0)
    await page.screenshot(path=screenshot_path("tasks"), full_page=True)

    # The case page shows the moved deadline and the extension in working days.
    await page.goto(page.url.split("#")[0] + f"#/case/{case_no}")
    referrals = page.get_by_role("table", name="本事项的转办")
    await expect(referrals).to_contain_text(shown(after["due_at"]))
    await expect(referrals).to_contain_text("已延期 3 个工作日")


async def test_a_department_acknowledges_from_its_inbox_to_acknowledge_first(
    console_hub: InProcessHub, page: Page
) -> None:
    earlier_no, earlier, _ = await dispatched_case(console_hub)
    department = await department_headers(console_hub, POLICE)
    async with http_client(base_url=console_hub.gateway, headers=department) as http:
        assert (await http.post(f"/api/v1/referrals/{earlier['id']}/acknowledge")).is_success
    case_no, lead, _ = await dispatched_case(console_hub)

    await login(page, console_hub, "department", department=POLICE)
    await page.get_by_role("navigation", name="主导航").get_by_role("link", name="待办收件箱").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("待办收件箱")
    inbox = page.get_by_role("table", name="待办转办", exact=False)
    rows = inbox.get_by_role("row")
    await expect(rows.filter(has_text=case_no)).to_contain_text("待报到")
    texts = await rows.all_inner_texts()
    to_ack = next(i for i, t in enumerate(texts) if case_no in t)
    acknowledged = next(i for i, t in enumerate(texts) if earlier_no in t)
    assert to_ack < acknowledged, "what is still to acknowledge comes first"
    await page.screenshot(path=screenshot_path("inbox"), full_page=True)

    await rows.filter(has_text=case_no).get_by_role("button", name=f"报到：事项 {case_no}").click()
    await expect(page.get_by_role("status")).to_have_text(f"已报到：事项 {case_no}。")
    await expect(rows.filter(has_text=case_no)).to_contain_text("已报到")
    async with http_client(base_url=console_hub.gateway, headers=department) as http:
        found = (await http.get(f"/api/v1/referrals/{lead['id']}")).json()
    assert found["status"] == "acknowledged" and found["acknowledged_at"]
    await page.screenshot(path=screenshot_path("inbox-acknowledged"), full_page=True)


async def test_a_weak_signal_on_the_worklist_is_marked_done_with_a_note(
    console_hub: InProcessHub, page: Page
) -> None:
    # Five noise reports from one street within the day (HUB_OPS_BURST_THRESHOLD's default): a burst
    # (弱信号：高发聚集) on the worklist.
    street = "150203002000"
    centre = await centre_headers(console_hub)
    case_nos = []
    async with http_client(base_url=console_hub.gateway, headers=centre) as http:
        for i in range(5):
            body = {**CASE, "category": "noise", "title": f"夜间施工噪声（测试数据 {i}）"}
            body["location"] = {"address": f"测试区林荫路{i + 1}号", "street_code": street}
            registered = await http.post("/api/v1/cases", json=body)
            assert registered.status_code == 201, registered.text
            case_nos.append(registered.json()["case_no"])

        async def bursts() -> list[dict[str, Any]]:
            found = (
                await http.get("/api/v1/tasks", params={"kind": "weak_signal_burst", "page_size": 200})
            ).json()
            return [t for t in found["items"] if set(case_nos) <= set(t["case_nos"])]

        task = (await eventually(bursts, until=bool, what="a burst task"))[0]

    await login(page, console_hub, "centre")
    await page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的待办").click()
    row = (
        page.get_by_role("table", name="待办任务（到期先后）")
        .get_by_role("row")
        .filter(has_text="高发聚集")
        .filter(has_text=case_nos[0])
    )
    await expect(row).to_contain_text("待办")
    await row.get_by_text("办结", exact=True).click()
    await row.get_by_role("button", name="标记完成").click()  # no note: said, nothing sent
    await expect(page.get_by_role("alert")).to_have_text("有 1 项需要修改：请填写办理情况。")
    await expect(page.locator(f"#task-note-{task['id']}-error")).to_have_text("请填写办理情况。")
    # 推迟 without a time: the same, on its field; the task stays as it was (checked below).
    await row.get_by_text("推迟", exact=True).click()
    await row.get_by_role("button", name="确认推迟").click()
    await expect(page.locator(f"#task-until-{task['id']}-error")).to_have_text("请填写推迟到的时间。")
    await row.get_by_label("办理情况").fill("已联系街道核实，施工方已调整作业时间（测试数据）")
    await page.screenshot(path=screenshot_path("tasks-done-form"), full_page=True)
    await row.get_by_role("button", name="标记完成").click()
    await expect(page.get_by_role("status")).to_contain_text("已完成：")
    await expect(row).to_have_count(0)
    async with http_client(base_url=console_hub.gateway, headers=centre) as http:
        done = (await http.get(f"/api/v1/tasks/{task['id']}")).json()
    assert done["status"] == "done" and done["history"][-1]["action"] == "done"
    assert "snooze" not in {h["action"] for h in done["history"]}  # the refused 推迟 was never sent
