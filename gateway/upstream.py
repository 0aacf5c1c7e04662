"""Calls from the gateway to the services behind it (httpx, traced, problem details passed through).

Every call names its principal — the authenticated person or client (`gateway.principals.principal_of`),
an adapter's system for a webhook, or the gateway itself for its own reads — and carries an internal
credential minted for that principal and that service alone (hub/credentials.py): the services accept
nothing else. No `X-Hub-Actor-*` header is ever forwarded."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from fastapi import Response

from hub.credentials import CredentialMinter, Principal
from hub.problems import PROBLEM_JSON, Problem

# Back-off between connection attempts to a service that is not listening (about 4 s in all).
log = logging.getLogger(__name__)

CONNECT_RETRY_DELAYS_S = (0.1, 0.25, 0.5, 1.0, 2.0)
RETRY_AFTER_S = 5  # a 503's Retry-After: the service unreachable


def _unavailable(service: str, method: str, path: str, exc: httpx.HTTPError) -> Problem:
    # The exception's class (ConnectError, ReadTimeout, PoolTimeout) tells ops where to look; logged
    # here too, since the client's 503 is all anyone else sees of it. The path holds no personal data
    # (case numbers and ids only), and the query string is not logged.
    log.warning(
        "%s %s%s: %s unreachable (%s); answered 503", method, service, path, service, type(exc).__name__
    )
    problem = Problem(
        503,
        "服务暂不可用",
        f"{service} 服务暂时无法访问（{type(exc).__name__}），请 {RETRY_AFTER_S} 秒后重试",
        type_="service-unavailable",
    )
    problem.headers = {"Retry-After": str(RETRY_AFTER_S)}  # when to try again, as every 503 says
    return problem


def _refused(service: str, response: httpx.Response) -> Problem:
    """A service refused the gateway's own credential: a fault of this hub's set-up (another hub's service
    behind this URL, keys out of step), never the caller's; so not the caller's 401."""
    try:
        why = str(response.json().get("detail", ""))
    except ValueError:
        why = ""
    log.error("%s refused the gateway's internal credential: %s", service, why or response.status_code)
    return Problem(
        502,
        "内部服务拒绝了网关",
        f"{service} 服务不接受本网关的内部凭证（{why or '未说明原因'}）：请检查该服务的地址和密钥配置",
        type_="upstream-refused",
    )


class Upstream:
    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str], minter: CredentialMinter) -> None:
        self.client = client
        self.urls = urls
        self.minter = minter

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        principal: Principal,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        sent = {k: v for k, v in (headers or {}).items() if not k.lower().startswith("x-hub-actor-")}
        for delay in (*CONNECT_RETRY_DELAYS_S, None):
            # Minted per attempt: a retry after a back-off still carries a fresh credential.
            sent.update(self.minter.headers(principal, service))
            try:
                response = await self.client.request(
                    method, self.urls[service] + path, json=json, headers=sent, params=params, timeout=30
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the service (it is starting or restarting): trying again is safe even
                # for a POST, and a restart of a few seconds is not an outage for the caller.
                if delay is None:
                    raise _unavailable(service, method, path, exc) from None
                await asyncio.sleep(delay)
            except httpx.HTTPError as exc:
                raise _unavailable(service, method, path, exc) from None
            if response.status_code == 401:
                raise _refused(service, response)
            return response
        raise AssertionError("unreachable")

    async def json(self, service: str, method: str, path: str, *, principal: Principal, **kwargs: Any) -> Any:
        response = await self.request(service, method, path, principal=principal, **kwargs)
        if response.status_code >= 400:
            raise PassThrough(response)
        return response.json()


class PassThrough(Exception):
    """A service answered with problem details: hand them to the client unchanged."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response

    def to_response(self) -> Response:
        media = self.response.headers.get("content-type", PROBLEM_JSON)
        response = Response(self.response.content, status_code=self.response.status_code, media_type=media)
        if "retry-after" in self.response.headers:  # a service's 429 or 503 says when to try again
            response.headers["Retry-After"] = self.response.headers["retry-after"]
        return response
