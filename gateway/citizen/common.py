"""What the citizen form's routes share: the runtime, the upstream, the centres, and the token buckets
per client address (the connection's peer as uvicorn resolved it; X-Forwarded-For only from
--forwarded-allow-ips), which are what limits a page that has no login."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gateway.citizen.centres import Centre, CentreDirectory
from gateway.ratelimit import RateLimiter, Verdict
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from hub.problems import Problem
from hub.runtime import ServiceRuntime


def install_state(app: Any) -> None:
    app.state.citizen_centres = CentreDirectory()
    app.state.citizen_posts = RateLimiter()
    app.state.citizen_reads = RateLimiter()


def runtime(request: Request) -> ServiceRuntime[GatewaySettings]:
    rt: ServiceRuntime[GatewaySettings] = request.app.state.runtime
    return rt


def settings(request: Request) -> GatewaySettings:
    return runtime(request).settings


def upstream(request: Request) -> Upstream:
    found: Upstream = request.app.state.upstream
    return found


def address(request: Request) -> str:
    return request.client.host if request.client else "-"


def take_post(request: Request) -> Verdict:
    s = settings(request)
    limiter: RateLimiter = request.app.state.citizen_posts
    return limiter.take(address(request), s.citizen_posts_per_minute, burst=s.citizen_post_burst)


def take_read(request: Request) -> Verdict:
    s = settings(request)
    limiter: RateLimiter = request.app.state.citizen_reads
    return limiter.take(address(request), s.citizen_reads_per_minute)


def post_allowed(request: Request) -> None:
    """One token of the address's bucket for a post, or the 429 problem that says when to come back."""
    verdict = take_post(request)
    if not verdict.allowed:
        problem = Problem(
            429,
            "操作过于频繁",
            f"您的操作过于频繁，请 {verdict.retry_after_s} 秒后再试",
            type_="citizen-rate-limited",
        )
        problem.headers = {"Retry-After": str(verdict.retry_after_s)}
        raise problem


async def centre_or_none(request: Request, code: str) -> Centre | None:
    directory: CentreDirectory = request.app.state.citizen_centres
    return await directory.find(upstream(request), code)


def public_base(request: Request) -> str:
    return settings(request).citizen_public_url or str(request.base_url).rstrip("/")
