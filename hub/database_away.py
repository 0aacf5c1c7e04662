"""A request that fails while the service's database does not answer is the infrastructure's failure, not
a fault of the request: the client gets 503 with Retry-After (try again), not a 500. A retry is safe: the
work was not done, or — a connection cut at the commit — it was, and the retry finds it (a case by its
work-order number or Idempotency-Key).

Two tests, either enough: the error is the connection's (refused, the server starting up or shutting down,
the connection cut, no pooled connection free in time), or — the consumer's rule (hub/messaging/consumer.py)
— after the error the database does not answer a ping within a short while. Only requests that failed are
checked, so a healthy service pays nothing. Any other error, with the database answering, is the
handler's own and goes on to the generic 500 as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.db import is_connection_error
from hub.problems import Problem, problem_response

log = logging.getLogger("hub.http")

RETRY_AFTER_S = 5


def database_away() -> Problem:
    problem = Problem(
        503,
        "服务暂不可用",
        f"数据库暂时无法访问，请 {RETRY_AFTER_S} 秒后重试",
        type_="database-unavailable",
    )
    problem.headers = {"Retry-After": str(RETRY_AFTER_S)}
    return problem


class AnswerWhileDatabaseAway:
    """ASGI middleware: an unhandled error with the database unreachable → 503 + Retry-After."""

    def __init__(self, app: ASGIApp, database_answers: Callable[[], Awaitable[bool]]) -> None:
        self.app = app
        self.database_answers = database_answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started or (not is_connection_error(exc) and await self.database_answers()):
                raise
            log.warning(
                "%s %s: no usable database connection (%s); answered 503",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
            )
            await problem_response(database_away())(scope, receive, send)
