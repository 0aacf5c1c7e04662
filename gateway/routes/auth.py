"""`POST /api/v1/auth/token`: OAuth2 client credentials (RFC 6749 §4.4) → a short-lived bearer token.

Credentials come form-encoded (`client_id`, `client_secret`, `grant_type=client_credentials`) or in
an HTTP Basic header (RFC 6749 §2.3.1). Errors are problem details that also carry the OAuth2
`error` code, so both kinds of client understand them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.auth import TOKEN_PATH, ClientAuthenticator, TokenIssuer, problem_json

router = APIRouter(tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
TOKEN_REQUESTS_PER_MINUTE = 30  # per client id; a token lasts 15 minutes


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


def _oauth_error(status: int, error: str, detail: str) -> JSONResponse:
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="referral-hub"'
    return problem_json(
        status,
        "令牌申请失败",
        detail,
        f"oauth-{error.replace('_', '-')}",
        headers,
        error=error,
        error_description=detail,
    )


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


@router.post(
    TOKEN_PATH,
    response_model=TokenOut,
    summary="Trade client credentials for a bearer token (OAuth2 client credentials)",
    responses={
        400: {"description": "invalid_request or unsupported_grant_type (problem details)"},
        401: {"description": "invalid_client (problem details)"},
        429: {"description": "Too many token requests for this client"},
    },
)
async def issue_token(
    request: Request,
    grant_type: Annotated[str | None, Form(max_length=64)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    scope: Annotated[str | None, Form(max_length=256)] = None,
) -> Any:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "请以 application/x-www-form-urlencoded 提交")
    if grant_type not in (None, "client_credentials"):
        return _oauth_error(400, "unsupported_grant_type", "只支持 grant_type=client_credentials")
    basic = _basic(request)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        return _oauth_error(401, "invalid_client", "缺少 client_id 或 client_secret")
    verdict = request.app.state.token_limiter.take(client_id, TOKEN_REQUESTS_PER_MINUTE)
    if not verdict.allowed:
        return problem_json(
            429,
            "请求过于频繁",
            f"令牌每分钟最多申请 {TOKEN_REQUESTS_PER_MINUTE} 次；令牌有效期内请重复使用",
            "rate-limited",
            {"Retry-After": str(verdict.retry_after_s)},
        )
    authenticator: ClientAuthenticator = request.app.state.client_authenticator
    identity = await authenticator.authenticate(client_id, client_secret)
    if identity is None:
        return _oauth_error(401, "invalid_client", "客户端不存在、已停用或密钥不正确")
    issuer: TokenIssuer = request.app.state.token_issuer
    body = TokenOut(access_token=issuer.issue(identity), expires_in=issuer.ttl_s)
    return JSONResponse(body.model_dump(), headers=NO_STORE)
