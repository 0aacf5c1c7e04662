"""The dispatcher's and supervisor's actions on the case page, in a real browser, each as a named person:
re-route with the lead chosen from the department registry, 上报 from a street centre (after which the
person may no longer see the reporter's data), a refused action told in Chinese with nothing changed,
and the timeline's exact durations — each outcome checked through the API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, Route, expect

from tests.browser.conftest import screenshot_path
from tests.browser.people import (
    CASE,
    DISTRICT,
    JUSTICE,
    JUSTICE_NAME,
    POLICE,
    STREET,
    department_headers,
    dispatched_case,
    login,
    read_case,
)
from tests.kit.auth import bearer
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually


async def open_case(page: Page, case_no: str) -> None:
    await page.goto(page.url.split("#")[0] + f"#/case/{case_no}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"事项 {case_no}")
    await expect(page.get_by_role("heading", name="办理操作")).to_be_visible()


async def test_a_dispatcher_re_routes_a_case_to_a_lead_chosen_from_the_registry(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, lead, centre = await dispatched_case(console_hub)
    assert lead["department"] == POLICE
    await login(page, console_hub, "centre")
    await open_case(page, case_no)
    await page.get_by_text("改派（重新指定牵头和协办单位）").click()
    lead_list = page.get_by_label("牵头单位", exact=True)
    # The registry's units by name (not typed codes): the current lead is preselected.
    await expect(lead_list).to_have_value(POLICE)
    await lead_list.select_option(label=JUSTICE_NAME)
    await page.get_by_label("协办单位（可多选，按住 Ctrl）").select_option(POLICE)
    await page.screenshot(path=screenshot_path("case-reroute-form"), full_page=True)
    await page.get_by_role("button", name="确认改派").click()
    await expect(page.get_by_role("status")).to_have_text("已改派。")
    referrals = page.get_by_role("table", name="本事项的转办")
    await expect(referrals.get_by_role("row").filter(has_text="白云路司法所")).to_contain_text("牵头")
    await page.screenshot(path=screenshot_path("case-rerouted"), full_page=True)

    case = await read_case(console_hub, centre, case_no)
    current = {r["department"]: r["role"] for r in case["referrals"] if r["status"] != "cancelled"}
    assert current == {JUSTICE: "lead", POLICE: "assisting"}


async def test_a_refused_close_is_told_in_chinese_and_changes_nothing(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, lead, centre = await dispatched_case(console_hub)
    department = await department_headers(console_hub, POLICE)
    async with http_client(base_url=console_hub.gateway, headers=department) as http:
        assert (await http.post(f"/api/v1/referrals/{lead['id']}/acknowledge")).status_code == 200
        replied = await http.post(
            f"/api/v1/referrals/{lead['id']}/reply",
            json={"outcome": "mediated", "summary": "已调解（测试数据）"},
        )
        assert replied.status_code == 200, replied.text
    await eventually(
        lambda: read_case(console_hub, centre, case_no),
        until=lambda c: c["status"] in ("replied", "callback"),
        what="replied",
    )
    await login(page, console_hub, "supervisor")
    await open_case(page, case_no)
    await expect(page.locator("details[data-action=close]")).to_be_visible()
    # Meanwhile the reporter, called back, is dissatisfied: the case reopens and goes out again.
    async with http_client(base_url=console_hub.gateway, headers=centre) as http:
        rated = await http.post(f"/api/v1/cases/{case_no}/callback", json={"satisfaction": "dissatisfied"})
        assert rated.status_code == 200, rated.text
    before = await read_case(console_hub, centre, case_no)
    assert before["status"] == "dispatched"

    await page.get_by_text("销号", exact=True).click()
    await page.get_by_role("button", name="确认销号").click()
    await expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^操作未执行：事项当前为「已分拨」，不能「销号」。现在可以：.*分拨 / 改派")
    )
    await page.screenshot(path=screenshot_path("case-close-refused"), full_page=True)
    after = await read_case(console_hub, centre, case_no)
    assert after["status"] == "dispatched" and after.get("closed_at") is None
    assert after["referrals"] == before["referrals"]


async def test_a_street_user_escalates_to_the_district_and_then_cannot_see_the_reporter(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, _, centre = await dispatched_case(console_hub)
    assert (await read_case(console_hub, centre, case_no))["centre_id"] == STREET
    await login(page, console_hub, "centre", centre=STREET)
    await open_case(page, case_no)
    # Within its scope the street may read the reporter, for a stated purpose; shown here only.
    await page.get_by_text("查看当事人个人信息（需说明目的，留痕）").click()
    await page.get_by_label("查看目的").fill("电话联系当事人安排调解")
    await page.get_by_role("button", name="查看", exact=True).click()
    revealed = page.get_by_label("当事人个人信息")
    await expect(revealed).to_contain_text(CASE["reporter"]["phone"])
    assert await page.evaluate("JSON.stringify(sessionStorage).includes('13800000000')") is False

    await page.get_by_text("上报至昆都仑区社会治理综合服务中心").click()
    await page.get_by_label("上报理由").fill("涉及多个街道，需区级协调（测试数据）")
    await page.screenshot(path=screenshot_path("case-escalate-form"), full_page=True)
    await page.get_by_role("button", name="确认上报").click()
    await expect(page.get_by_role("status")).to_have_text("已上报至昆都仑区社会治理综合服务中心。")
    escalated = await read_case(console_hub, centre, case_no)
    assert escalated["centre_id"] == DISTRICT and escalated["centre_level"] == "district"

    # Now beyond the street's scope: the reveal is refused, in Chinese, and shows nothing.
    await page.get_by_text("查看当事人个人信息（需说明目的，留痕）").click()
    await page.get_by_label("查看目的").fill("再次联系当事人")
    await page.get_by_role("button", name="查看", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("未找到该事项")
    await expect(page.get_by_role("alert")).to_contain_text("无权查看")
    await expect(revealed).to_have_count(0)
    await page.screenshot(path=screenshot_path("case-escalated-reveal-refused"), full_page=True)
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('hub.console.session')).token")
    async with http_client(base_url=console_hub.gateway, headers=bearer(token), timeout=30) as http:
        refused = await http.post(
            f"/api/v1/cases/{case_no}/personal-data", json={"purpose": "再次联系当事人"}
        )
        assert refused.status_code == 404 and CASE["reporter"]["phone"] not in refused.text
    # Reloaded, the case itself is no longer the street's.
    await page.reload()
    await expect(page.get_by_role("alert")).to_contain_text("未找到该事项")


async def test_the_timeline_shows_each_handoff_s_exact_duration(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, _, _ = await dispatched_case(console_hub)
    start = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    gaps_ms = [40, 3200, 5 * 60_000 + 12_000, 3 * 3_600_000 + 4 * 60_000]
    entries, at = [], start
    for i, gap in enumerate([None, *gaps_ms]):
        at = at + timedelta(milliseconds=gap or 0)
        entries.append(
            {
                "at": at.isoformat(),
                "service": "referral",
                "event": f"step.{i}",
                "actor": {"role": "system"},
                "detail": {},
                "trace_id": None,
                "span_id": None,
                "since_previous_ms": gap,
            }
        )

    async def timeline(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(entries))

    await page.route(f"**/api/v1/cases/{case_no}/timeline", timeline)
    await login(page, console_hub, "centre")
    await open_case(page, case_no)
    table = page.get_by_role("table", name="各环节交接（由早到晚）")
    for i, shown in enumerate(["40 毫秒", "3.2 秒", "5 分 12 秒", "3 小时 4 分"], start=2):
        await expect(table.get_by_role("row").nth(i).get_by_role("cell").nth(4)).to_have_text(shown)
    await page.screenshot(path=screenshot_path("case-timeline-durations"), full_page=True)


async def test_a_supervisor_refuses_a_return_records_a_meeting_and_overrides_the_colour(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, lead, centre = await dispatched_case(console_hub)
    department = await department_headers(console_hub, POLICE)
    async with http_client(base_url=console_hub.gateway, headers=department) as http:
        back = await http.post(
            f"/api/v1/referrals/{lead['id']}/return",
            json={"reason_code": "not_our_duty", "reason": "属民事纠纷，非治安事项（测试数据）"},
        )
        assert back.status_code == 200, back.text
    await eventually(
        lambda: read_case(console_hub, centre, case_no),
        until=lambda c: any(
            q["reason_code"] == "returned" and not q["resolved_at"] for q in c["dispatch_queue"]
        ),
        what="the return queued",
    )
    await login(page, console_hub, "supervisor")
    await open_case(page, case_no)
    pending = page.get_by_role("group", name="部门退回待处理")
    await expect(pending).to_contain_text("不属本部门职责")
    await expect(pending).to_contain_text("属民事纠纷，非治安事项")
    await page.screenshot(path=screenshot_path("case-return-decision"), full_page=True)
    await pending.get_by_text("不予认可，仍由原单位牵头").click()
    await pending.get_by_role("button", name="退回不予认可").click()
    await expect(page.get_by_role("status")).to_contain_text("退回不予认可，已重新交")
    await expect(page.get_by_role("group", name="部门退回待处理")).to_have_count(0)
    case = await read_case(console_hub, centre, case_no)
    open_leads = [r for r in case["referrals"] if r["role"] == "lead" and r["status"] == "dispatched"]
    assert [r["department"] for r in open_leads] == [POLICE] and open_leads[0]["id"] != lead["id"]
    assert all(q["resolved_at"] for q in case["dispatch_queue"])

    # A joint meeting (联席会商): participants from the registry, the conclusion one line each.
    await page.get_by_text("记录联席会商").click()
    await page.get_by_label("会商时间").fill("2026-12-04T10:30")
    await page.get_by_label("参会单位（可多选）").select_option([POLICE, JUSTICE])
    await page.get_by_label("会商结论（每行一条）").fill("派出所牵头约谈双方\n司法所参与调解")
    await page.get_by_role("button", name="保存会商记录").click()
    await expect(page.get_by_role("status")).to_have_text("会商记录已保存。")
    meetings = (await read_case(console_hub, centre, case_no))["meetings"]
    assert sorted(meetings[-1]["departments"]) == sorted([POLICE, JUSTICE])
    assert meetings[-1]["decisions"] == ["派出所牵头约谈双方", "司法所参与调解"]

    # The colour, overridden with a reason.
    await page.get_by_text("调整风险颜色（需说明理由）").click()
    await page.get_by_label("风险颜色").select_option(label="红色")
    await page.get_by_label("调整理由").fill("当事人情绪激动，存在激化风险（测试数据）")
    await page.get_by_role("button", name="确认调整").click()
    await expect(page.get_by_role("status")).to_have_text("风险颜色已调整为红色。")
    assert (await read_case(console_hub, centre, case_no))["colour"] == "red"
    await page.screenshot(path=screenshot_path("case-actions"), full_page=True)
