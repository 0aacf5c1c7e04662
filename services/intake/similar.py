"""Similar open cases for a draft registration (受理 at the window): before the person submits, the
console asks which open cases may be the same matter, by the rule registration itself applies when it
marks a suspected duplicate (services/intake/domain/duplicates.py: same category, same reporter or
same address, registered within 7 days, similar text). Read-only: nothing is written or audited, and
only cases the caller may see are considered (services/intake/scoping.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.contracts.http.intake import SimilarIn
from hub.crypto import keyed_hash
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor
from services.intake.assessment import Assessor, Candidate
from services.intake.domain.duplicates import (
    DEFAULT_SIMILARITY_THRESHOLD,
    DUPLICATE_WINDOW,
    same_matter,
    text_similarity,
)
from services.intake.domain.identifiers import normalise_cn_phone
from services.intake.matching import CANDIDATES_MAX, same_source
from services.intake.scoping import cases_visible
from services.intake.tables import cases

# A case in one of these has ended: a new report of it is a new matter (or a reopening), not a duplicate.
ENDED = ("closed", "merged", "withdrawn", "returned_to_channel")
MAX_SIMILAR = 5


@dataclass(frozen=True)
class Similar:
    case_no: str
    title: str
    status: str
    colour: str
    category: str
    registered_at: datetime
    similarity: float
    same_reporter: bool
    same_address: bool


def _phone_hash(hash_key: str, phone: str | None) -> str | None:
    if not phone:
        return None
    try:
        return keyed_hash(hash_key, normalise_cn_phone(phone))
    except ValueError:
        return None  # not a number yet (the form says so): compare by address only


async def similar_cases(
    rt: ServiceRuntime[Any], assessor: Assessor, draft: SimilarIn, actor: Actor
) -> tuple[str, list[Similar]]:
    """(the category compared, the open cases most like the draft, most similar first)."""
    now = datetime.now(UTC)
    category = (
        draft.category.value if draft.category else assessor.classify(draft.title, draft.description)[0]
    )
    phone_hash = _phone_hash(rt.settings.hash_key, draft.phone)
    address_key = assessor.address_key(draft.address) if draft.address else ""
    if not address_key and not phone_hash:
        return category, []
    async with rt.db.sessions() as session:
        rows = (
            await session.execute(
                select(
                    cases.c.case_no,
                    cases.c.title,
                    cases.c.description,
                    cases.c.status,
                    cases.c.colour,
                    cases.c.category,
                    cases.c.registered_at,
                    cases.c.address_key,
                    cases.c.reporter_phone_hash,
                )
                .where(
                    same_source(address_key, phone_hash)
                    if address_key
                    else cases.c.reporter_phone_hash == phone_hash,
                    cases.c.category == category,
                    cases.c.registered_at >= now - DUPLICATE_WINDOW - timedelta(minutes=5),
                    cases.c.status.not_in(ENDED),
                    cases_visible(actor),
                )
                .order_by(cases.c.registered_at.desc())
                .limit(CANDIDATES_MAX)
            )
        ).all()
    text = f"{draft.title} {draft.description}"
    new = Candidate("", phone_hash, address_key, category, now, text).summary()
    found: list[Similar] = []
    for r in rows:
        earlier = Candidate(
            r.case_no,
            r.reporter_phone_hash,
            r.address_key,
            r.category,
            r.registered_at,
            f"{r.title} {r.description}",
        ).summary()
        same_reporter, same_address = same_matter(new, earlier)
        if not (same_reporter or same_address):
            continue
        similarity = text_similarity(new.text, earlier.text)
        if similarity < DEFAULT_SIMILARITY_THRESHOLD:
            continue
        found.append(
            Similar(
                case_no=r.case_no,
                title=r.title,
                status=r.status,
                colour=r.colour,
                category=r.category,
                registered_at=r.registered_at,
                similarity=round(similarity, 3),
                same_reporter=same_reporter,
                same_address=same_address,
            )
        )
    found.sort(key=lambda s: (-s.similarity, s.registered_at))
    return category, found[:MAX_SIMILAR]
