"""Every form a person fills in on the case page and in the department inbox, in a real browser: a bad
input shows that field's own Chinese error (aria-invalid, focused, named in the alert), nothing is sent
and nothing is written — every row intake and referral hold about the case, audit included, is read
back from the databases and compared. A value only the hub can refuse (a merge into a case that does
not exist) is told in Chinese and writes nothing either. A form added later with a required field and
no entry here fails the inventory check."""

from __future__ import annotations

import re

from playwright.async_api import Locator, Page, Request, expect

from tests.browser.conftest import screenshot_path
from tests.browser.people import (
    POLICE,
    department_headers,
    dispatched_case,
    login,
)
from tests.browser.test_console_dispatch import open_case
from tests.case_rows import written_about
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

# (form's data-action, [(field id, value to put in: None = leave empty / deselect)], {field id: error})
CASE_PAGE_BAD_INPUT: list[tuple[str, list[tuple[str, str | None]], dict[str, str]]] = [
    ("dispatch", [("dispatch-lead", None)], {"dispatch-lead": "请选择牵头单位。"}),
    ("override", [("override-reason", "   ")], {"override-reason": "请填写调整理由。"}),
    ("override", [("override-reason", "急")], {"override-reason": "调整理由至少填写 2 个字（现有 1 个）。"}),
    ("escalate", [("escalate-reason", "")], {"escalate-reason": "请填写上报理由。"}),
    (
        "meeting",
        [("meeting-at", ""), ("meeting-departments", None)],
        {"meeting-at": "请填写会商时间。", "meeting-departments": "参会单位：至少选择 1 项。"},
    ),
    ("withdraw", [("withdraw-reason", "")], {"withdraw-reason": "请填写撤回原因。"}),
    (
        "merge",
        [("merge-into", ""), ("merge-reason", "重")],
        {"merge-into": "请填写合并到事项编号。", "merge-reason": "原因至少填写 2 个字（现有 1 个）。"},
    ),
    ("reveal", [("reveal-purpose", "")], {"reveal-purpose": "请填写查看目的。"}),
]


# The forms with a required field a person can leave empty (a text, a list with a blank choice or many).
EMPTIABLE = """els => els.filter(d => [...d.querySelectorAll("[required]")].some(el =>
    el.tagName !== "SELECT" || el.multiple || [...el.options].some(o => o.value === ""))).map(d => d.dataset.action)"""


def posts(page: Page) -> list[Request]:
    """Every POST the page sends to the API from now on."""
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST" and "/api/v1/" in r.url else None)
    return sent


async def put(page: Page, scope: Locator, field_id: str, value: str | None) -> None:
    field = scope.locator(f"#{field_id}")
    if await field.evaluate("el => el.tagName") == "SELECT":
        await field.evaluate(
            "el => { for (const o of el.options) o.selected = false; el.dispatchEvent(new Event('change')); }"
        )
    else:
        await field.fill(value or "")


