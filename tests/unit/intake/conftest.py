"""Shared fixtures for the intake domain's unit tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)  # the clock for "not in the future" checks

BASE_PAYLOAD: dict[str, Any] = {
    "channel": "window",
    "request_type": "complaint",
    "title": "楼上邻居深夜噪音扰民",
    "description": "楼上住户每天深夜搬动家具，噪音很大，多次沟通无果。",
    "reporter": {"name": "王建国", "phone": "13904721234", "id_number": "150203196805123121"},
    "location": {"address": "包头市昆都仑区东方花园5栋2单元302室", "street_code": "150203005000"},
    "people_involved": 2,
}


@pytest.fixture
def make_payload() -> Callable[..., dict[str, Any]]:
    """A valid case body; keyword arguments replace top-level fields."""

    def make(**overrides: Any) -> dict[str, Any]:
        return {**copy.deepcopy(BASE_PAYLOAD), **overrides}

    return make


@pytest.fixture
def ctx() -> dict[str, datetime]:
    return {"now": NOW}
