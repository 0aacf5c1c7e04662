"""The citizen QR form (码上监督, issue 18) in Chromium at a phone's 390×844, as a citizen uses it: the
verification code read from the SMS simulator, the case registered, the department's reply (given
through the API, as the department's own system would) shown on the status page, and the rating given
there; the anonymous path registers with no SMS at all. The public pages and the console's QR poster
pass axe-core's WCAG 2.1 AA rules at that size. Synthetic reporter data only; never logged."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect
from sqlalchemy import select

from services.notification.tables import deliveries
from tests.browser.conftest import screenshot_path
from tests.browser.people import POLICE, STREET, centre_headers, department_headers, login, read_case
from tests.browser.test_console_accessibility import described, violations
from tests.integration.test_citizen_form import CODE_TEMPLATE, code_sent_to
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

PHONE_SIZE = {"width": 390, "height": 844}
PHONE = "13800000001"
REPLY = "民警已到现场劝离聚集人员，并将加强夜间巡逻。"


async def open_form(page: Page, hub: InProcessHub) -> None:
    await page.set_viewport_size(PHONE_SIZE)  # type: ignore[arg-type]
    await page.goto(f"{hub.gateway}/report/{STREET}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("反映问题")
    await expect(page.get_by_text("白云路街道综治中心").first).to_be_visible()


async def fill_the_problem(page: Page, title: str) -> None:
    await page.get_by_label("问题类别").select_option(label="治安问题")
    await page.get_by_label("标题").fill(title)
    await page.get_by_label("问题描述").fill("每晚十一点后有人在测试小区北门聚集饮酒，昨晚发生推搡。")
    await page.get_by_label("问题发生地址").fill("白云路街道测试小区北门")


async def submitted(page: Page) -> tuple[str, str]:
    await page.get_by_role("button", name="提交", exact=True).click()
    await expect(page.get_by_role("heading", name="提交成功")).to_be_focused()
    case_no = (await page.locator("#case-no").text_content() or "").strip()
    link = await page.get_by_role("link", name="/report/status/").get_attribute("href") or ""
    assert case_no and "/report/status/" in link
    return case_no, link


async def dispatched(hub: InProcessHub, headers: dict[str, str], case_no: str) -> dict[str, Any]:
    return await eventually(
        lambda: read_case(hub, headers, case_no), until=lambda c: bool(c.get("referrals")), what="dispatched"
    )


async def test_a_citizen_reports_from_a_phone_reads_the_reply_and_rates(
    console_hub: InProcessHub, page: Page
) -> None:
    hub = console_hub
    await open_form(page, hub)
    await fill_the_problem(page, "小区门口深夜有人聚集")
    await page.get_by_label("姓名").fill("测试居民丁")
    await page.get_by_label("手机号码").fill(PHONE)
    await page.get_by_role("button", name="获取验证码").click()
    await expect(page.get_by_role("status")).to_have_text("验证码已发送，请查看手机短信")
    await expect(page.get_by_role("button", name="重新获取")).to_be_disabled()  # the countdown
    await page.get_by_label("短信验证码").fill(await code_sent_to(hub, PHONE))
    await page.screenshot(path=screenshot_path("citizen-form-phone"), full_page=True)
    case_no, link = await submitted(page)
    await page.screenshot(path=screenshot_path("citizen-form-done"), full_page=True)

    centre = await centre_headers(hub)
    case = await dispatched(hub, centre, case_no)
    assert case["channel"] == "web" and case["colour"]  # graded (研判) as any case
    lead = next(r for r in case["referrals"] if r["role"] == "lead")
    assert lead["department"] == POLICE
    async with http_client(
        base_url=hub.gateway, headers=await department_headers(hub, POLICE), timeout=30
    ) as http:
        assert (await http.post(f"/api/v1/referrals/{lead['id']}/acknowledge")).is_success
        replied = await http.post(
            f"/api/v1/referrals/{lead['id']}/reply", json={"outcome": "resolved", "summary": REPLY}
        )
        assert replied.is_success, replied.text

    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("办理进度")
    await expect(page.locator("#case-no")).to_have_text(case_no)
    await expect(page.get_by_text(REPLY)).to_be_visible()
    for personal in ("测试居民丁", PHONE, "测试小区北门", "聚集饮酒"):
        await expect(page.locator("body")).not_to_contain_text(personal)
    await page.get_by_label("基本满意").check()
    await page.screenshot(path=screenshot_path("citizen-status-phone"), full_page=True)
    await page.get_by_role("button", name="提交评价").click()
    await expect(page.get_by_role("status")).to_have_text("感谢您的评价！")
    await expect(page.locator("#rated")).to_contain_text("您的评价：基本满意")
    await expect(page.get_by_role("button", name="提交评价")).to_have_count(0)  # once only
    closed = await eventually(
        lambda: read_case(hub, centre, case_no), until=lambda c: c.get("status") == "closed", what="closed"
    )
    assert closed["status"] == "closed"


async def test_an_anonymous_report_registers_with_no_sms(console_hub: InProcessHub, page: Page) -> None:
    hub = console_hub
    codes_before = [m for m in await hub.sms_received() if m["template_code"] == CODE_TEMPLATE]
    await open_form(page, hub)
    await fill_the_problem(page, "匿名反映：深夜有人聚集")
    await page.get_by_label("匿名反映").check()
    await expect(page.get_by_label("手机号码")).to_be_hidden()
    await expect(page.get_by_role("button", name="获取验证码")).to_be_hidden()
    case_no, _link = await submitted(page)
    await expect(page.get_by_text("受理短信将发送到您的手机")).to_be_hidden()

    centre = await centre_headers(hub)
    case = await dispatched(hub, centre, case_no)
    assert case["channel"] == "web" and case["reporter"].get("anonymous") is True

    async def sent_for_case() -> list[Any]:
        async with hub.runtime("notification").db.sessions() as session:
            return list(await session.execute(select(deliveries).where(deliveries.c.case_no == case_no)))

    # The department's 吹哨 is written in the same transaction a citizen's 受理告知 would be.
    rows = await eventually(
        sent_for_case,
        until=lambda found: any(r.template == "referral_dispatched" for r in found),
        what="吹哨",
    )
    assert [r.template for r in rows if r.recipient_kind == "citizen"] == []
    assert [m for m in await hub.sms_received() if m["template_code"] == CODE_TEMPLATE] == codes_before


async def test_the_public_pages_and_the_qr_poster_pass_wcag_aa_at_phone_size(
    console_hub: InProcessHub, page: Page
) -> None:
    hub = console_hub
    problems: list[str] = []
    await open_form(page, hub)
    problems += described("report form", await violations(page))
    await page.get_by_role("button", name="提交", exact=True).click()  # every field refused, told
    await expect(page.get_by_role("alert")).to_contain_text("需要修改")
    await expect(page.get_by_label("问题类别")).to_be_focused()
    problems += described("report form with errors", await violations(page))

    await fill_the_problem(page, "无障碍检查用例")
    await page.get_by_label("匿名反映").check()
    _case_no, link = await submitted(page)
    problems += described("report submitted", await violations(page))
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("办理进度")
    problems += described("status page", await violations(page))
    await page.goto(f"{hub.gateway}/report/150203999000")
    await expect(page.get_by_role("heading", level=1)).to_have_text("未找到该综治中心")
    problems += described("unknown centre", await violations(page))

    await login(page, hub, "centre", centre=STREET)
    await page.get_by_role("navigation", name="主导航").get_by_role("link", name="码上监督").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("码上监督二维码")
    poster = page.locator("[data-qr]")
    await expect(poster.get_by_role("heading", level=2)).to_have_text("白云路街道综治中心")
    qr = poster.get_by_role("img", name="白云路街道综治中心码上监督二维码")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    await expect(poster).to_contain_text(f"/report/{STREET}")
    await page.screenshot(path=screenshot_path("console-qr-poster"), full_page=True)
    problems += described("console 码上监督", await violations(page))
    assert not problems, "\n".join(problems)
