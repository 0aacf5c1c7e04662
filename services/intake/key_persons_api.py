"""The key persons and households registry over HTTP (重点人员 / 七色户卡; the gateway's
`/api/v1/key-persons…` forwards here). Answers are masked; personal data only through the reveal,
with a purpose. Every read is audited (casework/key_persons.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from hub.contracts.http.intake import RevealIn
from hub.contracts.http.key_persons import KeyPersonColourIn, KeyPersonListQuery, KeyPersonReadQuery
from hub.runtime import ServiceRuntime
from services.intake.actors import CurrentActor
from services.intake.assessment import Assessor
from services.intake.casework.key_persons import (
    change_colour,
    key_person_out,
    list_key_persons,
    read_key_person,
    register_key_person,
    reveal_key_person,
)
from services.intake.domain.key_persons import KeyPersonScheme
from services.intake.key_person_input import KeyPersonIn
from services.intake.settings import IntakeSettings

router = APIRouter(prefix="/internal/v1", tags=["key-persons"])


def _runtime(request: Request) -> ServiceRuntime[IntakeSettings]:
    rt: ServiceRuntime[IntakeSettings] = request.app.state.runtime
    return rt


def _scheme(request: Request) -> KeyPersonScheme:
    assessor: Assessor = request.app.state.assessor
    return assessor.key_persons


@router.post("/key-persons", status_code=201, summary="Register a key person or household (audited)")
async def post_key_person(body: KeyPersonIn, request: Request, actor: CurrentActor) -> dict[str, Any]:
    scheme = _scheme(request)
    row = await register_key_person(_runtime(request), scheme, body, actor=actor)
    return key_person_out(row, scheme)


@router.get("/key-persons", summary="The registry in the caller's scope, masked (audited with the purpose)")
async def get_key_persons(
    request: Request, actor: CurrentActor, query: Annotated[KeyPersonListQuery, Query()]
) -> dict[str, Any]:
    scheme = _scheme(request)
    total, rows = await list_key_persons(_runtime(request), query, actor=actor)
    return {
        "scheme": {
            "name_zh": scheme.name_zh,
            "colours": [
                {
                    "code": c.code,
                    "name_zh": c.name_zh,
                    "meaning_zh": c.meaning_zh,
                    "visit_every_working_days": c.visit_every_working_days,
                }
                for c in scheme.colours
            ],
        },
        "total": total,
        "page": query.page,
        "page_size": query.page_size,
        "items": [key_person_out(r, scheme) for r in rows],
    }


@router.get("/key-persons/{key_person_id}", summary="One entry, masked (audited with the purpose)")
async def get_key_person(
    key_person_id: str,
    request: Request,
    actor: CurrentActor,
    query: Annotated[KeyPersonReadQuery, Query()],
) -> dict[str, Any]:
    row = await read_key_person(_runtime(request), key_person_id, query.purpose, actor=actor)
    return key_person_out(row, _scheme(request))


@router.post("/key-persons/{key_person_id}/colour", summary="A new colour with the reason (audited)")
async def post_colour(
    key_person_id: str, body: KeyPersonColourIn, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    scheme = _scheme(request)
    row = await change_colour(_runtime(request), scheme, key_person_id, body, actor=actor)
    return key_person_out(row, scheme)


@router.post("/key-persons/{key_person_id}/personal-data", summary="The entry's personal data (audited)")
async def post_reveal(
    key_person_id: str, body: RevealIn, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    data = await reveal_key_person(_runtime(request), key_person_id, body.purpose, actor=actor)
    response.headers["Cache-Control"] = "no-store"
    return {
        "key_person_id": key_person_id,
        "name": data.name,
        "phone": data.phone,
        "id_type": data.id_type,
        "id_number": data.id_number,
        "address": data.address,
        "note": data.note,
    }
