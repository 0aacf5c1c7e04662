"""A NUL character (which PostgreSQL cannot store) is refused at the door with problem details."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.problems import install_problem_handlers
from hub.request_guards import RefuseNulCharacters
from tests.kit.http import http_client


def app_recording(calls: list[Any]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RefuseNulCharacters)

    @app.get("/cases")
    async def search(case_no: str = "") -> dict[str, str]:
        calls.append(case_no)
        return {"case_no": case_no}

    @app.post("/cases")
    async def register(body: dict[str, Any]) -> dict[str, Any]:
        calls.append(body)
        return body

    return app


async def call(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with http_client(transport=transport, base_url="http://hub") as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "where"),
    [
        ("GET", "/cases?case_no=ZZ%00202601", {}, "查询参数"),
        ("GET", "/cases%00", {}, "路径"),
        ("POST", "/cases", {"json": {"title": "噪音\x00扰民"}}, "请求内容"),
        (
            "POST",
            "/cases",
            {"content": b'{"title": "a\\u0000b"}', "headers": {"content-type": "application/json"}},
            "请求内容",
        ),
    ],
)
async def test_a_nul_anywhere_is_a_400_problem_and_reaches_no_handler(
    method: str, url: str, kwargs: dict[str, Any], where: str
) -> None:
    calls: list[Any] = []
    response = await call(app_recording(calls), method, url, **kwargs)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/nul-character") and problem["where"] == where
    assert "空字符" in problem["detail"]
    assert calls == []


async def test_text_that_only_looks_like_a_nul_escape_passes_through_whole() -> None:
    calls: list[Any] = []
    app = app_recording(calls)
    raw = b'{"title": "\\\\u0000 is how JSON writes it", "n": 1}'
    response = await call(app, "POST", "/cases", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert calls == [{"title": "\\u0000 is how JSON writes it", "n": 1}]
    assert (await call(app, "GET", "/cases?case_no=ZZ-2026-0001")).json() == {"case_no": "ZZ-2026-0001"}
