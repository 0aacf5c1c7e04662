"""What a centre types to register a key person or household (重点人员 / 七色户卡), validated with the
same rules as a case's reporter (phone for region CN, resident ID by its check digit), so the keyed
hashes match the cases' and a case by the person is found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.intake.domain.enums import IdType
from services.intake.domain.identifiers import validate_id_number
from services.intake.domain.model import Address, CnPhoneStr, Name

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class KeyPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    phone: CnPhoneStr | None = None
    id_type: IdType | None = None
    id_number: Annotated[str | None, Field(min_length=1, max_length=32)] = None
    address: Address
    groups: Annotated[list[Code], Field(min_length=1, max_length=10)]
    colour: Code
    reason: Reason | None = None  # why this colour (audited)
    centre_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}([0-9]{6})?$")]
    grid_code: Annotated[
        str | None, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
    ] = None
    note: Note | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_id_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id_number") is not None and data.get("id_type") is None:
            return {**data, "id_type": IdType.resident_id}
        return data

    @field_validator("id_number", mode="after")
    @classmethod
    def _check_id_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        id_type = info.data.get("id_type")
        if value is None or id_type is None:  # a bad id_type has its own error
            return value
        try:
            return validate_id_number(value, id_type, today=datetime.now(UTC).date())
        except ValueError as exc:
            raise PydanticCustomError("id_number_invalid", str(exc)) from None
