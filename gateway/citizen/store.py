"""The citizen form's rows in the gateway's Open311 table (gateway/tables.py `open311_requests`): a case
filed through the form is an Open311 service request of client `citizen_form`, under the centre's area
code as its jurisdiction, with its status page's token (hashed), its submission and its rating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gateway.tables import open311_requests
from hub.runtime import ServiceRuntime

CLIENT = "citizen_form"
t = open311_requests


@dataclass(frozen=True)
class Filed:
    case_no: str
    service_code: str
    centre_code: str
    anonymous: bool
    requested_at: datetime
    rated_at: datetime | None
    satisfaction: str | None


def _filed(row: Any) -> Filed:
    return Filed(
        case_no=row.service_request_id,
        service_code=row.service_code,
        centre_code=row.jurisdiction_id or "",
        anonymous=bool(row.anonymous),
        requested_at=row.requested_at,
        rated_at=row.rated_at,
        satisfaction=row.satisfaction,
    )


async def by_form(rt: ServiceRuntime, key: str) -> Filed | None:
    async with rt.db.sessions() as session:
        row = (await session.execute(select(t).where(t.c.form_key == key))).first()
    return _filed(row) if row else None


async def by_token(rt: ServiceRuntime, token_hash: str) -> Filed | None:
    async with rt.db.sessions() as session:
        row = (await session.execute(select(t).where(t.c.status_token_hash == token_hash))).first()
    return _filed(row) if row else None


async def record(
    rt: ServiceRuntime,
    *,
    case_no: str,
    service_code: str,
    centre_code: str,
    key: str,
    token_hash: str,
    anonymous: bool,
    at: datetime,
) -> None:
    """Record a filed case; a retried submission (same form, same case) finds its row there already."""
    try:
        async with rt.db.transaction() as session:
            await session.execute(
                t.insert().values(
                    service_request_id=case_no,
                    service_code=service_code,
                    client_id=CLIENT,
                    jurisdiction_id=centre_code,
                    requested_at=at,
                    status_token_hash=token_hash,
                    form_key=key,
                    anonymous=anonymous,
                )
            )
    except IntegrityError:
        pass  # the same submission again (or racing itself): one row, one token


async def claim_rating(rt: ServiceRuntime, case_no: str, satisfaction: str, at: datetime) -> bool:
    """Take the one rating the status page allows (False: it was given already)."""
    async with rt.db.transaction() as session:
        taken = await session.execute(
            update(t)
            .where(t.c.service_request_id == case_no, t.c.rated_at.is_(None))
            .values(rated_at=at, satisfaction=satisfaction)
        )
    return bool(getattr(taken, "rowcount", 0))


async def release_rating(rt: ServiceRuntime, case_no: str) -> None:
    """The rating did not reach referral: the page may take it again."""
    async with rt.db.transaction() as session:
        await session.execute(
            update(t).where(t.c.service_request_id == case_no).values(rated_at=None, satisfaction=None)
        )
