"""The dashboard's charts drawn with Apache ECharts (served from the console's own files): the figures a
person sees (the chart's own option, its accessible name and its data table) are the hub's counts of the
cases registered here; each chart saves as PNG and downloads its figures as CSV; no Content Security
Policy violation; the charts follow the window from a 1366×768 laptop to a tablet."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Download, Locator, Page, Route, expect

from gateway.console import STATIC_DIR
from tests.browser.conftest import screenshot_path
from tests.browser.test_console import CASE, STREET, _login, _ops_answer
from tests.kit.auth import bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

COLOURS = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}
# Head counts that grade red, orange, orange, yellow and blue (RULES.md); each a different matter and
# place, so none is a second report of another.
PEOPLE = (35, 12, 15, 5, 1)
CATEGORIES = ("public_security", "neighbour", "labour", "property", "sanitation")

# Every chart on the page: its title and the figures of its only series, read from ECharts itself.
CHART_FIGURES = """() => [...document.querySelectorAll(".echart")].map((el) => {
  const chart = echarts.getInstanceByDom(el);
  const option = chart.getOption();
  const axis = [...option.xAxis, ...option.yAxis].find((a) => a.type === "category");
  return {
    title: option.title[0].text,
    labels: axis.data,
    values: option.series[0].data.map((d) => d.value),
    canvas: el.querySelectorAll("canvas").length,
    width: el.clientWidth,
    canvasWidth: el.querySelector("canvas").getBoundingClientRect().width,
  };
})"""


def _watch_csp(page: Page) -> list[str]:
    """CSP violations, as the browser's console reports them and as the page's own event reports them."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return seen


async def _violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__csp || []")
    return found


async def _listen_for_violations(page: Page) -> None:
    await page.add_init_script(
        """window.__csp = [];
        document.addEventListener("securitypolicyviolation",
          (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"""
    )


async def _click_toolbox_icon(page: Page, holder: Locator, index: int) -> None:
    """Click the toolbox's icon where ECharts laid it out (the icon's own transform, in page pixels)."""
    box = await holder.bounding_box()
    assert box
    centre: list[float] = await page.evaluate(
        """([el, index]) => { const chart = echarts.getInstanceByDom(el);
             const view = chart.getViewOfComponentModel(chart.getModel().getComponent("toolbox"));
             const icon = view.group.childAt(index); const r = icon.getBoundingRect(); const t = icon.transform;
             return [t[4] + (r.x + r.width / 2) * t[0], t[5] + (r.y + r.height / 2) * t[3]]; }""",
        [await holder.element_handle(), index],
    )
    await page.mouse.move(box["x"] + centre[0], box["y"] + centre[1])
    await page.mouse.down()
    await page.mouse.up()


async def _charts(page: Page) -> dict[str, dict[str, Any]]:
    await expect(page.locator(".echart canvas").first).to_be_attached()
    drawn: list[dict[str, Any]] = await page.evaluate(CHART_FIGURES)
    return {chart["title"]: chart for chart in drawn}


async def test_the_charts_show_the_hubs_counts_of_the_cases_registered(
    console_hub: InProcessHub, page: Page
) -> None:
    centre = bearer(await fetch_token(console_hub.gateway, await create_client(console_hub, "centre")))
    colours: list[str] = []
    async with http_client(base_url=console_hub.gateway, headers=centre) as http:
        for n, (people, category) in enumerate(zip(PEOPLE, CATEGORIES, strict=True)):
            case = {
                **CASE,
                "category": category,
                "title": f"测试事项{n}：{people} 人涉及的纠纷（测试数据）",
                "description": f"测试用例{n}：共 {people} 人涉及，地点各不相同",
                "location": {"address": f"测试区测试路{100 + n}号", "street_code": STREET},
                "people_involved": people,
            }
            registered = await http.post("/api/v1/cases", json=case)
            assert registered.status_code == 201, registered.text
            colours.append(registered.json()["colour"])

        async def summary() -> dict[str, Any]:
            found: dict[str, Any] = (await http.get("/api/v1/ops/summary")).json()
            return found

        hub = await eventually(summary, until=lambda s: s["total"] == len(PEOPLE), what="all cases counted")
    counted = Counter(colours)
    assert set(counted) == set(COLOURS), colours  # the set covers every colour
    assert hub["by_colour"] == dict(counted)

    await _listen_for_violations(page)
    csp = _watch_csp(page)
    await page.set_viewport_size({"width": 1366, "height": 768})
    await _login(page, console_hub, "centre")
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作总览")
    charts = await _charts(page)
    for chart in charts.values():
        assert chart["canvas"] >= 1, chart  # ECharts' canvas renderer drew it

    mix = charts["风险颜色分布"]
    assert mix["labels"] == list(COLOURS.values())
    assert mix["values"] == [counted[c] for c in COLOURS]
    today = datetime.now(ZoneInfo("Asia/Shanghai"))
    daily = charts["近 14 天每日受理"]
    assert daily["labels"][-1] == today.strftime("%m-%d") and daily["values"][-1] == len(PEOPLE)
    assert sum(daily["values"]) == len(PEOPLE)
    # No case is overdue yet: the department chart says so rather than drawing zeros.
    assert "各部门超期事项" not in charts
    overdue = page.locator("figure").filter(has_text="各部门超期事项")
    await expect(overdue).to_contain_text("没有超期事项")
    monthly = charts["每月受理"]
    assert dict(zip(monthly["labels"], monthly["values"], strict=True)) == {
        today.strftime("%Y-%m"): len(PEOPLE)
    }

    # The same figures for a screen reader: the chart's accessible name and its data table.
    colour_chart = page.get_by_role("img", name=re.compile("风险颜色分布"))
    name = await colour_chart.get_attribute("aria-label") or ""
    for colour, label in COLOURS.items():
        assert f"{label} {counted[colour]} 件" in name
    figure = page.locator("figure").filter(has=colour_chart)
    await figure.get_by_text("查看数据").click()
    table = figure.get_by_role("table", name="风险颜色分布（数据）")
    for colour, label in COLOURS.items():
        await expect(table.get_by_role("row", name=f"{label} {counted[colour]}")).to_be_visible()
    await page.screenshot(path=screenshot_path("dashboard-echarts"), full_page=True)

    # A tablet: every chart is redrawn to its narrower holder.
    await page.set_viewport_size({"width": 820, "height": 1180})

    async def fitted() -> list[dict[str, Any]]:
        drawn: list[dict[str, Any]] = await page.evaluate(CHART_FIGURES)
        return drawn

    narrow = await eventually(
        fitted,
        until=lambda drawn: all(abs(c["canvasWidth"] - c["width"]) <= 1 and c["width"] < 800 for c in drawn),
        what="the charts resized to a tablet's width",
    )
    assert len(narrow) == len(charts)
    await page.screenshot(path=screenshot_path("dashboard-echarts-tablet"), full_page=True)
    assert not csp and not await _violations(page), (csp, await _violations(page))


