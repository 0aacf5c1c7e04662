"""Every row intake and referral hold about one case, read straight from their databases: what a test
compares before and after a refused request to show that nothing was written."""

from __future__ import annotations

from sqlalchemy import select

from services.intake import tables as intake_tables
from services.referral import tables as referral_tables
from tests.kit.inprocess import InProcessHub
from tests.kit.quiescence import wait_quiescent


async def written_about(hub: InProcessHub, case_no: str) -> dict[str, list[str]]:
    """Every row intake and referral hold about one case (its own tables, its referrals' rows and its
    audit entries), for checking that a refused form wrote nothing. Taken with the hub at rest."""
    await wait_quiescent(hub.settings)
    rows: dict[str, list[str]] = {}
    for service, metadata in (("intake", intake_tables.metadata), ("referral", referral_tables.metadata)):
        async with hub.runtime(service).db.sessions() as session:
            referral_ids = (
                select(referral_tables.referrals.c.id).where(referral_tables.referrals.c.case_no == case_no)
                if service == "referral"
                else None
            )
            for table in metadata.sorted_tables:
                if "case_no" in table.c:
                    query = select(table).where(table.c.case_no == case_no)
                elif "referral_id" in table.c and referral_ids is not None:
                    query = select(table).where(table.c.referral_id.in_(referral_ids))
                else:
                    continue
                found = (await session.execute(query)).all()
                rows[f"{service}.{table.name}"] = sorted(repr(tuple(r)) for r in found)
    return rows