async def refused_on_its_fields(page: Page, form: Locator, errors: dict[str, str]) -> None:
    for field_id, message in errors.items():
        await expect(form.locator(f"#{field_id}-error")).to_have_text(message)
        await expect(form.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")
        described = await form.locator(f"#{field_id}").get_attribute("aria-describedby") or ""
        assert f"{field_id}-error" in described.split()
    await expect(form.locator(f"#{next(iter(errors))}")).to_be_focused()
    await expect(page.get_by_role("alert")).to_have_text(
        re.compile(rf"^有 {len(errors)} 项需要修改：" + ".*".join(map(re.escape, errors.values())))
    )


async def submit_bad_input(
    page: Page, details: Locator, values: list[tuple[str, str | None]], errors: dict[str, str]
) -> None:
    """Open the form (if it is not), put the bad values in, submit: refused on its fields."""
    if not await details.evaluate("d => d.open"):
        await details.locator("summary").click()
    form = details.locator("form")
    for field_id, value in values:
        await put(page, form, field_id, value)
    await form.locator("button[type=submit]").click()
    await refused_on_its_fields(page, form, errors)


async def test_every_case_page_form_refuses_bad_input_in_chinese_and_writes_nothing(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, _, _ = await dispatched_case(console_hub)
    await login(page, console_hub, "supervisor")
    await open_case(page, case_no)
    before = await written_about(console_hub, case_no)
    sent = posts(page)

    actions = page.locator("section.actions")
    with_required = set(await actions.locator("details.action").evaluate_all(EMPTIABLE))
    assert {a for a, _, _ in CASE_PAGE_BAD_INPUT} == with_required, (
        "every form with a required field is tried"
    )
    for action, values, errors in CASE_PAGE_BAD_INPUT:
        await submit_bad_input(page, actions.locator(f"details[data-action={action}]"), values, errors)
        if action == "meeting":
            await page.screenshot(path=screenshot_path("case-form-errors"), full_page=True)
    assert sent == [], f"nothing is sent while a field is wrong: {[r.url for r in sent]}"

    # Only the hub can know the case to merge into does not exist: refused in Chinese, nothing written.
    merge = actions.locator("details[data-action=merge] form")
    await merge.locator("#merge-into").fill("ZZ-20990101-999999")
    await merge.locator("#merge-reason").fill("与另一事项反映同一问题")
    await merge.locator("button[type=submit]").click()
    alert = page.get_by_role("alert")
    await expect(alert).not_to_have_text("")
    assert re.search(r"[\u4e00-\u9fff]", await alert.inner_text()), await alert.inner_text()
    assert "Not Found" not in await alert.inner_text()
    assert len(sent) == 1
    assert await written_about(console_hub, case_no) == before


async def test_every_department_form_refuses_bad_input_in_chinese_and_writes_nothing(
    console_hub: InProcessHub, page: Page
) -> None:
    case_no, lead, _ = await dispatched_case(console_hub)
    department = await department_headers(console_hub, POLICE)
    async with http_client(base_url=console_hub.gateway, headers=department) as http:
        for step in ("acknowledge", "start"):  # in hand: every form a department fills is offered
            assert (await http.post(f"/api/v1/referrals/{lead['id']}/{step}")).is_success
    await login(page, console_hub, "department", department=POLICE)
    await page.get_by_role("navigation", name="主导航").get_by_role("link", name="待办收件箱").click()
    row = page.get_by_role("table", name="待办转办", exact=False).get_by_role("row").filter(has_text=case_no)
    await expect(row).to_contain_text("办理中")
    before = await written_about(console_hub, case_no)
    sent = posts(page)

    rid = lead["id"]
    bad_input: list[tuple[str, list[tuple[str, str | None]], dict[str, str]]] = [
        (
            f"暂停计时 {case_no}",
            [(f"suspend-reason-{rid}", "")],
            {f"suspend-reason-{rid}": "请填写暂停原因。"},
        ),
        (
            f"申请延期 {case_no}",
            [(f"ext-days-{rid}", "0"), (f"ext-reason-{rid}", " ")],
            {f"ext-days-{rid}": "延长天数应在 1 至 365 之间。", f"ext-reason-{rid}": "请填写延期理由。"},
        ),
        (f"答复 {case_no}", [(f"inbox-summary-{rid}", "")], {f"inbox-summary-{rid}": "请填写答复内容。"}),
        (
            f"退回 {case_no}",
            [(f"inbox-return-reason-{rid}", "")],
            {f"inbox-return-reason-{rid}": "请填写说明。"},
        ),
    ]
    offered = set(await row.locator("details.action:has([required]) > summary").all_inner_texts())
    assert {summary for summary, _, _ in bad_input} == offered, "every form with a required field is tried"
    for summary, values, errors in bad_input:
        details = row.locator("details.action").filter(has=page.get_by_text(summary, exact=True))
        await submit_bad_input(page, details, values, errors)
    await page.screenshot(path=screenshot_path("inbox-form-errors"), full_page=True)
    assert sent == [], f"nothing is sent while a field is wrong: {[r.url for r in sent]}"
    assert await written_about(console_hub, case_no) == before
