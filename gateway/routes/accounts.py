"""Named accounts over HTTP (docs/api-accounts.md): sign in, refresh, sign out, who am I.

`POST /api/v1/auth/login` and `/refresh` are outside bearer auth (like the token endpoint), and so are
`GET /api/v1/auth/oidc/login` and `/oidc/callback`, the optional sign-in through an identity provider
(gateway/accounts/oidc.py; 404 while `HUB_OIDC_ISSUER` is unset);
`GET /api/v1/auth/me` and `POST /api/v1/auth/logout` are rows of the route table
(gateway/routes/table.py) served here. Every refusal is an RFC 9457 problem with a Chinese title; a
wrong username and a wrong password get the very same 401. Tokens are answered with `no-store`.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from gateway.accounts.login import AccountLocked, Accounts, LoginRefused, RefreshRefused, Tokens
from gateway.accounts.oidc import OidcError, OidcSignIn
from gateway.accounts.store import get_user
from gateway.auth.answers import REALM, problem_json
from gateway.auth.clients import identity_of
from gateway.auth.middleware import (
    LOGIN_PATH,
    OIDC_CALLBACK_PATH,
    OIDC_LOGIN_PATH,
    REFRESH_PATH,
    SIGN_IN_METHODS_PATH,
)

router = APIRouter(tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=2048)


class UserOut(BaseModel):
    id: str
    username: str
    name: str
    role: str
    centre: str
    department: str | None
    grid: str | None = None  # role grid_worker: the grid (网格) the person works


class SessionTokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_expires_in: int
    user: UserOut


class MeOut(BaseModel):
    kind: str  # user | client | system
    id: str
    role: str
    username: str | None = None
    name: str | None = None
    centre: str | None = None
    department: str | None = None
    system: str | None = None
    grid: str | None = None  # a grid worker's grid (网格)


def _accounts(request: Request) -> Accounts:
    found: Accounts = request.app.state.accounts
    return found


def _answer(tokens: Tokens) -> JSONResponse:
    body = SessionTokensOut(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        refresh_expires_in=tokens.refresh_expires_in,
        user=UserOut(**tokens.user.public()),
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


@router.post(
    LOGIN_PATH,
    response_model=SessionTokensOut,
    summary="Sign in with a username and password (a person): access and refresh tokens",
    responses={
        401: {"description": "用户名或密码错误 (the same answer for an unknown user; problem details)"},
        423: {"description": "账号已锁定: too many failed logins (Retry-After)"},
        429: {"description": "Too many login attempts for this username from this address (Retry-After)"},
    },
)
async def login(request: Request, body: LoginIn) -> Any:
    limit: int = request.app.state.login_attempts_per_minute
    address = request.client.host if request.client else "-"
    verdict = request.app.state.login_limiter.take(f"{body.username.strip().lower()}\x00{address}", limit)
    if not verdict.allowed:
        return problem_json(
            429,
            "请求过于频繁",
            f"登录尝试过于频繁，请 {verdict.retry_after_s} 秒后重试",
            "rate-limited",
            {"Retry-After": str(verdict.retry_after_s), **NO_STORE},
        )
    try:
        tokens = await _accounts(request).login(body.username, body.password, address=address)
    except LoginRefused:
        return problem_json(401, "登录失败", "用户名或密码错误", "login-failed", {**CHALLENGE, **NO_STORE})
    except AccountLocked as locked:
        minutes = (locked.retry_after_s + 59) // 60
        return problem_json(
            423,
            "账号已锁定",
            f"连续登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试或联系管理员",
            "account-locked",
            {"Retry-After": str(locked.retry_after_s), **NO_STORE},
        )
    return _answer(tokens)


@router.post(
    REFRESH_PATH,
    response_model=SessionTokensOut,
    summary="Trade a refresh token for a new pair (the old one is used up; reuse revokes the session)",
    responses={401: {"description": "Invalid, expired, used-up or revoked refresh token (problem details)"}},
)
async def refresh(request: Request, body: RefreshIn) -> Any:
    try:
        tokens = await _accounts(request).refresh(body.refresh_token)
    except RefreshRefused as refused:
        return problem_json(401, "刷新令牌无效", str(refused), "refresh-refused", {**CHALLENGE, **NO_STORE})
    return _answer(tokens)


async def logout(request: Request) -> Response:
    """Sign out: the session's access and refresh tokens are refused from the next request on."""
    identity = identity_of(request)
    if identity is None or identity.kind != "user":
        return problem_json(
            400, "不是登录会话", "只有用户登录会话可以登出；API 客户端令牌会自然过期", "not-a-session"
        )
    await _accounts(request).logout(identity)
    return Response(status_code=204, headers=NO_STORE)


