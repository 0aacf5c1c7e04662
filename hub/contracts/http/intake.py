"""Request bodies of intake's casework after registration (研判): colour override, category
correction, merge, unlink and notes — what `POST /api/v1/cases/{case_no}/…` takes and the gateway
forwards to `/internal/v1/cases/{case_no}/…` unchanged.

Vocabularies are the shared codes of hub.contracts.vocabulary; unknown fields are refused
(extra="forbid"), so a typo is a 422 rather than a silent no-op.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

from hub.contracts.vocabulary import Category, Colour, ResponseLevel


def _multi_line(value: str) -> str:
    # NUL and other control/surrogate characters break storage (PostgreSQL rejects NUL) and logs.
    for ch in value:
        if ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise PydanticCustomError("control_character", "contains a control character")
    return value


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
CaseNo = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^ZZ-\d{8}-\d{6}$")]
# Text added to a case later (a staff note, a 12345 urge's content): graded with the description.
NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_multi_line)
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverrideIn(_Body):
    """Supervisor override of the risk colour (audited)."""

    colour: Colour
    reason: Reason
    response_level: ResponseLevel | None = None


class CategoryIn(_Body):
    """Dispatcher corrects the category (audited, graded again)."""

    category: Category
    reason: Reason


class MergeIn(_Body):
    """Merge a duplicate into another case (audited)."""

    into: CaseNo
    reason: Reason | None = None


class UnlinkIn(_Body):
    """Not a duplicate after all: clear the link (audited)."""

    reason: Reason | None = None


class NoteIn(_Body):
    """A staff note; an `Idempotency-Key` header makes a retry add nothing."""

    text: NoteText


# Why personal data is revealed (PIPL 最小必要): a stated purpose, Chinese allowed; the service requires
# at least HUB_INTAKE_REVEAL_PURPOSE_MIN_LENGTH characters (default 4, e.g. "电话调解"). In the body, never
# in the URL: free text there would reach access logs and traces.
Purpose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RevealIn(_Body):
    """`POST …/personal-data {purpose}`: the purpose is required and audited with the person."""

    purpose: Purpose


# What the window has typed so far, to find open cases that may be the same matter before it
# registers (POST /api/v1/cases/similar). A body, not a query string: the phone is personal data and
# must not reach access logs. Nothing is written.
SimilarTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SimilarText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=5000), AfterValidator(_multi_line)
]


class SimilarIn(_Body):
    """The draft's title and description, category (classified as registration would if absent),
    address and reporter phone; a case is similar under the duplicate rule (RULES.md "Duplicates"):
    same category, same reporter or address, within 7 days, similar text — and still open."""

    title: SimilarTitle
    description: SimilarText = ""
    category: Category | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
