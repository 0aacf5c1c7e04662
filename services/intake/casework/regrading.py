"""Grading a stored case again (after a category correction or a new note): its structured facts,
its words and notes read again, the repeat count under its category; and the split of its colour
reasons into the rules' and a supervisor's override."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.assessment import Assessor, Candidate
from services.intake.matching import CANDIDATES_MAX, same_source
from services.intake.tables import case_notes, cases

REPEAT_WINDOW = timedelta(days=30)


def rule_reasons(reasons: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [r for r in reasons or [] if not str(r.get("rule_id", "")).startswith("override.")]


def override_reasons(reasons: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [r for r in reasons or [] if str(r.get("rule_id", "")).startswith("override.")]


async def grade_again(
    session: AsyncSession, assessor: Assessor, row: Any, *, category: str, repeat_count: int
) -> Any:
    """The rules' assessment of a stored case: its structured facts, and its title, description and
    notes read again."""
    return assessor.grade_stored(
        category=category,
        people_involved=row.people_involved,
        amount_yuan=row.amount_yuan,
        flags=row.flags or [],
        repeat_count=repeat_count,
        request_type=row.request_type,
        channel=row.channel,
        urgent=bool(row.urgent),
        title=row.title,
        description=row.description,
        notes=await notes_of(session, row.case_no),
        # The key person the case was flagged with at registration (重点人员) keeps counting.
        key_person_colour=row.key_person_colour,
    )


async def notes_of(session: AsyncSession, case_no: str) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(case_notes.c.note_no, case_notes.c.text)
        .where(case_notes.c.case_no == case_no)
        .order_by(case_notes.c.note_no)
    )
    return [(r.note_no, r.text) for r in rows]


async def count_repeats(session: AsyncSession, assessor: Assessor, row: Any, category: str) -> int:
    """Earlier reports of the same matter (now: this category) in the 30 days before this case."""
    registered_at = row.registered_at
    earlier = (
        await session.execute(
            select(
                cases.c.case_no,
                cases.c.reporter_phone_hash,
                cases.c.address_key,
                cases.c.category,
                cases.c.registered_at,
            )
            .where(
                same_source(row.address_key, row.reporter_phone_hash),
                cases.c.category == category,
                cases.c.case_no != row.case_no,
                cases.c.registered_at >= registered_at - REPEAT_WINDOW,
                cases.c.registered_at <= registered_at,
            )
            .order_by(cases.c.registered_at.desc())
            .limit(CANDIDATES_MAX)
        )
    ).all()
    this = Candidate(row.case_no, row.reporter_phone_hash, row.address_key, category, registered_at, "")
    return assessor.repeat_count(
        this,
        [
            Candidate(r.case_no, r.reporter_phone_hash, r.address_key, r.category, r.registered_at, "")
            for r in earlier
        ],
    )
