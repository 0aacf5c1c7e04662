"""The one place intake turns an :class:`~services.intake.actors.Actor` into the SQL condition every
query on cases carries (issue 14 "Scoping everywhere"; docs/decisions/0013-centre-scoping.md).

The rule is the kit's (hub/scope.py), the same referral applies: a named person with a centre sees
the cases held by a centre in that centre's subtree — the holding centre is copied from referral's
events (casework/centre_projection.py) — and, until referral has placed a case, those whose
location (``street_code``) lies there; a case with neither is the district's. No centre (API clients,
adapters, the system): the whole hub. A department sees cases through its referrals in referral,
none here. Outside the scope a case is not found (404).

Every read and every casework operation loads its case through :func:`visible_case` or puts
:func:`cases_visible` into its query (tests/unit/intake/test_scoping_structure.py checks).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.scope_sql import case_condition, code_condition
from services.intake.actors import Actor
from services.intake.tables import cases, key_persons


def cases_visible(actor: Actor) -> ColumnElement[bool]:
    if actor.role == "department":
        return false()
    return case_condition(actor.centre, holding=cases.c.centre_id, location=cases.c.street_code)


async def visible_case(session: AsyncSession, case_no: str, actor: Actor, *, lock: bool = False) -> Any:
    """The case row if the actor may see it (locked when asked), else None."""
    query = select(cases).where(cases.c.case_no == case_no, cases_visible(actor))
    return (await session.execute(query.with_for_update() if lock else query)).first()


def key_persons_visible(actor: Actor) -> ColumnElement[bool]:
    """The key persons registry (重点人员): the entries of the centres in the person's subtree, by the
    same rule as cases; departments see none."""
    if actor.role == "department":
        return false()
    return code_condition(actor.centre, key_persons.c.centre_id)
