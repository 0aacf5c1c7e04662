"""What 12309 pushes to the hub: complaints (控告/申诉), reports and public-interest clues, signed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.adapters import inbound
from gateway.adapters.procuratorate12309 import mapping

router = APIRouter(prefix=f"/adapters/{mapping.SYSTEM}", tags=["adapters"])

SIGNED = {
    "description": "Signed push: `X-Hub-Timestamp` (unix seconds) and `X-Hub-Signature: sha256=<hex HMAC of "
    'timestamp + "." + body>`; older than 5 minutes or replayed → 401.'
}


@router.post(
    "/submissions",
    status_code=201,
    summary="A 12309 complaint or public-interest clue: becomes a case, once",
    openapi_extra=SIGNED,
)
async def post_submission(request: Request, response: Response) -> dict[str, Any]:
    return await inbound.handle_registration(
        request,
        response,
        mapping.SYSTEM,
        mapping.Submission,
        mapping.to_case,
        lambda submission: submission.clueNo,
        mapping.REVERSE_FIELDS,
    )
