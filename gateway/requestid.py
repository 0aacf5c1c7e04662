"""Request ids: `X-Request-Id` accepted from the client (or generated), echoed on every response of
the gateway, error responses included, and recorded on the request's server span."""

from __future__ import annotations

import re
import uuid

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
SPAN_ATTRIBUTE = "hub.request_id"
# A client's id is kept if it is short and plain (no spaces or control characters to forge logs with).
_ACCEPTABLE = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = [v for k, v in scope.get("headers", ()) if k == HEADER]
        rid = given[0] if len(given) == 1 and _ACCEPTABLE.match(given[0]) else uuid.uuid4().hex.encode()
        # The handlers (and whatever they forward) see exactly one, valid id.
        scope["headers"] = [(k, v) for k, v in scope.get("headers", ()) if k != HEADER] + [(HEADER, rid)]
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(SPAN_ATTRIBUTE, rid.decode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
