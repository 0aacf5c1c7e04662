"""Signing in to the console through the identity provider (统一身份认证), in a real browser, against
the loopback provider (tests/kit/oidc_provider.py): the button is there only when the hub has a
provider; the provider's answer comes back to the console, which finishes the flow and keeps the tokens
as after a password login, with the one-use code gone from the address bar; an account the hub does not
have (or has disabled) is told in Chinese on the login page."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, Route, expect

from gateway.accounts.store import create_user, set_user_disabled
from tests.browser.conftest import screenshot_path
from tests.integration.test_accounts_oidc import with_idp
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.oidc_provider import Provider

__all__ = ["with_idp"]  # the fixture: a hub with the loopback identity provider

BUTTON = "统一身份认证登录"


async def back_to_the_hub(page: Page, hub: InProcessHub) -> None:
    """The provider's redirect goes to the callback as registered (hub.test): to this hub's gateway."""

    async def redirect(route: Route) -> None:
        asked = urlsplit(route.request.url)
        await route.fulfill(status=302, headers={"Location": f"{hub.gateway}{asked.path}?{asked.query}"})

    await page.route("http://hub.test/**", redirect)


async def test_the_console_signs_a_person_in_through_the_identity_provider(
    with_idp: tuple[InProcessHub, Provider], page: Page
) -> None:
    hub, provider = with_idp
    db = hub.runtime("gateway").db
    await create_user(
        db, "qian.centre", role="centre", centre="150203", name="钱测试", password="unused-pw-1"
    )
    provider.subject = "qian.centre"
    await back_to_the_hub(page, hub)

    await page.goto(hub.gateway + "/console/#/login")
    button = page.get_by_role("link", name=BUTTON)
    await expect(button).to_be_visible()
    await page.screenshot(path=screenshot_path("login-oidc"), full_page=True)
    await button.click()
    await expect(page.get_by_role("status")).to_have_text("登录成功。")
    await expect(page.locator("#who-text")).to_contain_text("钱测试")
    assert "code=" not in page.url and "state=" not in page.url  # the one-use code left no trace
    assert await page.evaluate("history.length") >= 1
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('hub.console.session')).token")
    async with http_client(base_url=hub.gateway) as http:
        me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["username"] == "qian.centre", me.text

    # Signed out, the same person disabled: the provider still vouches, the hub refuses, in Chinese.
    await page.get_by_role("button", name="退出登录").click()
    await set_user_disabled(db, "qian.centre", True)
    await page.get_by_role("link", name=BUTTON).click()
    await expect(page.locator("#login-error")).to_contain_text("统一身份认证失败")
    await expect(page.locator("#login-error")).to_contain_text("未在本平台开通或已停用")
    assert await page.evaluate("sessionStorage.getItem('hub.console.session')") is None
    await page.screenshot(path=screenshot_path("login-oidc-refused"), full_page=True)


async def test_without_an_identity_provider_there_is_no_button(console_hub: InProcessHub, page: Page) -> None:
    await page.goto(console_hub.gateway + "/console/#/login")
    await expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
    async with http_client(base_url=console_hub.gateway) as http:
        assert (await http.get("/api/v1/auth/methods")).json() == {"password": True, "oidc": False}
    await expect(page.get_by_role("link", name=BUTTON)).to_be_hidden()
