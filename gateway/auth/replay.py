"""Body replay for an ASGI middleware that must read a request body before the route does: read it
whole (bounded) and hand on a `receive` that gives the same bytes again."""

from __future__ import annotations

from starlette.types import Message, Receive

MAX_INSPECTED_BODY = 1 << 20  # an adapter's case body is read to check its channel (1 MiB)


async def read_body(receive: Receive, limit: int = MAX_INSPECTED_BODY) -> tuple[bytes | None, Receive]:
    """Read the whole request body (at most `limit` bytes; None past it) and a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
