"""What the 12345 platform pushes to the hub: work orders, urges (催办), callback results (回访) and
its answers to our extension requests (延期申请审核).

Each push is signed (X-Hub-Timestamp, X-Hub-Signature) and checked before anything else; the body
is in the platform's own style (mapping.py) and the answer is in ours (problem details on refusal).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gateway.adapters import inbound
from gateway.adapters.common import parse_local_time
from gateway.adapters.hotline12345 import mapping
from gateway.adapters.security import released_on_failure, verify_request
from gateway.adapters.webhooks import SIGNED, add_registration, webhook_router
from gateway.upstream import Upstream
from hub.contracts.gateway import HotlineExtensionAnsweredV1
from hub.runtime import ServiceRuntime

router = webhook_router(mapping.SYSTEM)
add_registration(
    router,
    "/work-orders",
    name="post_work_order",
    summary="A 12345 work order (工单) pushed to the hub: becomes a case, once",
    system=mapping.SYSTEM,
    model=mapping.WorkOrder,
    to_case=mapping.to_case,
    ref_of=lambda order: order.orderNo,
    reverse_fields=mapping.REVERSE_FIELDS,
)


def _rt(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


def _upstream(request: Request) -> Upstream:
    up: Upstream = request.app.state.upstream
    return up


@router.post("/urges", summary="催办 on a 12345 work order", openapi_extra=SIGNED)
async def post_urge(request: Request) -> dict[str, Any]:
    signed = await verify_request(request, mapping.SYSTEM)
    rt = _rt(request)
    async with released_on_failure(rt.db, signed):
        urge = inbound.parse_payload(mapping.Urge, signed.body)
        case_no = await inbound.known_case(rt, mapping.SYSTEM, urge.orderNo)
        # The urge's words are read like the work order's (a new threat raises the colour). The note
        # goes first and is idempotent on the urge id: a push retried after a crash between the two
        # adds it once, and an urge already recorded is not read again.
        if urge.urgeContent and not await inbound.seen_inbound(rt, mapping.SYSTEM, "urge", urge.urgeId):
            await inbound.add_note(
                _upstream(request),
                mapping.SYSTEM,
                case_no,
                urge.urgeContent,
                key=f"{mapping.SYSTEM}:urge:{urge.urgeId}",
                their_field="urgeContent",
            )
        new = await inbound.record_urge(
            rt, mapping.SYSTEM, case_no, urge.urgeId, urge.orderNo, mapping.urged_at(urge)
        )
    return {"case_no": case_no, "accepted": True, "duplicate": not new}


@router.post("/ratings", summary="The 12345 callback result (回访) for a work order", openapi_extra=SIGNED)
async def post_rating(request: Request) -> dict[str, Any]:
    signed = await verify_request(request, mapping.SYSTEM)
    rt = _rt(request)
    async with released_on_failure(rt.db, signed):
        rating = inbound.parse_payload(mapping.Rating, signed.body)
        case_no = await inbound.known_case(rt, mapping.SYSTEM, rating.orderNo)
        how = await inbound.record_rating(
            rt,
            _upstream(request),
            mapping.SYSTEM,
            case_no,
            rating.visitId,
            mapping.satisfaction_of(rating),
            rating.visitContent,
        )
    return {
        "case_no": case_no,
        "satisfaction": mapping.satisfaction_of(rating),
        "accepted": True,
        "duplicate": how == "duplicate",
        "delivered_as": how,
    }


@router.post(
    "/extension-results",
    summary="12345's answer to our extension request (延期申请审核): approved with a new limitTime, or denied",
    openapi_extra=SIGNED,
)
async def post_extension_result(request: Request) -> dict[str, Any]:
    """Once per `delayId` (their number for the application): approved moves the case's `due_by` and
    the lead's handling deadline (referral), denied is recorded; both are on the case timeline."""
    signed = await verify_request(request, mapping.SYSTEM)
    rt = _rt(request)
    async with released_on_failure(rt.db, signed):
        result = inbound.parse_payload(mapping.ExtensionResult, signed.body)
        case_no = await inbound.known_case(rt, mapping.SYSTEM, result.orderNo)
        approved, limit = mapping.extension_answer(result)
        event = HotlineExtensionAnsweredV1(
            case_no=case_no,
            work_order_no=result.orderNo,
            delay_id=result.delayId,
            approved=approved,
            limit_time=limit,
            source=mapping.LIMIT_SOURCE,
            opinion=result.auditOpinion,
            answered_at=parse_local_time(result.auditTime),
        )
        new = await inbound.record_once(rt, mapping.SYSTEM, "delay_audit", result.delayId, case_no, event)
    return {
        "case_no": case_no,
        "approved": approved,
        "limit_time": limit,
        "accepted": True,
        "duplicate": not new,
    }
