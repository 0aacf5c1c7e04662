"""Requests of the key persons and households registry (重点人员 / 七色户卡, issue 18): what
`/api/v1/key-persons…` takes and the gateway forwards to intake's `/internal/v1/key-persons…` unchanged.

The registration body itself (name, phone, ID number, address, groups, colour, centre, grid) is passed
through as JSON and validated by intake (its phone and ID rules are the cases'). Every read names
why it is made: a `purpose` code from a fixed list in the query (a code, never free text, so nothing
personal reaches access logs); revealing personal data takes a free-text purpose in a body, as for a
case's reporter.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.contracts.http.referral import Page, PageSize

# Why a person reads the registry (audited with each read).
ReadPurpose = Literal["visit", "case_handling", "review", "supervision"]
READ_PURPOSES_ZH: dict[str, str] = {
    "visit": "走访准备",
    "case_handling": "事项处置",
    "review": "台账核查",
    "supervision": "督导检查",
}
ColourCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]{3,16}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]


class KeyPersonReadQuery(BaseModel):
    purpose: ReadPurpose


class KeyPersonListQuery(BaseModel):
    purpose: ReadPurpose
    colour: ColourCode | None = None
    grid_code: Annotated[str | None, Field(max_length=64)] = None
    centre: Annotated[str | None, Field(max_length=12, pattern=r"^[0-9]+$")] = None
    page: Page = 1
    page_size: PageSize = 50


class KeyPersonColourIn(BaseModel):
    """A new colour for an entry, with the reason (audited; the visit schedule follows)."""

    model_config = ConfigDict(extra="forbid")

    colour: ColourCode
    reason: Reason
