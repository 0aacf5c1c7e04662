"""The gateway's edge limits (issue 14, docs/security.md): body sizes per kind of path, security headers
on every answer, and `/docs`, `/redoc`, `/openapi.json` and `/metrics` closed in production.

Body sizes are applied by the kit's `LimitRequestBody` (hub/body_limits.py), with the limits below;
the general one is the shared `HUB_MAX_BODY_BYTES`.
"""

from __future__ import annotations

import hmac
import json

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.settings import GatewaySettings
from hub.body_limits import BodyLimits
from hub.problems import PROBLEM_JSON, Problem

AUTH_PREFIX = "/api/v1/auth/"  # the token endpoint, and any other sign-in route
OPEN311_PREFIX = "/open311/"
ADAPTERS_PREFIX = "/adapters/"
CITIZEN_PREFIX = "/report/"  # the citizen QR form's public posts (gateway/citizen), as small as Open311's
GRID_PREFIX = "/api/v1/grid/"  # grid workers' reports carry photos (issue 18)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS_PATH = "/metrics"
FRAME_ANCESTORS = "frame-ancestors 'none'"


def body_limits(settings: GatewaySettings) -> BodyLimits:
    return BodyLimits(
        settings.max_body_bytes,
        (
            (AUTH_PREFIX, settings.auth_max_body_bytes),
            (OPEN311_PREFIX, settings.open311_max_body_bytes),
            (ADAPTERS_PREFIX, settings.adapter_max_body_bytes),
            (CITIZEN_PREFIX, settings.open311_max_body_bytes),
            (GRID_PREFIX, settings.grid_max_body_bytes),
        ),
    )


def merged_csp(existing: str | None) -> str:
    """The answer's own policy (the console's strict one) kept whole, with framing forbidden in it."""
    if not existing:
        return FRAME_ANCESTORS
    if "frame-ancestors" in existing:
        return existing
    return f"{existing.rstrip().rstrip(';')}; {FRAME_ANCESTORS}"


def _over_tls(scope: Scope) -> bool:
    # uvicorn sets the scheme from X-Forwarded-Proto only for a proxy in FORWARDED_ALLOW_IPS (its
    # --forwarded-allow-ips): a client elsewhere cannot claim TLS by sending the header itself.
    return scope.get("scheme") in ("https", "wss")


class SecurityHeaders:
    """ASGI middleware: nosniff, no referrer, no framing on every answer; HSTS over TLS."""

    def __init__(self, app: ASGIApp, *, behind_tls: bool, hsts_max_age_s: int) -> None:
        self.app = app
        self.behind_tls = behind_tls
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = self.behind_tls or _over_tls(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Content-Security-Policy"] = merged_csp(headers.get("content-security-policy"))
                if hsts:
                    headers["Strict-Transport-Security"] = self.hsts
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ClosedInProduction:
    """ASGI middleware: /docs, /redoc and /openapi.json answer 404 unless open (HUB_DOCS_ENABLED; by
    default open except in production); /metrics likewise (HUB_METRICS_PUBLIC), except to a caller
    bringing `Authorization: Bearer <HUB_METRICS_TOKEN>` when one is set."""

    def __init__(self, app: ASGIApp, *, settings: GatewaySettings) -> None:
        self.app = app
        self.docs_open = settings.docs_open
        self.metrics_open = settings.metrics_open
        self.metrics_token = settings.metrics_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._closed(scope):
            await _not_found(scope, send)
            return
        await self.app(scope, receive, send)

    def _closed(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path in DOCS_PATHS:
            return not self.docs_open
        if path == METRICS_PATH and not self.metrics_open:
            return not (self.metrics_token and _bearer_is(scope, self.metrics_token))
        return False


def _bearer_is(scope: Scope, expected: str) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(
                token.strip().encode(), expected.encode()
            )
    return False


async def _not_found(scope: Scope, send: Send) -> None:
    body = json.dumps(
        Problem(404, "未找到", "Not Found").body(scope.get("path")), ensure_ascii=False
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, settings: GatewaySettings) -> None:
    """Added after every other middleware: outermost, so even a 401 or a 413 carries the headers."""
    app.add_middleware(ClosedInProduction, settings=settings)
    app.add_middleware(
        SecurityHeaders, behind_tls=settings.behind_tls, hsts_max_age_s=settings.hsts_max_age_s
    )
