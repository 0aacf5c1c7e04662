"""Picking the citizen's acceptance SMS (受理告知) out of everything the SMS simulator received.

Departments get SMS too (吹哨, supervision), so counts of "one SMS per case" mean this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from services.notification.domain.templates import load_default_catalog


@cache
def acceptance_code() -> str:
    return load_default_catalog().get("case_accepted").provider_code


def acceptance(items: Iterable[dict[str, Any]], case_no: str | None = None) -> list[dict[str, Any]]:
    code = acceptance_code()
    return [
        m
        for m in items
        if m["template_code"] == code and (case_no is None or m["params"]["case_no"] == case_no)
    ]


def unique_phone(i: int) -> str:
    """A distinct mobile per generated case: the per-phone hourly SMS limit would defer repeats."""
    return f"139{i % 100_000_000:08d}"
