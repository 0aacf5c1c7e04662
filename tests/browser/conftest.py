"""Browser tests: the console in the machine's Chromium (headless, /usr/bin/chromium; never downloaded),
driven by Playwright against one in-process hub with bearer auth on (SQLite; the API tests cover
PostgreSQL). Each test gets a fresh browser context (its own sessionStorage); screenshots go to
test-artifacts/screenshots/, the browser's console to test-artifacts/logs/ (read by the personal-data
scan like every other log)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub

CHROMIUM = Path(os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORT: ViewportSize = {"width": 1366, "height": 860}  # a common laptop screen


@pytest.fixture(scope="module")
async def console_hub(
    spans: InMemorySpanExporter, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InProcessHub]:
    """The whole hub in-process with HUB_AUTH_REQUIRED on, shared by the tests of one module."""
    tmp_path = tmp_path_factory.mktemp("console-hub")
    async with (
        isolated_backends("sqlite") as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, auth_required=True)) as running,
    ):
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-services (it installs Debian's chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # As root (CI containers) Chromium needs --no-sandbox; /dev/shm may be small there.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    errors: list[str] = []
    log = ARTIFACTS / "logs" / f"browser-{request.node.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    opened.on("console", lambda message: lines.append(f"console.{message.type}: {message.text}"))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        log.write_text("\n".join(lines + [f"pageerror: {e}" for e in errors]) + "\n", encoding="utf-8")
        await context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def screenshot_path(name: str) -> Path:
    return SCREENSHOTS / f"{name}.png"


def keep_for_docs(name: str, doc: str = "console.png") -> None:
    """With HUB_UPDATE_DOCS_SCREENSHOT=1, this run's screenshot becomes docs/<doc> (README shows it)."""
    if os.environ.get("HUB_UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(screenshot_path(name), Path(__file__).parents[2] / "docs" / doc)
