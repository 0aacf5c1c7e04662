"""Request-body size limits, applied before anything reads a body (issue 14, edge limits).

`LimitRequestBody` is the outermost reader of every request body of a process:

- a `Content-Length` over the path's limit is refused at once with 413: nothing of the body is read;
- a body without one (chunked, streamed) is read as it arrives, counted, and refused as soon as it
  passes the limit: the route never sees any of it, and at most `limit` bytes are ever held;
- a body within its limit is handed on unchanged (with a declared length, without being held at all).

A refusal closes the connection (`Connection: close`) after a short, bounded lingering close (see
`refuse`), so the server stops receiving the rest of the body instead of reading it. The limit of a path is the one of its longest matching
prefix in `BodyLimits.prefixes`, else `BodyLimits.default`; the gateway gives its token endpoint,
Open311 and webhooks their own (gateway/edge.py), intake its bulk import (services/intake/main.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.problems import PROBLEM_JSON, Problem

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class BodyLimits:
    default: int
    prefixes: tuple[tuple[str, int], ...] = ()

    def for_path(self, path: str) -> int:
        """The limit of the longest prefix matching `path`; a prefix ending in `/` names a directory
        (`/api/v1/auth/` matches `/api/v1/auth` and below, not `/api/v1/authority`)."""
        best, limit = -1, self.default
        for prefix, value in self.prefixes:
            matches = path.startswith(prefix) or (prefix.endswith("/") and path == prefix[:-1])
            if matches and len(prefix) > best:
                best, limit = len(prefix), value
        return limit


def describe(size: int) -> str:
    """1048576 → "1 MiB", 65536 → "64 KiB", other sizes in bytes."""
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % KIB == 0:
        return f"{size // KIB} KiB"
    return f"{size} 字节"


def too_large(limit: int, path: str) -> bytes:
    problem = Problem(
        413,
        "请求体过大",
        f"请求体不能超过 {describe(limit)}（{limit} 字节）",
        type_="payload-too-large",
        limit=limit,
    )
    return json.dumps(problem.body(path), ensure_ascii=False).encode()


def _declared_length(scope: Scope) -> int | None:
    """The request's Content-Length; None without one (or with one no server would have accepted)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            text = bytes(value).strip()
            return int(text) if text.isdigit() else None
    return None


class LimitRequestBody:
    """ASGI middleware: 413 problem details for a body over its path's limit, before it is read whole."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limits.for_path(path)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await refuse(send, receive, limit, path)  # not one byte of it read
            return
        if not _is_streamed(scope):  # (a Transfer-Encoding outweighs a Content-Length: counted below)
            await self.app(scope, receive, send)  # none, or no more than it declared
            return
        # Streamed: count as it arrives; hold at most `limit` bytes, and hand it on only once complete.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await refuse(send, receive, limit, path)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(messages, receive), send)


def _is_streamed(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"transfer-encoding" and bytes(value).strip():
            return True
    return False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


LINGER_BYTES = 1 * MIB
LINGER_S = 1.0


async def refuse(send: Send, receive: Receive, limit: int, path: str) -> None:
    """413, then a bounded lingering close: a client that reads while it sends (curl, browsers) has the
    whole answer and stops; the server discards what arrives meanwhile (at most LINGER_BYTES, for at
    most LINGER_S, nothing held) and then closes. Closing at once, with unread bytes on the socket,
    would reset the connection, and a reset can destroy the answer before the client reads it."""
    body = too_large(limit, path)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body is not read
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": True})  # all of it, on the wire
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_discard(receive, LINGER_BYTES), timeout=LINGER_S)
    await send({"type": "http.response.body", "body": b"", "more_body": False})  # the server closes


async def _discard(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))
