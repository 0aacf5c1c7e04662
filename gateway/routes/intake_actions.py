"""Public endpoints for 研判 after registration, forwarded to intake (API.md "Cases").

Intake validates, decides and audits; the gateway passes the body through and hands back intake's
answer (problem details included) unchanged. The actor travels in `X-Hub-Actor-Role` and
`X-Hub-Actor-Id`: forwarded as received until the auth work sets them from the caller's token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from gateway.upstream import Upstream

router = APIRouter(prefix="/api/v1", tags=["cases"])

ACTOR_HEADERS = ("x-hub-actor-role", "x-hub-actor-id")


def _actor_headers(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in ACTOR_HEADERS if name in request.headers}


async def _forward(
    request: Request, method: str, path: str, body: Any = None, *, no_store: bool = False
) -> Response:
    upstream: Upstream = request.app.state.upstream
    headers = _actor_headers(request)
    if "idempotency-key" in request.headers:
        headers["Idempotency-Key"] = request.headers["idempotency-key"]
    answer = await upstream.request("intake", method, path, json=body, headers=headers)
    response = Response(
        answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type")
    )
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/cases/{case_no}/assessment", summary="Supervisor override of the risk colour (audited)")
async def post_assessment(
    case_no: str,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="{colour, reason, response_level?}")],
) -> Response:
    return await _forward(request, "POST", f"/internal/v1/cases/{case_no}/assessment", body)


@router.post("/cases/{case_no}/category", summary="Dispatcher corrects the category (audited, re-graded)")
async def post_category(
    case_no: str,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="{category, reason}")],
) -> Response:
    return await _forward(request, "POST", f"/internal/v1/cases/{case_no}/category", body)


@router.post("/cases/{case_no}/merge", summary="Merge a duplicate into another case (audited)")
async def post_merge(
    case_no: str,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="{into, reason?}")],
) -> Response:
    return await _forward(request, "POST", f"/internal/v1/cases/{case_no}/merge", body)


@router.post("/cases/{case_no}/unlink", summary="Not a duplicate after all: clear the link (audited)")
async def post_unlink(
    case_no: str,
    request: Request,
    body: Annotated[dict[str, Any] | None, Body(description="{reason?}")] = None,
) -> Response:
    return await _forward(request, "POST", f"/internal/v1/cases/{case_no}/unlink", body)


@router.post(
    "/cases/{case_no}/notes",
    summary="Add text to a case (a staff note): graded again with it read; may raise the colour (audited)",
)
async def post_note(
    case_no: str,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="{text}; Idempotency-Key header honoured")],
) -> Response:
    return await _forward(request, "POST", f"/internal/v1/cases/{case_no}/notes", body)


@router.get(
    "/cases/{case_no}/personal-data", summary="The reporter's personal data, decrypted (centre; audited)"
)
async def get_personal_data(case_no: str, request: Request) -> Response:
    return await _forward(request, "GET", f"/internal/v1/cases/{case_no}/personal-data", no_store=True)
