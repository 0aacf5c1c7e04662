"""The services' door (hub/credential_guard.py) on a bare app: what it lets through and what it refuses."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.types import Message, Receive, Scope, Send

from hub.credential_guard import CredentialGuard, principal_of
from hub.credentials import (
    CREDENTIAL_HEADER,
    DEV_INTERNAL_SIGNING_KEY,
    DEV_INTERNAL_VERIFY_KEY,
    CredentialMinter,
    CredentialVerifier,
    Principal,
    new_signing_key,
)
from hub.problems import PROBLEM_JSON
from tests.kit.http import http_client

PERSON = Principal(kind="user", id="u-1", role="centre", name="张三", centre="150203")
MINTER = CredentialMinter(DEV_INTERNAL_SIGNING_KEY)


def guarded() -> FastAPI:
    app = FastAPI()

    @app.post("/internal/v1/things")
    async def things(request: Request) -> dict[str, Any]:
        found = principal_of(request)
        assert found is not None
        return {"kind": found.kind, "id": found.id, "name": found.name, "centre": found.centre}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(CredentialGuard, verifier=CredentialVerifier((DEV_INTERNAL_VERIFY_KEY,), "intake"))
    return app


async def call(headers: dict[str, str] | None = None, path: str = "/internal/v1/things") -> httpx.Response:
    transport = httpx.ASGITransport(app=guarded())
    async with http_client(transport=transport, base_url="http://intake") as client:
        if path == "/healthz":
            return await client.get(path)
        return await client.post(path, json={"x": 1}, headers=headers or {})


async def test_a_valid_credential_puts_its_principal_on_the_request() -> None:
    answer = await call(MINTER.headers(PERSON, "intake"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"kind": "user", "id": "u-1", "name": "张三", "centre": "150203"}


async def test_refusals_are_401_problems_with_a_chinese_title() -> None:
    cases = {
        "missing": {},
        "actor headers only": {"X-Hub-Actor-Role": "centre"},
        "garbage": {CREDENTIAL_HEADER: "not-a-jwt"},
        "other key": CredentialMinter(new_signing_key()).headers(PERSON, "intake"),
        "expired": CredentialMinter(DEV_INTERNAL_SIGNING_KEY, ttl_s=-60).headers(PERSON, "intake"),
        "other service": MINTER.headers(PERSON, "referral"),
    }
    for why, headers in cases.items():
        answer = await call(headers)
        assert answer.status_code == 401, why
        assert answer.headers["content-type"].startswith(PROBLEM_JSON), why
        problem = answer.json()
        assert (
            problem["type"].endswith("/internal-credential") and problem["title"] == "未经网关认证的内部请求"
        )
        assert CREDENTIAL_HEADER in problem["detail"], why
    assert (await call(path="/healthz")).status_code == 200


async def test_a_refused_request_body_is_never_read() -> None:
    guard = CredentialGuard(guarded(), verifier=CredentialVerifier((DEV_INTERNAL_VERIFY_KEY,), "intake"))
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body of a refused request was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/internal/v1/things",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    receiver: Receive = receive
    sender: Send = send
    await guard(scope, receiver, sender)
    assert sent[0]["status"] == 401
