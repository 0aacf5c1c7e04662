"""Intake's HTTP interface, reached only through the gateway (services listen on loopback/cluster)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from pydantic import BaseModel

from hub.contracts.http.intake import CategoryIn, MergeIn, NoteIn, OverrideIn, RevealIn, SimilarIn, UnlinkIn
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import CurrentActor, require
from services.intake.assessment import Assessor
from services.intake.audit_trail import record
from services.intake.casework.assessment_changes import correct_category, override_assessment
from services.intake.casework.guards import not_found
from services.intake.casework.merging import merge_case, unlink_duplicate
from services.intake.casework.notes import add_note
from services.intake.casework.personal_data import read_personal_data
from services.intake.domain.model import CaseIn
from services.intake.registration import register_case
from services.intake.rulebook import RulesInvalid, load_assessor
from services.intake.scoping import visible_case
from services.intake.settings import IntakeSettings
from services.intake.similar import similar_cases
from services.intake.tables import case_notes

router = APIRouter(prefix="/internal/v1", tags=["intake"])


class RegisteredOut(BaseModel):
    case_no: str
    status: str
    colour: str
    colour_reasons: list[dict[str, Any]]
    response_level: str
    category: str
    duplicate_of: str | None
    trace_id: str | None
    # By or about a key person (重点人员 / 七色户卡): the registry entry's id and colour and what matched
    # (phone, id_number, address) — never the person's data; None when nothing matched.
    key_person: dict[str, Any] | None = None


class OverrideOut(BaseModel):
    reason: str | None
    actor_role: str | None
    actor_id: str | None
    at: datetime | None


class NoteOut(BaseModel):
    note_no: int
    text: str
    actor_role: str
    actor_id: str | None
    at: datetime


class CaseOut(RegisteredOut):
    colour_overridden: bool
    override: OverrideOut | None
    category_source: str
    merged_into: str | None
    duties: list[dict[str, Any]]
    channel: str
    source_ref: str | None
    request_type: str
    title: str
    description: str
    reporter: dict[str, Any]
    location: dict[str, Any]
    people_involved: int
    amount_yuan: str | None
    flags: list[str]
    urgent: bool
    registered_at: datetime
    due_by: dict[str, Any] | None = None  # {at, source}: the channel's limit as registered
    # Text added since registration (staff notes, 12345 urges), oldest first; only on GET.
    notes: list[NoteOut] | None = None


class NoteAddedOut(BaseModel):
    case_no: str
    note_no: int
    created: bool  # false: the same Idempotency-Key again (nothing added)
    colour: str
    previous_colour: str
    colour_raised: bool
    colour_overridden: bool
    colour_reasons: list[dict[str, Any]]
    response_level: str


class PersonalDataOut(BaseModel):
    case_no: str
    anonymous: bool
    name: str | None
    phone: str | None
    id_type: str | None
    id_number: str | None


class SimilarCaseOut(BaseModel):
    case_no: str
    title: str
    status: str
    colour: str
    category: str
    registered_at: datetime
    similarity: float  # 0-1, bigram overlap of title + description
    same_reporter: bool
    same_address: bool


class SimilarOut(BaseModel):
    category: str  # the category compared (the draft's, or as registration would classify it)
    items: list[SimilarCaseOut]


class RuleFileOut(BaseModel):
    name: str
    origin: str
    sha256: str


class RulesReloadedOut(BaseModel):
    reloaded: bool
    files: list[RuleFileOut]


def _runtime(request: Request) -> ServiceRuntime[IntakeSettings]:
    rt: ServiceRuntime[IntakeSettings] = request.app.state.runtime
    return rt


def _assessor(request: Request) -> Assessor:
    # Read once per request: a reload swaps the whole Assessor, never half of it.
    assessor: Assessor = request.app.state.assessor
    return assessor


@router.post("/cases", status_code=201, response_model=RegisteredOut)
async def post_case(
    case_in: CaseIn,
    request: Request,
    response: Response,
    actor: CurrentActor,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> RegisteredOut:
    require(actor, "case.register")
    result = await register_case(_runtime(request), _assessor(request), case_in, idempotency_key, actor)
    if not result.created:
        response.status_code = 200
    return _registered(result.row)


@router.post(
    "/cases/similar",
    response_model=SimilarOut,
    summary="Open cases that may be the same matter as a draft registration (read-only)",
)
async def post_similar(
    body: SimilarIn, request: Request, response: Response, actor: CurrentActor
) -> SimilarOut:
    require(actor, "case.register")  # asked only before registering
    category, found = await similar_cases(_runtime(request), _assessor(request), body, actor)
    response.headers["Cache-Control"] = "no-store"
    return SimilarOut(category=category, items=[SimilarCaseOut(**vars(s)) for s in found])


@router.get("/cases/{case_no}", response_model=CaseOut)
async def get_case(case_no: str, request: Request, actor: CurrentActor) -> CaseOut:
    rt = _runtime(request)
    async with rt.db.sessions() as session:
        row = await visible_case(session, case_no, actor)
        if row is None:
            raise not_found(case_no)
        notes = (
            await session.execute(
                case_notes.select().where(case_notes.c.case_no == case_no).order_by(case_notes.c.note_no)
            )
        ).all()
    out = _case_out(row)
    out.notes = [
        NoteOut(note_no=n.note_no, text=n.text, actor_role=n.actor_role, actor_id=n.actor_id, at=n.created_at)
        for n in notes
    ]
    return out


@router.post(
    "/cases/{case_no}/notes",
    status_code=201,
    response_model=NoteAddedOut,
    summary="Add text to a case (staff note, 12345 urge); the case is graded again with it read",
)
async def post_note(
    case_no: str,
    body: NoteIn,
    request: Request,
    response: Response,
    actor: CurrentActor,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> NoteAddedOut:
    require(actor, "case.note")
    added = await add_note(
        _runtime(request),
        _assessor(request),
        case_no,
        text=body.text,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    if not added.created:
        response.status_code = 200
    row = added.row
    return NoteAddedOut(
        case_no=row.case_no,
        note_no=added.note_no,
        created=added.created,
        colour=row.colour,
        previous_colour=added.previous_colour,
        colour_raised=added.raised,
        colour_overridden=bool(row.colour_overridden),
        colour_reasons=list(row.colour_reasons or []),
        response_level=row.response_level,
    )


@router.post(
    "/cases/{case_no}/assessment", response_model=CaseOut, summary="Supervisor override of the colour"
)
async def post_assessment(case_no: str, body: OverrideIn, request: Request, actor: CurrentActor) -> CaseOut:
    require(actor, "assessment.override")
    row = await override_assessment(
        _runtime(request),
        _assessor(request),
        case_no,
        colour=body.colour,
        reason=body.reason,
        response_level=body.response_level,
        actor=actor,
    )
    return _case_out(row)


@router.post("/cases/{case_no}/category", response_model=CaseOut, summary="Dispatcher corrects the category")
async def post_category(case_no: str, body: CategoryIn, request: Request, actor: CurrentActor) -> CaseOut:
    require(actor, "category.correct")
    result = await correct_category(
        _runtime(request),
        _assessor(request),
        case_no,
        category=body.category,
        reason=body.reason,
        actor=actor,
    )
    return _case_out(result.row)


@router.post("/cases/{case_no}/merge", response_model=CaseOut, summary="Merge a duplicate into another case")
async def post_merge(case_no: str, body: MergeIn, request: Request, actor: CurrentActor) -> CaseOut:
    require(actor, "case.merge")
    row = await merge_case(_runtime(request), case_no, into=body.into, reason=body.reason, actor=actor)
    return _case_out(row)


@router.post("/cases/{case_no}/unlink", response_model=CaseOut, summary="Not a duplicate: clear the link")
async def post_unlink(
    case_no: str,
    request: Request,
    actor: CurrentActor,
    body: Annotated[UnlinkIn | None, Body()] = None,
) -> CaseOut:
    require(actor, "case.unlink")
    row = await unlink_duplicate(
        _runtime(request), case_no, reason=body.reason if body else None, actor=actor
    )
    return _case_out(row)


@router.post(
    "/cases/{case_no}/personal-data",
    response_model=PersonalDataOut,
    summary="The reporter's name, phone and ID number, decrypted (audited)",
)
async def reveal_personal_data(
    case_no: str,
    request: Request,
    response: Response,
    actor: CurrentActor,
    body: RevealIn,
) -> PersonalDataOut:
    """A stated `purpose` is required (docs/decisions/0013-centre-scoping.md, "Revealing personal
    data"); audited with the person, limited per person and hour (429)."""
    data = await read_personal_data(_runtime(request), case_no, actor=actor, purpose=body.purpose)
    response.headers["Cache-Control"] = "no-store"
    return PersonalDataOut(
        case_no=data.case_no,
        anonymous=data.anonymous,
        name=data.name,
        phone=data.phone,
        id_type=data.id_type,
        id_number=data.id_number,
    )


@router.post(
    "/rules/reload", response_model=RulesReloadedOut, summary="Re-read the rule files and swap them in"
)
async def post_rules_reload(request: Request, actor: CurrentActor) -> RulesReloadedOut:
    require(actor, "rules.reload")
    rt = _runtime(request)
    try:
        assessor, sources = await asyncio.to_thread(load_assessor, rt.settings.intake_rules_dir)
    except RulesInvalid as exc:
        raise Problem(
            422,
            "规则文件有误，未加载",
            f"{exc.describe()}（仍使用原规则）",
            type_="rules-invalid",
            file=exc.file,
            line=exc.line,
            column=exc.column,
            where=exc.where,
            errors=[{"field": exc.where or "(file)", "message": exc.problem}],
        ) from None
    await asyncio.to_thread(assessor.warm)
    files = [RuleFileOut(name=s.name, origin=s.origin, sha256=s.sha256) for s in sources]
    async with rt.db.transaction() as session:
        await record(rt, session, actor, "rules.reloaded", None, {"files": [f.model_dump() for f in files]})
    request.app.state.assessor = assessor
    request.app.state.rule_sources = sources
    return RulesReloadedOut(reloaded=True, files=files)


def _case_out(row: Any) -> CaseOut:
    override = (
        OverrideOut(
            reason=row.override_reason,
            actor_role=row.override_actor_role,
            actor_id=row.override_actor_id,
            at=row.overridden_at,
        )
        if row.colour_overridden
        else None
    )
    return CaseOut(
        **_registered(row).model_dump(),
        colour_overridden=bool(row.colour_overridden),
        override=override,
        category_source=row.category_source,
        merged_into=row.merged_into,
        duties=list(row.duties or []),
        channel=row.channel,
        source_ref=row.source_ref,
        request_type=row.request_type,
        title=row.title,
        description=row.description,
        # Masked by default: plaintext personal data leaves intake only for roles that need it (audited).
        reporter={
            "anonymous": row.reporter_anonymous,
            "phone": row.reporter_phone_masked,
            "id_type": row.reporter_id_type,
        },
        location={"address": row.address, "street_code": row.street_code, "grid_code": row.grid_code},
        people_involved=row.people_involved,
        amount_yuan=str(row.amount_yuan) if row.amount_yuan is not None else None,
        flags=list(row.flags or []),
        urgent=bool(row.urgent),
        registered_at=row.registered_at,
        due_by={"at": row.due_by, "source": row.due_by_source} if row.due_by is not None else None,
    )


def _registered(row: Any) -> RegisteredOut:
    return RegisteredOut(
        case_no=row.case_no,
        status=row.status,
        colour=row.colour,
        colour_reasons=list(row.colour_reasons or []),
        response_level=row.response_level,
        category=row.category,
        duplicate_of=row.duplicate_of,
        trace_id=row.trace_id,
        key_person=_key_person_flag(row),
    )


def _key_person_flag(row: Any) -> dict[str, Any] | None:
    if not row.key_person_id:
        return None
    return {
        "flagged": True,
        "label_zh": "重点人员（户）",
        "id": row.key_person_id,
        "colour": row.key_person_colour,
        "matched_by": list(row.key_person_matched_by or []),
    }