RESOLUTION_LEVELS = {
    "scope": None,
    "resolved": 9,
    "by_level": [
        {"level": "community", "resolved": 6, "share": 0.6667},
        {"level": "street", "resolved": 2, "share": 0.2222},
        {"level": "district", "resolved": 1, "share": 0.1111},
    ],
    "by_centre": [],
}


async def test_each_chart_exports_a_png_and_its_figures_as_csv(
    console_hub: InProcessHub, page: Page, tmp_path: Path
) -> None:
    async def ops(route: Route) -> None:
        await route.fulfill(json=_ops_answer(route.request.url))

    async def levels(route: Route) -> None:
        await route.fulfill(json=RESOLUTION_LEVELS)

    await page.route("**/api/v1/ops/**", ops)
    await page.route("**/api/v1/stats/resolution-levels*", levels)
    await _listen_for_violations(page)
    csp = _watch_csp(page)
    await _login(page, console_hub, "centre")
    charts = await _charts(page)
    assert dict(zip(charts["办结层级分布"]["labels"], charts["办结层级分布"]["values"], strict=True)) == {
        "社区调解室": 6,
        "街道综治中心": 2,
        "区县综治中心": 1,
    }
    assert charts["各部门超期事项"]["values"] == [2]
    overdue = page.get_by_role("img", name=re.compile("各部门超期事项"))
    assert "police_station@150203001000 2 件" in (await overdue.get_attribute("aria-label") or "")

    figure = page.locator("figure").filter(has=page.get_by_role("img", name=re.compile("风险颜色分布")))
    async with page.expect_download() as png_download:
        await figure.get_by_role("button", name="保存图片（PNG）").click()
    png = await png_download.value
    assert png.suggested_filename == "colour-mix.png"
    saved = tmp_path / "colour-mix.png"
    await png.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    async with page.expect_download() as csv_download:
        await figure.get_by_role("button", name="下载数据（CSV）").click()
    csv = await csv_download.value
    assert csv.suggested_filename == "colour-mix.csv"
    await csv.save_as(tmp_path / "colour-mix.csv")
    rows = (tmp_path / "colour-mix.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows == ["风险颜色,数量（件）", "红色,2", "橙色,2", "黄色,3", "蓝色,5"]

    # The chart's own toolbox (top right of the canvas): its first icon saves the image too. ECharts
    # opens it with target=_blank, so the download may come from a new tab.
    holder = figure.locator(".echart")
    downloads: list[Download] = []
    page.on("download", lambda download: downloads.append(download))
    page.context.on("page", lambda opened: opened.on("download", lambda download: downloads.append(download)))
    await _click_toolbox_icon(page, holder, 0)

    async def saved_files() -> list[Download]:
        return downloads

    toolbox_png = await eventually(saved_files, what="the toolbox's image download")
    assert toolbox_png[0].suggested_filename == "colour-mix.png"

    # Its second icon opens the data view: the figures as a table over the chart.
    await _click_toolbox_icon(page, holder, 1)
    view = holder.get_by_role("table", name="风险颜色分布（数据）")
    await expect(view.get_by_role("row", name="黄色 3")).to_be_visible()
    await holder.get_by_text("关闭", exact=True).click()  # ECharts draws its buttons as <div>s
    await expect(view).to_have_count(0)

    # A tooltip over the bars (drawn in the canvas: an HTML tooltip's inline styles would be refused).
    await holder.hover()
    assert not csp and not await _violations(page), (csp, await _violations(page))


def test_the_vendored_echarts_is_the_build_its_readme_names() -> None:
    """The README's version and checksum are those of the file served, with its licence beside it."""
    vendor = STATIC_DIR / "vendor" / "echarts"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    build = (vendor / "echarts.min.js").read_bytes()
    version = re.search(r"echarts@(\d+\.\d+\.\d+)", readme)
    assert version and f'"{version[1]}"'.encode() in build
    assert f"sha256 {hashlib.sha256(build).hexdigest()}" in readme
    assert "Apache License" in (vendor / "LICENSE").read_text(encoding="utf-8")
    assert "Apache ECharts" in (vendor / "NOTICE").read_text(encoding="utf-8")
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert index.index("vendor/echarts/echarts.min.js") < index.index("app.js")
