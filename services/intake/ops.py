"""Intake's read-only signal feed for weak-signal early warning (弱信号, issue 7).

`GET /internal/v1/ops/signals?since=` — one row per case registered since then: category, street and
grid codes, and the reporter key (hub.crypto.reporter_key: a keyed hash of the keyed phone hash, never
the phone, name or ID number, and not matchable against the stored hash) that `case.registered.v1`
carries too. The gateway detects bursts and repeat reporters from it (gateway/ops/signals.py); the
referral service turns them into tasks as cases arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select

from hub.crypto import reporter_key
from hub.runtime import ServiceRuntime
from services.intake.actors import CurrentActor
from services.intake.scoping import cases_visible
from services.intake.tables import cases

router = APIRouter(prefix="/internal/v1/ops", tags=["ops"])


class SignalOut(BaseModel):
    case_no: str
    registered_at: datetime
    category: str
    street_code: str | None
    grid_code: str | None
    reporter_key: str | None  # None for anonymous reports


class SignalsOut(BaseModel):
    items: list[SignalOut]


@router.get("/signals", response_model=SignalsOut, summary="Cases since a time, for early warning")
async def get_signals(
    request: Request,
    actor: CurrentActor,
    since: AwareDatetime,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 20_000,
) -> SignalsOut:
    rt: ServiceRuntime = request.app.state.runtime
    query = (
        select(cases.c.case_no, cases.c.registered_at, cases.c.category, cases.c.street_code)
        .add_columns(cases.c.grid_code, cases.c.reporter_phone_hash)
        .where(cases.c.registered_at >= since, cases_visible(actor))
        .order_by(cases.c.registered_at)
        .limit(limit)
    )
    async with rt.db.sessions() as session:
        rows = (await session.execute(query)).all()
    return SignalsOut(
        items=[
            SignalOut(
                case_no=r.case_no,
                registered_at=r.registered_at,
                category=r.category,
                street_code=r.street_code,
                grid_code=r.grid_code,
                reporter_key=reporter_key(rt.settings.hash_key, r.reporter_phone_hash),
            )
            for r in rows
        ]
    )
