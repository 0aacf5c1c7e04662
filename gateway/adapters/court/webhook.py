"""What the court pushes to the hub: pre-litigation mediation it delegates (诉前委派调解), signed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.adapters import inbound
from gateway.adapters.court import mapping

router = APIRouter(prefix=f"/adapters/{mapping.SYSTEM}", tags=["adapters"])

SIGNED = {
    "description": "Signed push: `X-Hub-Timestamp` (unix seconds) and `X-Hub-Signature: sha256=<hex HMAC of "
    'timestamp + "." + body>`; older than 5 minutes or replayed → 401.'
}


@router.post(
    "/mediation-requests",
    status_code=201,
    summary="A court delegates pre-litigation mediation (诉前委派调解): becomes a case, once",
    openapi_extra=SIGNED,
)
async def post_mediation_request(request: Request, response: Response) -> dict[str, Any]:
    return await inbound.handle_registration(
        request,
        response,
        mapping.SYSTEM,
        mapping.MediationRequest,
        mapping.to_case,
        lambda delegated: delegated.ah,
        mapping.REVERSE_FIELDS,
    )
