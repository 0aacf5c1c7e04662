"""Helpers for the console's dispatch and worklist tests: a named person signed in through the form (of
any centre, e.g. a street's), API clients for checking outcomes, and a case dispatched by the rules."""

from __future__ import annotations

import secrets
from typing import Any

from playwright.async_api import Page, expect

from gateway.accounts.store import create_user
from tests.kit.auth import bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

DISTRICT = "150203"
STREET = "150203001000"  # 白云路街道 (services/referral/data/centres.yaml)
PASSWORD = "console-dispatch-password"
# Obviously synthetic reporter data (the 13800000000 test number); never logged.
CASE: dict[str, Any] = {
    "channel": "window",
    "request_type": "complaint",
    "category": "public_security",
    "title": "楼道堆放杂物引发争执（测试数据）",
    "description": "测试用例：楼道堆放杂物，邻居之间多次争执",
    "reporter": {"name": "测试用户乙", "phone": "13800000000"},
    "location": {"address": "测试区测试路2号", "street_code": STREET},
    "people_involved": 2,
}
POLICE = f"police_station@{STREET}"
JUSTICE = f"justice_office@{STREET}"
JUSTICE_NAME = "昆都仑区司法局白云路司法所（司法所）"  # as the registry list shows it


async def login(
    page: Page, hub: InProcessHub, role: str, centre: str = DISTRICT, department: str | None = None
) -> str:
    """A new named account of that role and centre, signed in through the form; its username."""
    username = f"{role}.{secrets.token_hex(4)}"
    await create_user(
        hub.runtime("gateway").db,
        username,
        role=role,
        centre=centre,
        department=department,
        password=PASSWORD,
    )
    await page.goto(hub.gateway + "/console/#/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("登录成功。")
    return username


async def centre_headers(hub: InProcessHub) -> dict[str, str]:
    return bearer(await fetch_token(hub.gateway, await create_client(hub, "centre")))


async def department_headers(hub: InProcessHub, department: str) -> dict[str, str]:
    return bearer(
        await fetch_token(hub.gateway, await create_client(hub, "department", department=department))
    )


async def read_case(hub: InProcessHub, headers: dict[str, str], case_no: str) -> dict[str, Any]:
    async with http_client(base_url=hub.gateway, headers=headers) as http:
        answer = await http.get(f"/api/v1/cases/{case_no}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


async def dispatched_case(hub: InProcessHub, **overrides: Any) -> tuple[str, dict[str, Any], dict[str, str]]:
    """A case registered by a centre client and dispatched by the rules (public_security → the street's
    police station); its number, its lead referral and the centre's headers."""
    centre = await centre_headers(hub)
    async with http_client(base_url=hub.gateway, headers=centre) as http:
        registered = await http.post("/api/v1/cases", json={**CASE, **overrides})
        assert registered.status_code == 201, registered.text
    case_no: str = registered.json()["case_no"]
    case = await eventually(
        lambda: read_case(hub, centre, case_no), until=lambda c: bool(c.get("referrals")), what="dispatched"
    )
    lead = next(r for r in case["referrals"] if r["role"] == "lead")
    return case_no, lead, centre
