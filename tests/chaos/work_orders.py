"""The 12345 work orders the proof suites post: the walking skeleton's case, each with its own
work-order number (what 12345 retries with) and its own citizen's phone (to count its acceptance SMS)."""

from __future__ import annotations

from typing import Any, cast

from tests.integration.test_walking_skeleton import CASE
from tests.kit.sms import unique_phone


def work_order(suite: str, i: int) -> dict[str, Any]:
    reporter = cast(dict[str, Any], CASE["reporter"])
    return {
        **CASE,
        "channel": "hotline12345",
        "source_ref": f"GD-{suite}-{i:07d}",
        "reporter": {**reporter, "phone": unique_phone(i)},
    }
