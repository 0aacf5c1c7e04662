"""The citizen form's routes in the gateway alone (码上监督, issue 18): its own SQLite database, the services
behind it played by a fake transport that records what the gateway asked. What a citizen sees: the form
of a known centre, a Chinese 404 page for an unknown one, a code asked for, a report registered once
however often it is retried, refusals on their fields, the status page and the rating once. The real
services and browser: tests/integration/test_citizen_form.py, tests/browser/test_citizen_form.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway import citizen
from gateway.migrations import migrate
from gateway.settings import GatewaySettings
from gateway.tables import kit, metadata
from gateway.upstream import PassThrough, Upstream
from hub.credentials import CredentialMinter
from hub.problems import install_problem_handlers
from hub.runtime import ServiceRuntime
from tests.kit.http import http_client

CENTRES = [
    {"id": "150203", "level": "district", "name_zh": "昆都仑区社会治理综合服务中心", "parent_id": None},
    {"id": "150203001000", "level": "street", "name_zh": "白云路街道综治中心", "parent_id": "150203"},
]
STREET = "150203001000"
VID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
REPORT = {
    "category": "noise",
    "title": "夜间施工噪声扰民",
    "description": "小区旁工地每天夜里十一点后仍在施工。",
    "address": "白云路街道测试小区 3 号楼",
    "name": "测试居民",
    "phone": "13800000000",
}


@dataclass
class Services:
    """intake, referral and notification as the gateway sees them."""

    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # source_ref → body
    state: dict[str, Any] = field(default_factory=lambda: {"status": "registered", "referrals": []})
    ratings: list[dict[str, Any]] = field(default_factory=list)
    codes_sent: int = 0
    calls: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append(f"{request.url.host}:{request.url.port} {method} {path}")
        body = json.loads(request.content) if request.content else None
        if path == "/internal/v1/centres":
            return httpx.Response(200, json=CENTRES)
        if path == "/internal/v1/verifications":
            self.codes_sent += 1
            return httpx.Response(
                201,
                json={"verification_id": VID, "expires_at": "2026-12-06T02:05:00Z", "resend_after_s": 60},
            )
        if path.endswith("/check"):
            if body["code"] == "123456":
                return httpx.Response(200, json={"verified": True})
            problem = {
                "type": "x",
                "title": "验证码不正确",
                "status": 422,
                "detail": "验证码不正确，还可以再试 4 次",
            }
            return httpx.Response(
                422, json={**problem, "errors": [{"field": "code", "message": problem["detail"]}]}
            )
        if path == "/internal/v1/cases" and method == "POST":
            known = body["source_ref"] in self.cases
            self.cases.setdefault(body["source_ref"], body)
            number = list(self.cases).index(body["source_ref"]) + 1
            return httpx.Response(200 if known else 201, json={"case_no": f"KDL-20261206-{number:04d}"})
        if path.endswith("/callback"):
            self.ratings.append(body)
            self.state["status"] = "closed"
            self.state["satisfaction"] = body["satisfaction"]
            return httpx.Response(200, json={"changed": True})
        if path.startswith("/internal/v1/cases/"):
            return httpx.Response(200, json=self.state)
        return httpx.Response(404, json={"type": "x", "title": "未找到", "status": 404})


@dataclass
class Gateway:
    http: httpx.AsyncClient
    services: Services


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = GatewaySettings(data_dir=tmp_path, citizen_public_url="https://zz.example.gov.cn")
    await asyncio.to_thread(migrate, settings)
    runtime = ServiceRuntime("gateway", settings, metadata, kit)
    services = Services()
    app = FastAPI()
    install_problem_handlers(app)

    @app.exception_handler(PassThrough)
    async def _pass(_request: Any, exc: PassThrough) -> Any:
        return exc.to_response()

    app.state.runtime = runtime
    fake = http_client(transport=httpx.MockTransport(services.handle))
    urls = {s: f"http://{s}:1" for s in ("intake", "referral", "notification")}
    app.state.upstream = Upstream(fake, urls, CredentialMinter(settings.internal_signing_key))
    citizen.install(app)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with http_client(transport=transport, base_url="http://hub.test") as http:
        yield Gateway(http, services)
    await fake.aclose()
    await runtime.db.dispose()


async def _form_token(http: httpx.AsyncClient, centre: str = STREET) -> str:
    page = await http.get(f"/report/{centre}")
    assert page.status_code == 200, page.text
    marker = 'name="form_token" value="'
    return page.text.split(marker, 1)[1].split('"', 1)[0]


async def test_a_known_centre_has_a_form_and_an_unknown_one_a_chinese_404_page(gateway: Gateway) -> None:
    page = await gateway.http.get(f"/report/{STREET}")
    assert page.status_code == 200 and "白云路街道综治中心" in page.text and "获取验证码" in page.text
    assert page.headers["content-type"].startswith("text/html")
    for unknown in ("150203009000", "not-a-code"):
        missing = await gateway.http.get(f"/report/{unknown}")
        assert missing.status_code == 404 and "未找到该综治中心" in missing.text
        assert missing.headers["content-type"].startswith("text/html")
    qr = await gateway.http.get(f"/report/{STREET}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    link = (await gateway.http.get(f"/report/{STREET}/link")).json()
    assert link["url"] == f"https://zz.example.gov.cn/report/{STREET}"


async def test_a_verified_report_is_registered_once_however_often_it_is_retried(gateway: Gateway) -> None:
    http, services = gateway.http, gateway.services
    token = await _form_token(http)
    sent = await http.post(f"/report/{STREET}/code", json={"phone": "138 0000 0000"})
    assert sent.status_code == 201 and sent.json()["verification_id"] == VID
    body = {**REPORT, "form_token": token, "verification_id": VID, "code": "123456"}
    first = await http.post(f"/report/{STREET}/cases", json=body)
    assert first.status_code == 201, first.text
    again = await http.post(f"/report/{STREET}/cases", json=body)
    assert again.status_code == 200 and again.json() == first.json()
    (registered,) = services.cases.values()
    assert registered["channel"] == "web" and registered["location"]["street_code"] == STREET
    assert registered["reporter"] == {"name": "测试居民", "phone": "13800000000"}
    link = first.json()["status_url"]
    assert link.startswith("https://zz.example.gov.cn/report/status/")

    status = await http.get(link.removeprefix("https://zz.example.gov.cn"))
    assert status.status_code == 200 and first.json()["case_no"] in status.text
    for personal in ("测试居民", "13800000000", "0000", "测试小区", "十一点"):
        assert personal not in status.text
    assert "rating-form" not in status.text  # not replied yet


async def test_a_wrong_code_registers_nothing_and_says_so_on_its_field(gateway: Gateway) -> None:
    token = await _form_token(gateway.http)
    body = {**REPORT, "form_token": token, "verification_id": VID, "code": "000000"}
    refused = await gateway.http.post(f"/report/{STREET}/cases", json=body)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "code"
    assert "还可以再试" in refused.json()["detail"]
    assert gateway.services.cases == {}


async def test_bad_fields_are_refused_in_chinese_before_anything_is_asked(gateway: Gateway) -> None:
    token = await _form_token(gateway.http)
    refused = await gateway.http.post(f"/report/{STREET}/cases", json={"form_token": token, "category": "x"})
    assert refused.status_code == 422
    fields = [e["field"] for e in refused.json()["errors"]]
    assert fields == ["category", "title", "description", "address", "name", "phone", "code"]
    assert gateway.services.cases == {} and not any("verifications" in c for c in gateway.services.calls)
    bad_phone = await gateway.http.post(f"/report/{STREET}/code", json={"phone": "12345"})
    assert bad_phone.status_code == 422 and gateway.services.codes_sent == 0


async def test_an_anonymous_report_asks_for_no_code_and_is_never_rated(gateway: Gateway) -> None:
    token = await _form_token(gateway.http)
    body = {**REPORT, "name": "", "phone": "", "anonymous": True, "form_token": token}
    filed = await gateway.http.post(f"/report/{STREET}/cases", json=body)
    assert filed.status_code == 201 and filed.json()["anonymous"] is True
    assert gateway.services.codes_sent == 0
    assert next(iter(gateway.services.cases.values()))["reporter"] == {"anonymous": True}
    gateway.services.state = {"status": "replied", "referrals": []}
    path = filed.json()["status_url"].removeprefix("https://zz.example.gov.cn")
    page = await gateway.http.get(path)
    assert "匿名反映的事项不进行回访评价" in page.text and "rating-form" not in page.text
    rated = await gateway.http.post(f"{path}/rating", data={"satisfaction": "1"})
    assert rated.status_code == 409 and gateway.services.ratings == []


async def test_the_status_page_rates_once_the_case_is_replied_and_only_once(gateway: Gateway) -> None:
    token = await _form_token(gateway.http)
    body = {**REPORT, "form_token": token, "verification_id": VID, "code": "123456"}
    path = (await gateway.http.post(f"/report/{STREET}/cases", json=body)).json()["status_url"]
    path = path.removeprefix("https://zz.example.gov.cn")
    gateway.services.state = {
        "status": "replied",
        "satisfaction": None,
        "referrals": [
            {
                "round": 1,
                "role": "lead",
                "status": "replied",
                "department_name": "白云路派出所",
                "replied_at": "2026-12-06T03:00:00+00:00",
                "reply_outcome": "resolved",
                "reply_summary": "已到现场责令夜间停工",
            }
        ],
    }
    page = await gateway.http.get(path)
    assert "已到现场责令夜间停工" in page.text and "白云路派出所" in page.text and "rating-form" in page.text
    rated = await gateway.http.post(f"{path}/rating", data={"satisfaction": "2"})
    assert rated.status_code == 303 and rated.headers["location"] == f"{path}?rated=1"
    assert gateway.services.ratings == [{"satisfaction": "basically_satisfied"}]
    again = await gateway.http.post(f"{path}/rating", data={"satisfaction": "3"})
    assert again.status_code == 409 and "只能评价一次" in again.text
    assert len(gateway.services.ratings) == 1
    after = await gateway.http.get(f"{path}?rated=1")
    assert "您的评价：基本满意" in after.text
    unknown = await gateway.http.get("/report/status/" + "0" * 40)
    assert unknown.status_code == 404 and "未找到该事项" in unknown.text
