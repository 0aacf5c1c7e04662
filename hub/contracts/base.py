from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    TYPE: ClassVar[str]
