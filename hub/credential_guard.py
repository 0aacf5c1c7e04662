"""The door of every service behind the gateway: no internal credential, no request.

An ASGI middleware (installed by `hub.app.create_service_app` for intake, referral and notification)
that checks the `X-Hub-Credential` header (hub/credentials.py) before anything else runs: missing,
forged (signed with a key the service does not hold), expired, or addressed to another service → 401
problem details, with the body unread and nothing written. A valid credential's principal is put on
`request.state.principal` (`principal_of(request)`), where the services' actor dependencies read it.

Only the liveness, readiness and metrics endpoints are open: the orchestrator and Prometheus call them
without a credential and they reveal nothing about cases.

The reason of a refusal is safe to give (missing, expired, unknown key, invalid); the token itself,
and who it names, is never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.credentials import CREDENTIAL_HEADER, CredentialError, CredentialVerifier, Principal
from hub.problems import PROBLEM_JSON, Problem

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_HEADER = CREDENTIAL_HEADER.lower().encode("latin-1")
STATE_KEY = "principal"

log = logging.getLogger("hub.credential_guard")


def _credential(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER:
            return bytes(value).decode("latin-1").strip() or None
    return None


def refusal(reason: str) -> Problem:
    return Problem(
        401,
        "未经网关认证的内部请求",
        f"{reason}。服务只接受网关签发、发给本服务、仍在有效期内的内部凭证（{CREDENTIAL_HEADER}）。",
        type_="internal-credential",
    )


class CredentialGuard:
    """ASGI middleware: every request but OPEN_PATHS needs a valid credential for this service."""

    def __init__(self, app: ASGIApp, *, verifier: CredentialVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            principal = self.verifier.verify(_credential(scope))
        except CredentialError as exc:
            log.warning("refused a request without a valid internal credential: %s", _kind(str(exc)))
            await _answer(send, refusal(str(exc)), scope.get("path", ""))
            return
        scope.setdefault("state", {})[STATE_KEY] = principal
        await self.app(scope, receive, send)


def _kind(reason: str) -> str:
    """The English part of a refusal's reason, for the log (codes only)."""
    start, end = reason.rfind("("), reason.rfind(")")
    return reason[start + 1 : end] if 0 <= start < end else "invalid"


async def _answer(send: Send, problem: Problem, path: str) -> None:
    body = json.dumps(problem.body(path), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                # The refused request's body is never read, so the server cannot reuse the connection;
                # saying so keeps the client from sending its next request on a connection being closed.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def principal_of(request: Any) -> Principal | None:
    """The principal the gateway vouched for on this request (None outside a guarded service)."""
    state = getattr(request, "state", None)
    found = getattr(state, STATE_KEY, None) if state is not None else None
    return found if isinstance(found, Principal) else None