async def me(request: Request) -> Any:
    """Who the bearer token speaks for: a person (with their centre), an API client or the hub."""
    identity = identity_of(request)
    if identity is None:
        return problem_json(401, "未认证", "请携带 Bearer 令牌", "unauthenticated", CHALLENGE)
    out = MeOut(
        kind=identity.kind,
        id=identity.client_id,
        role=identity.role,
        centre=identity.centre,
        department=identity.department,
        system=identity.system,
        grid=identity.grid,
    )
    if identity.kind == "user":
        user = await get_user(request.app.state.runtime.db, identity.client_id)
        if user is not None:
            out = out.model_copy(update={"username": user.username, "name": user.name})
    return JSONResponse(out.model_dump(), headers=NO_STORE)


OIDC_COOKIE = "hub_oidc_flow"


def _oidc(request: Request) -> OidcSignIn | None:
    found: OidcSignIn | None = request.app.state.oidc
    return found


class SignInMethodsOut(BaseModel):
    password: bool = True
    oidc: bool  # 统一身份认证 configured (HUB_OIDC_ISSUER): the console shows its button


@router.get(
    SIGN_IN_METHODS_PATH,
    response_model=SignInMethodsOut,
    summary="How a person may sign in here (no bearer): password, and OIDC when configured",
)
async def sign_in_methods(request: Request) -> Any:
    return SignInMethodsOut(oidc=_oidc(request) is not None)


def _is_navigation(request: Request) -> bool:
    """A browser's top-level navigation (not the console's fetch, not an API client)."""
    if request.headers.get("sec-fetch-mode") == "navigate":
        return True
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _oidc_off() -> JSONResponse:
    return problem_json(
        404, "未启用统一身份认证", "本平台未配置 OIDC 身份提供方 (HUB_OIDC_ISSUER)", "oidc-disabled"
    )


def _oidc_failed(detail: str) -> JSONResponse:
    response = problem_json(401, "统一身份认证失败", detail, "oidc-failed", {**CHALLENGE, **NO_STORE})
    response.delete_cookie(OIDC_COOKIE, path="/api/v1/auth/oidc")
    return response


@router.get(
    OIDC_LOGIN_PATH,
    summary="Sign in through the identity provider (统一身份认证, OIDC): redirects there",
    status_code=302,
    responses={302: {"description": "To the provider"}, 404: {"description": "OIDC not configured"}},
)
async def oidc_login(
    request: Request,
    to: Literal["console"] | None = Query(
        default=None, description="console: the provider's answer goes back to the web console"
    ),
) -> Response:
    oidc = _oidc(request)
    if oidc is None:
        return _oidc_off()
    try:
        where, flow = await oidc.start(to=to)
    except OidcError as exc:
        return problem_json(502, "身份提供方不可用", str(exc), "oidc-unavailable")
    response = RedirectResponse(where, status_code=302, headers=NO_STORE)
    response.set_cookie(
        OIDC_COOKIE,
        flow,
        max_age=600,
        path="/api/v1/auth/oidc",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


@router.get(
    OIDC_CALLBACK_PATH,
    response_model=SessionTokensOut,
    summary="Where the identity provider sends the person back: the same tokens as a password login",
    responses={401: {"description": "The provider's answer did not check out, or no such enabled account"}},
)
async def oidc_callback(
    request: Request,
    code: str | None = Query(default=None, max_length=2048),
    state: str | None = Query(default=None, max_length=256),
    error: str | None = Query(default=None, max_length=256),
) -> Any:
    oidc = _oidc(request)
    if oidc is None:
        return _oidc_off()
    if _is_navigation(request) and oidc.returns_to(request.cookies.get(OIDC_COOKIE)) == "console":
        # The person's browser, back from the provider: the console finishes the flow with a fetch
        # (same cookie, JSON answer) and keeps the tokens as after a password login. The code in the
        # fragment is worthless alone: one use, bound to the flow cookie's PKCE verifier and our secret.
        passed = {k: v for k, v in (("code", code), ("state", state), ("error", error)) if v}
        return RedirectResponse(f"/console/#/oidc?{urlencode(passed)}", status_code=303, headers=NO_STORE)
    if error or not code or not state:
        return _oidc_failed(f"身份提供方未授权 (the provider answered {error or 'without a code'})")
    try:
        username = await oidc.finish(code, state, request.cookies.get(OIDC_COOKIE))
        tokens = await _accounts(request).sign_in(
            username, address=request.client.host if request.client else None
        )
    except OidcError as exc:
        return _oidc_failed(str(exc))
    except LoginRefused:
        return _oidc_failed("该统一身份账号未在本平台开通或已停用 (no enabled hub account for this identity)")
    response = _answer(tokens)
    response.delete_cookie(OIDC_COOKIE, path="/api/v1/auth/oidc")
    return response
