"""Registering a case (受理): one transaction writes the case and its case.registered.v1 event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from hub.contracts.intake import CaseRegisteredV1, ReporterContact, reporter_phone_aad
from hub.contracts.vocabulary import Category, Colour, ResponseLevel
from hub.crypto import keyed_hash, reporter_key
from hub.runtime import ServiceRuntime
from hub.tracing import current_ids
from services.intake.actors import DEFAULT_ROLE, Actor
from services.intake.assessment import Assessor, Candidate
from services.intake.audit_trail import record
from services.intake.case_columns import case_columns, phone_hash_of, seal_reporter
from services.intake.domain.model import CaseIn
from services.intake.idempotency import body_digest, check_same_body, scoped_key
from services.intake.key_person_match import match_key_person
from services.intake.matching import CANDIDATES_MAX, same_source
from services.intake.numbering import next_case_no
from services.intake.tables import cases

DUPLICATE_WINDOW = timedelta(days=7)
REPEAT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Registered:
    created: bool
    row: Any


async def find_existing(session: Any, case_in: CaseIn, key: str | None, digest: str | None = None) -> Any:
    """The case this registration already made: the same channel + source_ref (whatever the body:
    API.md), else the same caller's same Idempotency-Key (`key` scoped; 422 if the body differs).
    One statement for both (each is unique, so at most two rows)."""
    wanted = []
    if case_in.source_ref:
        wanted.append(
            and_(cases.c.channel == case_in.channel.value, cases.c.source_ref == case_in.source_ref)
        )
    if key:
        wanted.append(cases.c.idempotency_key == key)
    if not wanted:
        return None
    rows = (await session.execute(select(cases).where(or_(*wanted)))).all()
    source = (case_in.channel.value, case_in.source_ref)
    for row in rows:
        if case_in.source_ref and (row.channel, row.source_ref) == source:
            return row
    row = rows[0] if rows else None  # not the work order's: the key's
    if row is not None and digest is not None:
        check_same_body(row.idempotency_body, digest, "事项登记")
    return row


# Work done in the registration's own transaction once the case row is written (a grid report's photos
# and point): given the session and the new case number, it returns what to add to the audit entry.
WithCase = Callable[[Any, str], Awaitable[dict[str, Any]]]


async def register_case(
    rt: ServiceRuntime,
    assessor: Assessor,
    case_in: CaseIn,
    idempotency_key: str | None,
    actor: Actor | None = None,
    with_case: WithCase | None = None,
) -> Registered:
    actor = actor or Actor(DEFAULT_ROLE, kind="system")
    key = scoped_key(actor, idempotency_key)
    digest = body_digest(case_in.model_dump(mode="json")) if key else None
    try:
        return await _register(rt, assessor, case_in, key, digest, actor, with_case)
    except IntegrityError:
        # Lost a race with the same work order or key on another request: return the winner's case.
        async with rt.db.sessions() as session:
            existing = await find_existing(session, case_in, key, digest)
        if existing is None:
            raise
        return Registered(False, existing)


async def _register(
    rt: ServiceRuntime,
    assessor: Assessor,
    case_in: CaseIn,
    idempotency_key: str | None,
    digest: str | None,
    actor: Actor,
    with_case: WithCase | None = None,
) -> Registered:
    now = datetime.now(UTC)
    settings = rt.settings
    reporter = case_in.reporter
    phone_hash = phone_hash_of(settings.hash_key, case_in)
    address_key = assessor.address_key(case_in.location.address)
    # A key person (重点人员) is matched by who reports only when the report is not anonymous.
    known = not reporter.anonymous
    id_hash = keyed_hash(settings.hash_key, reporter.id_number) if known and reporter.id_number else None
    async with rt.db.transaction() as session:
        existing = await find_existing(session, case_in, idempotency_key, digest)
        if existing is not None:
            return Registered(False, existing)

        category, words = (
            (case_in.category.value, [])
            if case_in.category
            else assessor.classify(case_in.title, case_in.description)
        )
        recent = (
            await session.execute(
                select(
                    cases.c.case_no,
                    cases.c.reporter_phone_hash,
                    cases.c.address_key,
                    cases.c.category,
                    cases.c.registered_at,
                    cases.c.title,
                    cases.c.description,
                    cases.c.duplicate_of,
                    cases.c.status,
                    cases.c.merged_into,
                )
                .where(
                    same_source(address_key, phone_hash),
                    cases.c.registered_at >= now - REPEAT_WINDOW,
                    cases.c.category == category,
                )
                .order_by(cases.c.registered_at.desc())
                .limit(CANDIDATES_MAX)
            )
        ).all()
        candidates = [
            Candidate(
                case_no=r.case_no,
                phone_hash=r.reporter_phone_hash,
                address_key=r.address_key,
                category=r.category,
                registered_at=r.registered_at,
                text=f"{r.title} {r.description}",
            )
            for r in recent
        ]
        new = Candidate(
            case_no="",
            phone_hash=phone_hash,
            address_key=address_key,
            category=category,
            registered_at=now,
            text=f"{case_in.title} {case_in.description}",
        )
        repeat_count = assessor.repeat_count(new, candidates)
        key_person = await match_key_person(
            session,
            assessor.key_persons,
            phone_hash=phone_hash if known else None,
            id_hash=id_hash,
            address_key=address_key,
        )
        assessment = assessor.grade(
            case_in, category, repeat_count, key_person.colour if key_person else None
        )
        duplicate_of = assessor.duplicate_of(
            new, [c for c in candidates if c.registered_at >= now - DUPLICATE_WINDOW]
        )
        if duplicate_of is not None:
            duplicate_of = await _surviving(session, duplicate_of)
        case_no = await next_case_no(session, now)
        trace_id, _ = current_ids()
        values: dict[str, Any] = {
            "case_no": case_no,
            "idempotency_key": idempotency_key,
            "idempotency_body": digest,
            **case_columns(
                case_in,
                category=category,
                words=words,
                hash_key=settings.hash_key,
                phone_hash=phone_hash,
                address_key=address_key,
            ),
            "colour": assessment.colour,
            "colour_reasons": assessment.reasons,
            "response_level": assessment.response_level,
            "repeat_count_30d": repeat_count,
            "duplicate_of": duplicate_of,
            "key_person_id": key_person.key_person_id if key_person else None,
            "key_person_colour": key_person.colour if key_person else None,
            "key_person_matched_by": key_person.matched_by if key_person else None,
            "status": "registered",
            "trace_id": trace_id,
            "registered_at": now,
        }
        phone = case_in.reporter.phone
        seal_reporter(values, rt.cipher)
        # The row as stored (its defaults too) comes back from the insert: nothing below changes it.
        row = (await session.execute(cases.insert().values(**values).returning(*cases.c))).one()
        event = CaseRegisteredV1(
            case_no=case_no,
            channel=values["channel"],
            source_ref=case_in.source_ref,
            request_type=values["request_type"],
            category=Category(category),
            title=case_in.title,
            street_code=case_in.location.street_code,
            grid_code=case_in.location.grid_code,
            people_involved=case_in.people_involved,
            colour=Colour(assessment.colour),
            colour_reasons=assessment.reasons,
            response_level=ResponseLevel(assessment.response_level),
            duplicate_of=duplicate_of,
            registered_at=now,
            trace_id=trace_id,
            reporter=ReporterContact(
                anonymous=reporter.anonymous,
                # Its own ciphertext, bound to this event's field (not a copy of the row's value).
                phone_enc=rt.cipher.encrypt(phone, aad=reporter_phone_aad(case_no))
                if values["sms_capable"]
                else None,
                phone_hash=phone_hash,
                sms_capable=values["sms_capable"],
            ),
            due_by=values["due_by"],
            due_by_source=values["due_by_source"],
            reporter_key=reporter_key(settings.hash_key, phone_hash),
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        extra = await with_case(session, case_no) if with_case is not None else {}
        await record(
            rt,
            session,
            actor,
            "case.registered",
            case_no,
            {
                "channel": values["channel"],
                "source_ref": case_in.source_ref,
                "idempotency_key_given": idempotency_key is not None,
                "category": category,
                "category_source": values["category_source"],
                "colour": assessment.colour,
                "response_level": assessment.response_level,
                "duplicate_of": duplicate_of,
                "repeat_count_30d": repeat_count,
                **extra,
                "key_person_id": key_person.key_person_id if key_person else None,
            },
        )
    return Registered(True, row)


async def _surviving(session: Any, case_no: str) -> str:
    """A suspected duplicate of a merged case points at the case it was merged into."""
    for _hop in range(10):
        merged_into = (
            await session.execute(select(cases.c.merged_into).where(cases.c.case_no == case_no))
        ).scalar_one_or_none()
        if not merged_into:
            return case_no
        case_no = merged_into
    return case_no
