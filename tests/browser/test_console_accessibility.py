"""Every page of the console passes axe-core's WCAG 2.1 A/AA rules (labels, names, contrast, landmarks,
ARIA use) in a real browser, as the person who uses it, at a laptop's 1366×768 and a tablet's 768×1024:
what a screen-reader user or a user with low vision depends on, checked on the pages as they are drawn
with data (a dispatched case with its action forms open, the inbox with a referral in it), not empty.
axe-core is the copy bundled in axe-playwright-python (pinned; nothing downloads at run time)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.people import POLICE, department_headers, dispatched_case, login
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
TABLET = {"width": 768, "height": 1024}


async def violations(page: Page) -> list[dict[str, Any]]:
    await expect(page.locator("main")).not_to_contain_text("正在加载")
    results = await Axe().run(page, options=WCAG_AA)
    found: list[dict[str, Any]] = results.response["violations"]
    return found


def described(where: str, found: list[dict[str, Any]]) -> list[str]:
    return [
        f"{where}: {v['id']} ({v['impact']}) {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
        for v in found
    ]


async def visit(page: Page, hub: InProcessHub, hash_path: str) -> None:
    await page.goto(hub.gateway + "/console/" + hash_path)
    await expect(page.get_by_role("heading", level=1)).to_be_visible()


async def test_every_page_passes_wcag_aa_checks_for_its_people(console_hub: InProcessHub, page: Page) -> None:
    case_no, lead, _ = await dispatched_case(console_hub)
    department = await department_headers(console_hub, POLICE)
    async with http_client(base_url=console_hub.gateway, headers=department) as http:
        assert (await http.post(f"/api/v1/referrals/{lead['id']}/acknowledge")).is_success
    problems: list[str] = []
    checked: list[str] = []

    await page.goto(console_hub.gateway + "/console/#/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录工作台")
    problems += described("login", await violations(page))
    checked.append("login")

    await login(page, console_hub, "supervisor")
    pages = [
        "#/dashboard",
        "#/register",
        "#/queue",
        f"#/case/{case_no}",
        "#/stalled",
        "#/referrals",
        "#/alerts",
        "#/tasks",
        "#/calendar",
        "#/qr",  # 码上监督: the centre's QR poster (issue 18)
    ]
    for size_name, size in (("laptop", {"width": 1366, "height": 768}), ("tablet", TABLET)):
        await page.set_viewport_size(size)  # type: ignore[arg-type]
        for hash_path in pages:
            await visit(page, console_hub, hash_path)
            if hash_path.startswith("#/case/"):
                for summary in await page.locator("section.actions details.action > summary").all():
                    await summary.click()  # the action forms open, as a person fills them in
            problems += described(f"supervisor {hash_path} @{size_name}", await violations(page))
            checked.append(f"{hash_path}@{size_name}")

    await page.get_by_role("button", name="退出登录").click()
    await login(page, console_hub, "department", department=POLICE)
    await visit(page, console_hub, "#/inbox")
    for summary in await page.locator("details.action > summary").all():
        await summary.click()
    problems += described("department #/inbox", await violations(page))
    checked.append("#/inbox")

    await page.get_by_role("button", name="退出登录").click()
    await login(page, console_hub, "ops")
    await visit(page, console_hub, "#/ops-desk")
    problems += described("ops #/ops-desk", await violations(page))
    checked.append("#/ops-desk")

    report = ARTIFACTS / "accessibility.txt"
    report.write_text("\n".join([f"checked: {', '.join(checked)}", *problems]) + "\n", encoding="utf-8")
    print(f"\naxe-core WCAG 2.1 AA: {len(checked)} page views, {len(problems)} violation(s)")
    assert not problems, "\n".join(problems)
