"""Admission within capacity: a process answers at most HUB_MAX_IN_FLIGHT requests at once; past that a
request is refused at once with 503 + Retry-After, before anything is read or done (issue 16).

Why: after an outage every client that was refused comes back within its back-off, far more at once than
the process can answer. Without a bound they all wait in the process's queue, each slower than the last,
until the client's own timeout cuts them off: unanswered, and their work (done or not) unknown to the
client. With the bound the excess is told at once to come back, the admitted requests are answered in
their usual time, and nothing is half done: a refused request never reached a handler.

Probes and metrics are never refused (a busy process is alive and ready). Retry-After is spread over
[base, 2 × base] seconds so the refused clients do not all come back in the same second.
"""

from __future__ import annotations

import logging
import random

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.metrics import KitMetrics
from hub.problems import Problem, problem_response

log = logging.getLogger("hub.http")

ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz", "/metrics"})


def busy(retry_after_s: int) -> Problem:
    problem = Problem(
        503,
        "服务繁忙",
        f"当前请求过多，请 {retry_after_s} 秒后重试",
        type_="overloaded",
    )
    problem.headers = {"Retry-After": str(retry_after_s)}
    return problem


class AdmitWithinCapacity:
    """ASGI middleware: at most `max_in_flight` HTTP requests at once; the next is 503 + Retry-After."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        retry_after_s: int,
        metrics: KitMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.in_flight = 0
        self.refused = 0  # since the process started (a metric reads it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.refused += 1
            if self.metrics:
                self.metrics.http_refused.inc()
            if self.refused % 100 == 1:  # a surge refuses thousands: one line per hundred
                log.warning(
                    "%d requests in flight (the most admitted): %d refused so far",
                    self.in_flight,
                    self.refused,
                )
            wait = self.rng.randint(self.retry_after_s, 2 * self.retry_after_s)
            await problem_response(busy(wait))(scope, receive, send)
            return
        self._count(+1)
        try:
            await self.app(scope, receive, send)
        finally:
            self._count(-1)

    def _count(self, step: int) -> None:
        self.in_flight += step
        if self.metrics:
            self.metrics.http_in_flight.set(self.in_flight)
