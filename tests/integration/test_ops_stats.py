"""Issue 7: statistics, the monthly report and early-warning alerts against a known set of cases."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import (
    FACILITIES,
    HOUSING,
    POLICE,
    SECURITY,
    STREET,
    Api,
    clock,
    distinct,
    sh,
)
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub

__all__ = ["clock"]


@pytest.fixture
async def hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    """The hub on a frozen referral clock, with early-warning thresholds small enough for a test."""
    import services.referral.main as referral_main

    monkeypatch.setattr(referral_main, "bootstrap", functools.partial(referral_main.bootstrap, clock=clock))
    async with isolated_backends(backend) as (amqp_url, db_url):
        extra = {"ops_burst_threshold": 3, "ops_burst_window_minutes": 60, "ops_repeat_reporter_threshold": 3}
        async with running_hub(make_settings(tmp_path, amqp_url, db_url, **extra)) as running:
            yield running


async def _close(api: Api, case_no: str, outcome: str, satisfaction: str | None) -> None:
    rid = (await api.dispatched(case_no))["referrals"][0]["id"]
    await api.ok(rid, "acknowledge", department=POLICE)
    await api.ok(rid, "reply", {"outcome": outcome, "summary": "已处理"}, department=POLICE)
    if satisfaction:
        rated = await api.post(f"/api/v1/cases/{case_no}/callback", {"satisfaction": satisfaction})
        assert rated.status_code == 200, rated.text


async def ops(api: Api, path: str, **params: Any) -> Any:
    response = await api.get(f"/api/v1/ops/{path}", role="ops", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_summary_stats_and_monthly_report_count_a_known_set_of_cases(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    a, b, c, d = [await api.register(distinct(SECURITY, i)) for i in range(4)]  # police station leads
    e = await api.register(distinct(FACILITIES, 4))  # housing bureau leads, two assisting
    await api.dispatched(e, 3)
    await _close(api, a, "mediated", "satisfied")  # closed, mediated, satisfied
    await _close(api, b, "resolved", "basically_satisfied")  # closed, satisfied
    await _close(api, c, "resolved", "dissatisfied")  # reopened: round two dispatched
    await api.dispatched(d)
    clock.set(sh(2026, 3, 3, 10, 0))  # c (round two), d and e are past their acknowledge deadlines

    summary = await ops(api, "summary")
    assert summary["total"] == summary["received"] == 5
    assert summary["by_colour"] == {"blue": 5}
    assert summary["by_channel"] == {"window": 5}
    assert summary["by_status"]["closed"] == 2 and summary["by_status"]["dispatched"] == 3
    assert summary["open"] == 3 and summary["overdue"] == 3
    assert summary["closed"] == 2 and summary["mediated"] == 1 and summary["rated"] == 3
    assert summary["closure_rate"] == 0.4  # 办结率 2 / 5
    assert summary["satisfaction_rate"] == 0.6667  # (satisfied + basically satisfied) / rated

    by_category = {r["key"]: r for r in (await ops(api, "stats", by="category"))["items"]}
    security, facilities = by_category["public_security"], by_category["public_facilities_alteration"]
    assert (security["received"], security["dispatched"], security["mediated"], security["closed"]) == (
        4,
        4,
        1,
        2,
    )
    assert security["closure_rate"] == 0.5 and security["satisfaction_rate"] == 0.6667
    assert (facilities["received"], facilities["closed"], facilities["closure_rate"]) == (1, 0, 0.0)
    assert facilities["satisfaction_rate"] is None  # nobody rated: no made-up rate
    by_department = {r["key"]: r["received"] for r in (await ops(api, "stats", by="department"))["items"]}
    assert by_department == {POLICE: 4, HOUSING: 1}
    by_street = (await ops(api, "stats", by="street"))["items"]
    assert [(r["key"], r["received"]) for r in by_street] == [(STREET, 5)]
    months = (await ops(api, "stats", by="month"))["items"]
    assert len(months) == 1 and months[0]["received"] == 5
    month = months[0]["key"]
    days = (await ops(api, "stats", by="day"))["items"]
    assert sum(r["received"] for r in days) == 5 and all(r["key"].startswith(month + "-") for r in days)
    later = await ops(api, "stats", by="category", **{"from": "2099-01-01T00:00:00+08:00"})
    assert later["items"] == [] and later["total"]["received"] == 0
    bad = await api.get("/api/v1/ops/stats", role="ops", params={"by": "colour"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")

    exported = await api.get(
        "/api/v1/ops/reports/monthly", role="ops", params={"month": month, "format": "csv"}
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "统计维度",
        "名称",
        "受理数",
        "派发数",
        "调解数",
        "办结数",
        "超期数",
        "办结率",
        "满意率",
    ]
    total = next(r for r in rows if r[0] == "合计")
    assert total[2:] == ["5", "5", "1", "2", "3", "40.0%", "66.7%"]
    assert ["按类别", "public_security", "4", "4", "1", "2", "2", "50.0%", "66.7%"] in rows

    xlsx = await api.get("/api/v1/ops/reports/monthly", role="ops", params={"month": month, "format": "xlsx"})
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][:3] == ["统计维度", "名称", "受理数"]
    assert next(r for r in cells if r[0] == "合计")[2:6] == [5, 5, 1, 2]
    wrong = await api.get("/api/v1/ops/reports/monthly", role="ops", params={"month": "2026-13"})
    assert wrong.status_code == 422 and wrong.json()["title"] == "参数不正确"


async def test_a_burst_in_one_street_and_a_repeat_reporter_raise_alerts(hub: InProcessHub) -> None:
    api = Api(hub)
    assert (await ops(api, "alerts"))["items"] == []
    burst = [await api.register(distinct(SECURITY, i)) for i in range(3)]  # same category, same street
    repeat_body = {**FACILITIES, "reporter": {"name": "赵六", "phone": "13900009999"}}
    repeats = [
        await api.register(
            {**repeat_body, "location": {**FACILITIES["location"], "address": f"昆都仑区友谊大街{i}号"}}
        )
        for i in range(3)
    ]
    alerts = (await ops(api, "alerts"))["items"]
    (street_burst,) = [a for a in alerts if a["kind"] == "burst" and a["category"] == "public_security"]
    assert street_burst["scope"] == "street" and street_burst["area_code"] == STREET
    assert street_burst["count"] == 3 and sorted(street_burst["case_nos"]) == sorted(burst)
    (reporter,) = [a for a in alerts if a["kind"] == "repeat_reporter"]
    assert reporter["count"] == 3 and sorted(reporter["case_nos"]) == sorted(repeats)
    assert len(reporter["reporter_key"]) == 16
    text = (await api.get("/api/v1/ops/alerts", role="ops")).text
    assert "13900009999" not in text and "赵六" not in text  # a keyed hash only
