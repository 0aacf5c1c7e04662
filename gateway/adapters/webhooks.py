"""The shape of every adapter's inbound side: a router under `/adapters/<system>` whose routes take
the system's signed pushes, and the one route every system has — a push of something that becomes a
case (12345's work order, a 110 incident, a court's delegated mediation, a 12309 clue) — built from
what the system's mapping says: its payload model, how it becomes a case, its own number for it and
which of its fields a problem names. Systems with more to say (12345's urges, ratings, extension
answers) add their routes to the same router.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from gateway.adapters import inbound

PayloadT = TypeVar("PayloadT", bound=BaseModel)

SIGNED = {
    "description": "Signed push: `X-Hub-Timestamp` (unix seconds) and `X-Hub-Signature: sha256=<hex HMAC of "
    'timestamp + "." + body>`; older than 5 minutes or replayed → 401.'
}


def webhook_router(system: str) -> APIRouter:
    return APIRouter(prefix=f"/adapters/{system}", tags=["adapters"])


def add_registration(
    router: APIRouter,
    path: str,
    *,
    name: str,
    summary: str,
    system: str,
    model: type[PayloadT],
    to_case: Callable[[PayloadT], dict[str, Any]],
    ref_of: Callable[[PayloadT], str],
    reverse_fields: Mapping[str, str],
) -> None:
    """`POST <path>`: a signed push that becomes a case, once (201 new, 200 the same push again)."""

    async def post_registration(request: Request, response: Response) -> dict[str, Any]:
        return await inbound.handle_registration(
            request, response, system, model, to_case, ref_of, reverse_fields
        )

    router.add_api_route(
        path,
        post_registration,
        methods=["POST"],
        name=name,
        status_code=201,
        summary=summary,
        openapi_extra=SIGNED,
    )
