"""`GET /api/v1/cases` (API.md, Cases): the list a centre works from — newest first, filtered by
status, colour, category, street and overdue, paged, with no personal data; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import FACILITIES, SECURITY, Api, distinct, sh, start_hub
from tests.kit.inprocess import InProcessHub
from tests.kit.pii_scan import scan_text

pytestmark = pytest.mark.integration
OTHER_STREET = "150203002000"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 3, 2, 9, 0))  # Monday, an ordinary working week


@pytest.fixture
async def hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    async for running in start_hub(backend, tmp_path, clock, monkeypatch):
        yield running


async def listed(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v1/cases", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_cases_are_listed_newest_first_filtered_and_paged(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    security = await api.register(distinct(SECURITY, 1))
    await api.dispatched(security)
    clock.advance(timedelta(minutes=5))
    facilities = await api.register(distinct(FACILITIES, 2))
    await api.dispatched(facilities, 3)
    clock.advance(timedelta(minutes=5))
    elsewhere_body = distinct(SECURITY, 3)
    elsewhere_body["location"] = {**elsewhere_body["location"], "street_code": OTHER_STREET}
    elsewhere = await api.register(elsewhere_body)
    await api.dispatched(elsewhere)

    everything = await listed(api)
    assert [c["case_no"] for c in everything["items"]] == [elsewhere, facilities, security]
    assert everything["total"] == 3
    first = everything["items"][1]
    assert first["category"] == "public_facilities_alteration" and first["status"] == "dispatched"
    assert first["lead_department"] and first["colour"] in ("red", "orange", "yellow", "blue")
    assert scan_text(Path("GET /api/v1/cases"), str(everything)) == []  # no name, phone or ID number

    assert [c["case_no"] for c in (await listed(api, category="public_security"))["items"]] == [
        elsewhere,
        security,
    ]
    assert [c["case_no"] for c in (await listed(api, street_code=OTHER_STREET))["items"]] == [elsewhere]
    assert [c["case_no"] for c in (await listed(api, street_code="150203"))["items"]] == [
        elsewhere,
        facilities,
        security,
    ]
    colour = first["colour"]
    assert facilities in [c["case_no"] for c in (await listed(api, colour=colour))["items"]]
    paged = await listed(api, page=2, page_size=2)
    assert [c["case_no"] for c in paged["items"]] == [security] and paged["total"] == 3
    assert (await listed(api, status="closed"))["total"] == 0

    # Nobody has acknowledged: a week later every case is past its acknowledge deadline.
    assert (await listed(api, overdue="true"))["total"] == 0
    clock.advance(timedelta(days=7))
    late = await listed(api, overdue="true")
    assert late["total"] == 3 and all(c["overdue"] for c in late["items"])
    assert (await listed(api, overdue="false"))["total"] == 0


async def test_bad_filters_are_problem_details_naming_the_parameter(hub: InProcessHub) -> None:
    api = Api(hub)
    for params, name in (
        ({"page": 0}, "page"),
        ({"page_size": 1000}, "page_size"),
        ({"street_code": "x"}, "street_code"),
    ):
        response = await api.get("/api/v1/cases", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert name in response.text
