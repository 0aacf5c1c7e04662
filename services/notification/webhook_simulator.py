"""Loopback receiver of department webhooks, for tests: verifies every signature like a real one.

- ``POST /hooks/{token}``: hub style. 401 for a bad or stale signature (X-Hub-Timestamp more than
  5 minutes off), 404 for an unknown token; a repeated ``X-Hub-Delivery`` is acknowledged and
  counted as a duplicate, not stored again (the receiver side of exactly-once).
- ``POST /robot/send?access_token=…&timestamp=…&sign=…``: DingTalk-robot style; answers
  ``{"errcode": 0, "errmsg": "ok"}`` or errcode 310000 for a bad signature or stale timestamp.
- ``GET /_sim/received`` (accepted messages, duplicates and refusals), ``DELETE /_sim/received``,
  ``POST /_sim/fail?count=N`` (next N requests answer 503).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.notification.domain.signing import SignatureError, verify_dingtalk_sign, verify_hub_signature


def create_app(
    secrets: Mapping[str, str],
    *,
    algorithm: str = "sha256",
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """`secrets`: hook token (path segment, or the robot's access_token) → signing secret."""
    now = clock or (lambda: datetime.now(UTC))
    app = FastAPI(title="Department webhook receiver simulator")
    received: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    seen: set[str] = set()
    state = {"fail_next": 0, "duplicates": 0}

    def outage() -> JSONResponse | None:
        if state["fail_next"] > 0:
            state["fail_next"] -= 1
            return JSONResponse({"errcode": -1, "errmsg": "simulated outage"}, status_code=503)
        return None

    @app.post("/hooks/{token}")
    async def hub_hook(token: str, request: Request) -> JSONResponse:
        if (down := outage()) is not None:
            return down
        secret = secrets.get(token)
        if secret is None:
            return JSONResponse({"errcode": 404, "errmsg": "unknown hook"}, status_code=404)
        body = await request.body()
        try:
            verify_hub_signature(
                secret,
                request.headers.get("X-Hub-Timestamp", ""),
                body,
                request.headers.get("X-Hub-Signature", ""),
                now(),
                algorithm=algorithm,
            )
        except SignatureError as exc:
            refused.append({"token": token, "reason": exc.reason})
            return JSONResponse({"errcode": 401, "errmsg": exc.reason}, status_code=401)
        delivery = request.headers.get("X-Hub-Delivery", "")
        if delivery and delivery in seen:
            state["duplicates"] += 1
            return JSONResponse({"errcode": 0, "errmsg": "duplicate"})
        seen.add(delivery)
        received.append({"token": token, "style": "hub", "delivery": delivery, "body": json.loads(body)})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.post("/robot/send")
    async def robot(
        request: Request, access_token: str = "", timestamp: str = "", sign: str = ""
    ) -> JSONResponse:
        if (down := outage()) is not None:
            return down
        secret = secrets.get(access_token)
        if secret is None:
            return JSONResponse({"errcode": 300001, "errmsg": "token is not exist"})
        try:
            verify_dingtalk_sign(secret, timestamp, sign, now())
        except SignatureError as exc:
            refused.append({"token": access_token, "reason": exc.reason})
            return JSONResponse({"errcode": 310000, "errmsg": f"sign not match: {exc.reason}"})
        body = json.loads(await request.body())
        received.append({"token": access_token, "style": "dingtalk", "delivery": None, "body": body})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.get("/_sim/received")
    async def list_received() -> dict[str, Any]:
        return {
            "count": len(received),
            "items": received,
            "duplicates": state["duplicates"],
            "refused": refused,
        }

    @app.delete("/_sim/received")
    async def clear() -> dict[str, int]:
        received.clear()
        refused.clear()
        seen.clear()
        state["duplicates"] = 0
        return {"count": 0}

    @app.post("/_sim/fail")
    async def fail_next(count: int = 1) -> dict[str, int]:
        state["fail_next"] = count
        return {"fail_next": count}

    return app
