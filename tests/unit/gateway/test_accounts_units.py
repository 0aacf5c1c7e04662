"""Named accounts' parts without a hub: the supervisor in every centre row, tokens of people (session
id, kind, refresh audience), the middleware's live check and the principal headers it forwards, and
the password rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError

from gateway.accounts.passwords import (
    PasswordRejected,
    check_new_password,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from gateway.accounts.store import AccountError, validate_user_fields
from gateway.auth import AuthMiddleware, Identity, TokenError, TokenIssuer
from gateway.auth.tokens import RefreshClaims
from gateway.authorization import Permissions
from gateway.ratelimit import RateLimiter
from gateway.routes.table import ROUTES
from hub.problems import install_problem_handlers
from tests.kit.http import http_client

ISSUE = TokenIssuer("unit-test-token-secret")
PERSON = Identity("u1", "supervisor", kind="user", session_id="s1")


def test_every_route_open_to_the_centre_is_open_to_the_supervisor() -> None:
    centre_rows = [r for r in ROUTES if "centre" in r.roles]
    assert centre_rows and all("supervisor" in r.roles for r in centre_rows)
    assert not [r.path for r in ROUTES if "supervisor" in r.roles and "centre" not in r.roles]


def test_a_persons_token_names_its_session_and_kind() -> None:
    back = ISSUE.verify(ISSUE.issue(PERSON, ttl_s=60))
    assert (back.kind, back.session_id, back.role, back.client_id) == ("user", "s1", "supervisor", "u1")
    client = ISSUE.verify(ISSUE.issue(Identity("c1", "centre")))
    assert (client.kind, client.session_id) == ("client", None)
    with pytest.raises(TokenError):  # a person's token without its session is no token
        ISSUE.verify(ISSUE.issue(replace(PERSON, session_id=None)))
    with pytest.raises(TokenError):  # expired
        ISSUE.verify(ISSUE.issue(PERSON, ttl_s=-60))


def test_refresh_and_access_tokens_are_not_interchangeable() -> None:
    refresh = ISSUE.issue_refresh(RefreshClaims("u1", "s1", 3), 60)
    assert ISSUE.verify_refresh(refresh) == RefreshClaims("u1", "s1", 3)
    with pytest.raises(TokenError):
        ISSUE.verify(refresh)
    with pytest.raises(TokenError):
        ISSUE.verify_refresh(ISSUE.issue(PERSON))
    with pytest.raises(TokenError):
        TokenIssuer("another-deployment").verify_refresh(refresh)


class StubLive:
    """What `LiveCheck.current` answers, without a database."""

    def __init__(self, answer: Identity | Exception | None) -> None:
        self.answer = answer
        self.seen: list[Identity] = []

    async def current(self, identity: Identity) -> Identity | None:
        self.seen.append(identity)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def echo_app(live: StubLive) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/auth/me")
    async def me(request: Request) -> dict[str, Any]:
        return {k: v for k, v in request.headers.items() if k.startswith("x-hub-actor-")}

    app.add_middleware(
        AuthMiddleware,
        permissions=Permissions(ROUTES),
        issuer=ISSUE,
        limiter=RateLimiter(),
        required=True,
        live=live,  # type: ignore[arg-type]
    )
    return app


async def _get(live: StubLive, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=echo_app(live))
    async with http_client(transport=transport, base_url="http://gw") as http:
        return await http.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {ISSUE.issue(PERSON)}", **headers}
        )


async def test_the_live_identity_is_forwarded_with_kind_centre_and_encoded_name() -> None:
    now = replace(PERSON, role="centre", centre="150203001000", name="督办 Wang/王")
    live = StubLive(now)
    seen = (await _get(live, **{"X-Hub-Actor-Name": "forged", "X-Hub-Actor-Kind": "system"})).json()
    assert live.seen[0].session_id == "s1"
    assert seen["x-hub-actor-role"] == "centre"  # as the row says now, not as the token said
    assert seen["x-hub-actor-kind"] == "user" and seen["x-hub-actor-centre"] == "150203001000"
    assert seen["x-hub-actor-name"].isascii() and unquote(seen["x-hub-actor-name"]) == "督办 Wang/王"


async def test_a_revoked_session_is_401_and_an_unreachable_database_503() -> None:
    refused = await _get(StubLive(None))
    assert refused.status_code == 401 and refused.json()["type"].endswith("/invalid-token")
    assert "invalid_token" in refused.headers["www-authenticate"]
    down = await _get(StubLive(OperationalError("SELECT", {}, Exception("gone"))))
    assert down.status_code == 503 and down.json()["title"] == "服务暂不可用"


def test_new_passwords_and_account_fields_are_checked_in_both_languages() -> None:
    for bad in ("short", "aaaaaaaaaaaa", "x" * 129, "with\x00control1"):
        with pytest.raises(PasswordRejected, match=r"密码.*\("):
            check_new_password(bad)
    check_new_password(generate_password())
    validate_user_fields("Li.Si@street", "department", "150203001000", "housing@150203", "李四")
    for args in (
        ("li", "root", "150203", None, None),
        ("li", "centre", "150203-1", None, None),
        ("li", "centre", "150203", "housing@1502", None),
        ("li", "centre", "150203", None, "\u202ename"),
        ("-li", "centre", "150203", None, None),
    ):
        with pytest.raises(AccountError):
            validate_user_fields(*args)


async def test_argon2id_hashes_check_and_an_unknown_user_never_passes() -> None:
    stored = await hash_password("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and not needs_rehash(stored)
    assert await verify_password(stored, "a long enough password")
    assert not await verify_password(stored, "a long enough passworD")
    assert not await verify_password(None, "a long enough password")
    assert not await verify_password("not-a-hash", "x") and needs_rehash("not-a-hash")
