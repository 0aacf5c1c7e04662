"""Calls from the gateway to the services behind it (httpx, traced, problem details passed through).

Every call names its principal — the authenticated person or client (`gateway.principals.principal_of`),
an adapter's system for a webhook, or the gateway itself for its own reads — and carries an internal
credential minted for that principal and that service alone (hub/credentials.py): the services accept
nothing else. No `X-Hub-Actor-*` header is ever forwarded."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import Response

from hub.credentials import CredentialMinter, Principal
from hub.problems import PROBLEM_JSON, Problem

# Back-off between connection attempts to a service that is not listening (about 4 s in all).
CONNECT_RETRY_DELAYS_S = (0.1, 0.25, 0.5, 1.0, 2.0)


def _unavailable(service: str, exc: httpx.HTTPError) -> Problem:
    # The exception's class (ConnectError, ReadTimeout, PoolTimeout) tells ops where to look.
    return Problem(
        503,
        "服务暂不可用",
        f"{service} 服务暂时无法访问（{type(exc).__name__}），请稍后重试",
        type_="service-unavailable",
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
                return await self.client.request(
                    method, self.urls[service] + path, json=json, headers=sent, params=params, timeout=30
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the service (it is starting or restarting): trying again is safe even
                # for a POST, and a restart of a few seconds is not an outage for the caller.
                if delay is None:
                    raise _unavailable(service, exc) from None
                await asyncio.sleep(delay)
            except httpx.HTTPError as exc:
                raise _unavailable(service, exc) from None
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
        return Response(self.response.content, status_code=self.response.status_code, media_type=media)
