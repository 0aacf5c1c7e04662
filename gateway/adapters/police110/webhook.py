"""What police 110 pushes to the hub: dispute incidents (警情联动), signed, in its own fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.adapters import inbound
from gateway.adapters.police110 import mapping

router = APIRouter(prefix=f"/adapters/{mapping.SYSTEM}", tags=["adapters"])

SIGNED = {
    "description": "Signed push: `X-Hub-Timestamp` (unix seconds) and `X-Hub-Signature: sha256=<hex HMAC of "
    'timestamp + "." + body>`; older than 5 minutes or replayed → 401.'
}


@router.post(
    "/incidents",
    status_code=201,
    summary="A dispute incident passed by police 110 (警情): becomes a case, once",
    openapi_extra=SIGNED,
)
async def post_incident(request: Request, response: Response) -> dict[str, Any]:
    return await inbound.handle_registration(
        request,
        response,
        mapping.SYSTEM,
        mapping.Incident,
        mapping.to_case,
        lambda incident: incident.jjdbh,
        mapping.REVERSE_FIELDS,
    )
