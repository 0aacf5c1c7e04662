"""受理 at the window, in a real browser, as a named window person (role centre): register a case
through the form and see its colour with the reasons and the words they rest on; every bad field
shows its Chinese error and nothing is written (checked in intake's database); a near-identical
second registration is warned about first; the receipt prints with the case number and without the
reporter's phone or ID; idle logout, and a half-filled form that survives both a renewed session and
one that ended.

The idle time is shortened for a test with localStorage "hub.console.idleSeconds" (shell.js: it can
only shorten the 30 minutes)."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import Page, Request, Route, expect
from sqlalchemy import func, select

from gateway.accounts.store import create_user
from gateway.auth.answers import unauthenticated
from services.intake.domain.identifiers import resident_id_check_char
from services.intake.tables import cases
from tests.browser.conftest import keep_for_docs, screenshot_path
from tests.kit.auth import bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

PASSWORD = "window-test-password"
STREET = "150203001000"  # 白云路街道 (services/referral/data/centres.yaml)
COMMUNITY = "150203001001"
DISTRICT_NAME = "昆都仑区社会治理综合服务中心"
THREAT = "讨要工资未果，当事人情绪激动，扬言要从楼顶跳下去"
# Obviously synthetic reporter data: the 1380000xxxx test numbers, a name no person has.
ID_17 = "15020319900101123"
VALID_ID = ID_17 + resident_id_check_char(ID_17)
WRONG_CHECK_ID = ID_17 + ("0" if VALID_ID[-1] != "0" else "1")


async def sign_in(page: Page, hub: InProcessHub, username: str | None = None) -> str:
    """A named window person (created unless given) signs in through the form; their username."""
    if username is None:
        username = f"window.{secrets.token_hex(4)}"
        await create_user(
            hub.runtime("gateway").db,
            username,
            role="centre",
            centre="150203",
            password=PASSWORD,
            name="窗口测试员",
        )
        await page.goto(hub.gateway + "/console/")
    await expect(page.get_by_label("用户名")).to_be_focused()
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.locator("#who-text")).to_be_visible()
    return username


async def open_register(page: Page) -> None:
    await page.get_by_role("navigation", name="主导航").get_by_role("link", name="受理登记").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("受理登记")


async def fill_valid(page: Page, **overrides: str) -> None:
    values = {
        "事项标题": "讨薪未果当事人情绪激动",
        "事项描述": THREAT,
        "姓名": "测试用户乙",
        "联系电话": "13800000021",
        "身份证号": VALID_ID,
        "事发地址": "测试区测试路21号工地",
        "网格编码": "",
        "涉及人数": "1",
        "涉及金额（元）": "38000",
        "发生时间": "",
        **overrides,
    }
    await page.get_by_label("纠纷类别").select_option("labour")
    await page.get_by_label("所属街道").select_option(overrides.get("所属街道", STREET))
    for name, value in values.items():
        if name != "所属街道":
            await page.get_by_label(re.compile(f"^{re.escape(name)}")).fill(value)


async def case_count(hub: InProcessHub) -> int:
    async with hub.runtime("intake").db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(cases))).scalar_one())


def registrations(page: Page) -> list[Request]:
    """Every POST /api/v1/cases the page sends from now on."""
    sent: list[Request] = []
    page.on(
        "request",
        lambda r: sent.append(r) if r.method == "POST" and r.url.endswith("/api/v1/cases") else None,
    )
    return sent


async def test_window_registers_a_case_and_sees_its_colour_reasons_and_receipt(
    console_hub: InProcessHub, page: Page
) -> None:
    await sign_in(page, console_hub)
    # Who and which centre, always in the banner.
    await expect(page.locator("#who-text")).to_contain_text("窗口测试员 · 中心")
    await expect(page.locator("#who-text")).to_contain_text(f"{DISTRICT_NAME}（150203）")
    await open_register(page)
    # Area codes are chosen from the centre tree, not typed: the district's streets and communities.
    street = page.get_by_label("所属街道")
    await expect(street.locator(f"option[value='{STREET}']")).to_have_text(
        "白云路街道综治中心（150203001000）"
    )
    await fill_valid(page)
    await page.get_by_label("所属社区").select_option(COMMUNITY)
    await page.get_by_label("扬言自伤自杀").check()
    await page.get_by_role("button", name="提交登记").click()

    result = page.locator(".register-result")
    await expect(result.get_by_role("heading", level=2).first).to_have_text(
        re.compile(r"^已受理：ZZ-\d{8}-\d{6}$")
    )
    case_no = (await result.locator("h2").first.inner_text()).removeprefix("已受理：")
    await expect(result.get_by_role("heading", level=2).first).to_be_focused()
    await expect(page.get_by_role("status")).to_contain_text(f"事项已受理，编号 {case_no}")
    colour = result.locator(".facts .badge[class*='colour-']").first
    await expect(colour).to_have_class(re.compile(r"colour-(red|orange)"))
    # The reasons from 研判, with the words of the report they rest on.
    reasons = result.locator("ol.reasons")
    await expect(reasons).to_contain_text("原文：")
    await expect(reasons.locator("q").first).to_contain_text(re.compile("跳"))
    await page.screenshot(path=screenshot_path("register-result"), full_page=True)
    keep_for_docs("register-result", "console-register.png")

    # The case is there as registered, with the area chosen and the colour shown.
    centre = bearer(await fetch_token(console_hub.gateway, await create_client(console_hub, "centre")))
    async with http_client(base_url=console_hub.gateway, headers=centre) as http:
        stored = (await http.get(f"/api/v1/cases/{case_no}")).json()
    assert stored["location"]["street_code"] == COMMUNITY
    assert stored["colour"] in ("red", "orange") and "self_harm_threat" in stored["flags"]
    assert f"colour-{stored['colour']}" in (await colour.get_attribute("class") or "")

    # The receipt, as printed: the case number, date, channel, category, summary, how to follow up;
    # the name masked, no phone, no ID number; nothing else of the console on the paper.
    await page.emulate_media(media="print")
    receipt = page.locator("#receipt")
    await expect(receipt).to_be_visible()
    await expect(receipt).to_contain_text(case_no)
    for text in ("受理回执", "受理时间", "窗口", "劳资纠纷", "讨薪未果当事人情绪激动", "测**", "短信"):
        await expect(receipt).to_contain_text(text)
    printed = await receipt.inner_text()
    assert "13800000021" not in printed and VALID_ID not in printed and "测试用户乙" not in printed
    for hidden in (".banner", "nav", ".register-result ol.reasons", ".footer"):
        await expect(page.locator(hidden).first).to_be_hidden()
    await page.screenshot(path=screenshot_path("register-receipt-print"), full_page=True)
    await page.emulate_media(media="screen")
    # Registered: the draft is gone; a new registration starts empty.
    await page.get_by_role("button", name="继续登记新事项").click()
    await expect(page.get_by_label("事项标题")).to_have_value("")
    assert await page.evaluate("sessionStorage.getItem('hub.console.draft.register')") is None


BAD_INPUT: list[tuple[str, str, str, str]] = [
    # (field label, bad value, the field's input id, its Chinese error)
    ("事项标题", "", "reg-title", "请填写事项标题。"),
    ("事项标题", "很" * 201, "reg-title", "事项标题不能超过 200 个字"),
    ("事项描述", "", "reg-description", "请填写事项描述。"),
    ("姓名", "", "reg-name", "请填写反映人姓名"),
    ("联系电话", "", "reg-phone", "请填写联系电话"),
    ("联系电话", "1380000", "reg-phone", "请输入正确的联系电话"),
    ("联系电话", "12345", "reg-phone", "请输入正确的联系电话"),
    ("身份证号", ID_17, "reg-id-number", "身份证号应为 18 位"),
    ("身份证号", WRONG_CHECK_ID, "reg-id-number", "身份证号校验位不正确"),
    ("身份证号", "150203199002301234", "reg-id-number", "出生日期不正确"),
    ("事发地址", "", "reg-address", "请填写事发地址。"),
    ("所属街道", "", "reg-street", "请从列表中选择所属街道。"),
    ("网格编码", "第三网格", "reg-grid", "网格编码为 1–64 位"),
    ("涉及人数", "0", "reg-people", "涉及人数应为 1 至 100000 之间的整数。"),
    ("涉及金额（元）", "12.345", "reg-amount", "涉及金额应为不小于 0 的数字"),
    ("发生时间", "2099-01-01T10:00", "reg-occurred", "发生时间不能晚于现在。"),
]


async def test_each_bad_field_shows_its_chinese_error_and_nothing_is_written(
    console_hub: InProcessHub, page: Page
) -> None:
    await sign_in(page, console_hub)
    await open_register(page)
    sent = registrations(page)
    before = await case_count(console_hub)
    own = {"事发地址": "测试区测试路55号", "联系电话": "13800000055"}  # no earlier case like it
    for name, bad, input_id, message in BAD_INPUT:
        await fill_valid(page, **{**own, name: bad})
        await page.get_by_role("button", name="提交登记").click()
        field = page.locator(f"#{input_id}")
        await expect(page.locator(f"#{input_id}-error")).to_contain_text(message)
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(field).to_be_focused()
        assert input_id + "-error" in (await field.get_attribute("aria-describedby") or "")
        await expect(page.get_by_role("alert")).to_contain_text("有 1 项需要修改")
    await page.screenshot(path=screenshot_path("register-bad-input"), full_page=True)
    assert sent == []  # the browser never sent a registration

    # A number the browser's check lets through but the hub refuses (no 019 area code): the 422 lands
    # on the phone field, in Chinese; nothing is registered.
    await fill_valid(page, **{**own, "联系电话": "019-1234567"})
    await page.get_by_role("button", name="提交登记").click()
    await expect(page.locator("#reg-phone-error")).to_contain_text("平台校验：该号码不是有效的大陆手机号")
    await expect(page.locator("#reg-phone")).to_be_focused()
    await expect(page.get_by_role("alert")).to_contain_text("请求内容有误")
    assert len(sent) == 1
    assert await case_count(console_hub) == before

    # Signing out on purpose leaves no draft (with its phone and ID number) in the tab.
    assert await page.evaluate("sessionStorage.getItem('hub.console.draft.register')") is not None
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录工作台")
    assert await page.evaluate("sessionStorage.getItem('hub.console.draft.register')") is None


async def test_a_near_identical_second_registration_is_warned_about_first(
    console_hub: InProcessHub, page: Page
) -> None:
    await sign_in(page, console_hub)
    await open_register(page)
    address = {"事发地址": "测试区测试路33号3栋2单元302室", "联系电话": "13800000033"}
    await fill_valid(
        page,
        事项标题="楼上私改公共烟道油烟倒灌",
        事项描述="楼上邻居私自改动公共烟道，油烟倒灌半年",
        **address,
    )
    await page.get_by_label("纠纷类别").select_option("public_facilities_alteration")
    await page.get_by_role("button", name="提交登记").click()
    first = page.locator(".register-result h2").first
    await expect(first).to_have_text(re.compile(r"^已受理："))
    first_no = (await first.inner_text()).removeprefix("已受理：")
    await page.get_by_role("button", name="继续登记新事项").click()

    sent = registrations(page)
    before = await case_count(console_hub)
    await fill_valid(
        page, 事项标题="楼上邻居私改烟道", 事项描述="楼上私自改动公共烟道，油烟倒灌，协商无果", **address
    )
    await page.get_by_label("纠纷类别").select_option("public_facilities_alteration")
    await page.get_by_role("button", name="提交登记").click()
    warning = page.get_by_role("region", name=re.compile("可能重复的在办事项"))
    await expect(warning).to_be_visible()
    await expect(warning.get_by_role("heading", level=2)).to_be_focused()
    await expect(warning.get_by_role("link", name=first_no)).to_be_visible()
    await expect(warning).to_contain_text("楼上私改公共烟道油烟倒灌")
    await expect(warning.locator(".badge[class*='colour-']")).to_have_count(1)
    await expect(warning).to_contain_text("同一反映人、同一地址")
    await page.screenshot(path=screenshot_path("register-duplicate-warning"), full_page=True)
    assert sent == [] and await case_count(console_hub) == before  # warned before anything was sent

    await warning.get_by_role("button", name="返回修改").click()
    await expect(warning).to_have_count(0)
    await expect(page.get_by_label("事项标题")).to_be_focused()
    assert sent == []

    await page.get_by_role("button", name="提交登记").click()
    await page.get_by_role("button", name="仍然提交").click()
    result = page.locator(".register-result")
    await expect(result.locator("h2").first).to_have_text(re.compile(r"^已受理："))
    # The hub marks it too: the new case points at the first as a suspected duplicate.
    await expect(result.locator(".facts").first).to_contain_text(first_no)
    assert len(sent) == 1 and await case_count(console_hub) == before + 1


async def test_idle_logout_and_a_half_filled_form_survives_the_session(
    console_hub: InProcessHub, page: Page
) -> None:
    # 8 s: long enough that a loaded machine's slow page load is not taken for idleness.
    await page.add_init_script("localStorage.setItem('hub.console.idleSeconds', '8')")
    username = await sign_in(page, console_hub)
    await open_register(page)
    await page.get_by_label("事项标题").fill("半填的登记：邻里噪声")
    await page.get_by_label("联系电话").fill("13800000044")
    await page.get_by_label("所属街道").select_option(STREET)
    await page.get_by_label("扬言暴力").check()

    # Nobody touches the keyboard or mouse: signed out, told why, the session revoked.
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录工作台", timeout=20_000)
    await expect(page.get_by_role("status")).to_have_text("由于 8 秒未操作，已自动退出登录，请重新登录。")
    assert await page.evaluate("sessionStorage.getItem('hub.console.session')") is None

    # The same person signs in again: back on the form, the draft restored (no password kept).
    await page.evaluate("localStorage.removeItem('hub.console.idleSeconds')")
    await sign_in(page, console_hub, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text("受理登记")
    await expect(page.locator(".draft-restored")).to_have_text("已恢复上次未提交的登记内容，请核对后继续。")
    await expect(page.get_by_label("事项标题")).to_have_value("半填的登记：邻里噪声")
    await expect(page.get_by_label("联系电话")).to_have_value("13800000044")
    await expect(page.get_by_label("所属街道")).to_have_value(STREET)
    await expect(page.get_by_label("扬言暴力")).to_be_checked()
    assert "password" not in (
        await page.evaluate("sessionStorage.getItem('hub.console.draft.register')") or ""
    )

    # Mid-form the access token turns out expired (401): the console renews the session with the
    # refresh token and sends the registration again, once; nothing typed is lost.
    token_before = await page.evaluate("JSON.parse(sessionStorage.getItem('hub.console.session')).token")
    expired = unauthenticated("令牌已过期 (token expired)", invalid=True)
    refused: list[str] = []

    async def expire_once(route: Route) -> None:
        if not refused and route.request.method == "POST":
            refused.append(route.request.headers.get("idempotency-key", ""))
            await route.fulfill(status=401, body=bytes(expired.body), content_type="application/problem+json")
        else:
            await route.fallback()

    await page.route("**/api/v1/cases", expire_once)
    sent = registrations(page)
    before = await case_count(console_hub)
    await fill_valid(
        page,
        事项标题="半填的登记：邻里噪声",
        事项描述="夜间装修噪声扰民，多次协商无果",
        联系电话="13800000044",
        事发地址="测试区测试路44号",
    )
    await page.get_by_role("button", name="提交登记").click()
    await expect(page.locator(".register-result h2").first).to_have_text(re.compile(r"^已受理："))
    assert len(refused) == 1 and len(sent) == 2
    # The retry is the same registration (same Idempotency-Key), under the renewed token.
    assert (await sent[1].all_headers())["idempotency-key"] == refused[0]
    assert (
        await page.evaluate("JSON.parse(sessionStorage.getItem('hub.console.session')).token") != token_before
    )
    assert await case_count(console_hub) == before + 1
