"""The problem-details answers auth gives before any route runs (401 with its challenge, 403, 404,
413, 429), in the same RFC 9457 shape the routes use."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from hub.problems import PROBLEM_JSON, Problem

REALM = "referral-hub"


def problem_json(
    status: int, title: str, detail: str, type_: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = Problem(status, title, detail, type_=type_, **extra).body()
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _www_authenticate(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


def unauthenticated(detail: str, *, invalid: bool) -> JSONResponse:
    # RFC 6750: a request without credentials gets only the challenge; a bad token gets invalid_token.
    headers = _www_authenticate("invalid_token", "token missing, invalid or expired") if invalid else None
    return problem_json(
        401,
        "未认证",
        detail,
        "invalid-token" if invalid else "unauthenticated",
        headers or _www_authenticate(),
    )
