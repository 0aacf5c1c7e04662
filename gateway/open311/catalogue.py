"""The Open311 service catalogue (services.yaml), loaded once on first use."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_FILE = Path(__file__).with_name("services.yaml")


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    description: str
    datatype_description: str


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    group: str
    request_type: str
    keywords: str
    classify: bool
    attributes: tuple[Attribute, ...]

    @property
    def category(self) -> str | None:
        """The case category sent to intake (None: intake classifies the text)."""
        return None if self.classify else self.code


@dataclass(frozen=True)
class Catalogue:
    jurisdiction_id: str
    jurisdiction_name: str
    service_notice: str
    status_notes: dict[str, tuple[str, str]]  # case state → (open|closed, note)
    services: dict[str, Service]

    def open_or_closed(self, state: str) -> tuple[str, str]:
        return self.status_notes.get(state, ("open", state))


def parse(doc: dict[str, Any]) -> Catalogue:
    attributes = {
        code: Attribute(code, a["datatype"], a["description"], a.get("datatype_description", ""))
        for code, a in doc.get("attributes", {}).items()
    }
    services = {}
    for s in doc["services"]:
        code = str(s["service_code"])
        if code in services:
            raise ValueError(f"services.yaml: service_code {code} twice")
        services[code] = Service(
            code=code,
            name=s["service_name"],
            group=s.get("group", ""),
            request_type=s["request_type"],
            keywords=s.get("keywords", ""),
            classify=bool(s.get("classify", False)),
            attributes=tuple(attributes[a] for a in s.get("attributes", [])),
        )
    notes = {state: (v["status"], v["note"]) for state, v in doc["status_notes"].items()}
    if any(status not in ("open", "closed") for status, _ in notes.values()):
        raise ValueError("services.yaml: every status must be open or closed")
    return Catalogue(
        jurisdiction_id=str(doc["jurisdiction"]["id"]),
        jurisdiction_name=doc["jurisdiction"]["name"],
        service_notice=doc["service_notice"],
        status_notes=notes,
        services=services,
    )


@functools.cache
def catalogue() -> Catalogue:
    return parse(yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8")))
