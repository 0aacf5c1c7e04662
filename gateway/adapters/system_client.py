"""The shape every adapter's outbound client shares: build the system's signed envelope for one
update, POST it, and read the system's answer into an `Outcome`.

What is common is the transport and the failure rules: a network error or a 5xx/408/429 is worth
another try, another HTTP status is not, and an answer that is not the system's envelope is retried
(a proxy's page, a half-deployed gateway). What each system fills in is its own: the envelope and
its signature (`envelope`), how its answer's result code is read (`code_of`) and what a code means
(`outcome`: success, duplicate request id, retryable codes). Credentials come from the system's
settings (`HUB_<SYSTEM>_URL`, `_APP_KEY`, `_APP_SECRET`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import httpx

from gateway.adapters.common import Delivery, Outcome, compact_json
from gateway.settings import GatewaySettings

JSON_UTF8 = {"Content-Type": "application/json;charset=UTF-8"}


class EnvelopeClient:
    system: str
    label: ClassVar[str]  # how an outcome's detail names the system (their own short name)
    path: ClassVar[str]  # where updates are posted
    # True: the body is sent as compact JSON text (Chinese as is), the way the system signs it;
    # False: as httpx encodes JSON.
    compact_body: ClassVar[bool] = False

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, app_key: str, secret: str, timeout: float
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.secret = secret
        self.timeout = timeout

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, settings: GatewaySettings) -> Self:
        return cls(
            http,
            getattr(settings, f"{cls.system}_url") or "",
            getattr(settings, f"{cls.system}_app_key"),
            getattr(settings, f"{cls.system}_app_secret"),
            settings.adapter_timeout_s,
        )

    def envelope(self, delivery: Delivery) -> dict[str, Any]:
        """The signed request for one update, in the system's own fields."""
        raise NotImplementedError

    def code_of(self, doc: Any) -> Any:
        """The result code of an answer; raises ValueError, KeyError, TypeError or AttributeError
        when the answer is not the system's envelope."""
        raise NotImplementedError

    def outcome(self, doc: dict[str, Any], code: Any) -> Outcome:
        """What the system's answer (a well-formed envelope) means."""
        raise NotImplementedError

    async def deliver(self, delivery: Delivery) -> Outcome:
        body = self.envelope(delivery)
        try:
            if self.compact_body:
                response = await self.http.post(
                    self.base_url + self.path,
                    content=compact_json(body).encode(),
                    headers=JSON_UTF8,
                    timeout=self.timeout,
                )
            else:
                response = await self.http.post(self.base_url + self.path, json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return Outcome(ok=False, retryable=True, detail=f"{self.label} unreachable: {type(exc).__name__}")
        return self.interpret(response)

    def interpret(self, response: httpx.Response) -> Outcome:
        if response.status_code != 200:
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            return Outcome(ok=False, retryable=retryable, detail=f"{self.label} HTTP {response.status_code}")
        try:
            doc = response.json()
            code = self.code_of(doc)
        except (ValueError, KeyError, TypeError, AttributeError):
            return Outcome(
                ok=False, retryable=True, detail=f"{self.label} answered something that is not its envelope"
            )
        return self.outcome(doc, code)
