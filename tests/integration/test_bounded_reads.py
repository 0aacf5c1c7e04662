"""Issue 16, every read bounded: the ops statistics cover a date range (a default window, a maximum span,
both settings) and say which; the dispatch queue is capped; Open311's unauthenticated reads are paged
and rate-limited per client address (a token bucket: 429 with Retry-After past the burst)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.test_referral_flow import SECURITY, Api, case_body, distinct
from tests.kit.auth import create_client
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

DEFAULT_DAYS, MAX_DAYS = 7, 40
BURST = 6  # Open311 reads one address may make at once; one more a minute after that


@pytest.fixture
async def hub(spans: InMemorySpanExporter, backend: str, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    settings = {
        "ops_range_default_days": DEFAULT_DAYS,
        "ops_range_max_days": MAX_DAYS,
        "open311_reads_per_minute": 1,
        "open311_read_burst": BURST,
        "open311_page_size_default": 1,
        "open311_page_size_max": 2,
    }
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, **settings)) as running,
    ):
        yield running


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _refused(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/validation-error") and problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [field]
    return problem


async def test_ops_figures_cover_a_bounded_range_and_say_which(hub: InProcessHub) -> None:
    api = Api(hub)
    cases = [await api.register(distinct(SECURITY, i)) for i in range(2)]
    before = datetime.now(UTC)

    async def summary_now() -> dict[str, Any]:
        found: dict[str, Any] = (await api.get("/api/v1/ops/summary", role="ops")).json()
        return found

    # No range: the last HUB_OPS_RANGE_DEFAULT_DAYS up to now, stated in the answer (referral counts a
    # case once its registration event has reached it).
    summary = await eventually(summary_now, until=lambda s: s["total"] == len(cases), what="cases counted")
    start, end = _at(summary["from"]), _at(summary["to"])
    assert end - start == timedelta(days=DEFAULT_DAYS)
    assert before <= end <= datetime.now(UTC)
    by_category = (await api.get("/api/v1/ops/stats", role="ops", params={"by": "category"})).json()
    assert _at(by_category["to"]) - _at(by_category["from"]) == timedelta(days=DEFAULT_DAYS)
    assert by_category["total"]["received"] == len(cases)

    # A range given is used as given, and counts only what was registered in it.
    earlier = {
        "from": (before - timedelta(days=30)).isoformat(),
        "to": (before - timedelta(days=1)).isoformat(),
    }
    past = (await api.get("/api/v1/ops/summary", role="ops", params=earlier)).json()
    assert (_at(past["from"]), _at(past["to"]), past["total"]) == (
        _at(earlier["from"]),
        _at(earlier["to"]),
        0,
    )

    # Wider than HUB_OPS_RANGE_MAX_DAYS, or inverted: refused, the parameter named.
    wide = {"from": (before - timedelta(days=MAX_DAYS + 1)).isoformat(), "to": before.isoformat()}
    problem = _refused(await api.get("/api/v1/ops/stats", role="ops", params={"by": "day", **wide}), "from")
    assert f"{MAX_DAYS} 天" in problem["detail"]
    _refused(await api.get("/api/v1/ops/summary", role="ops", params=wide), "from")
    inverted = {"from": before.isoformat(), "to": (before - timedelta(days=1)).isoformat()}
    _refused(await api.get("/api/v1/ops/summary", role="ops", params=inverted), "to")

    # Behind the gateway, referral does not read every case ever for a caller without a range either.
    async with http_client(base_url=hub.apps["referral"].url) as http:
        unbounded = await http.get("/internal/v1/ops/facts", headers=as_actor("referral", "ops"))
    _refused(unbounded, "from")


async def test_the_dispatch_queue_is_capped_oldest_first_with_the_total(hub: InProcessHub) -> None:
    api = Api(hub)
    queued = [await api.register(distinct(case_body("law_related"), i)) for i in range(3)]

    async def queue(**params: Any) -> httpx.Response:
        return await api.get("/api/v1/dispatch-queue", params=params)

    everything = await eventually(
        lambda: queue(), until=lambda r: r.json().get("total") == 3, what="three cases queued"
    )
    # Oldest in the queue first: the order referral queued them in (its consumer's, not ours).
    oldest_first = [c["case_no"] for c in everything.json()["items"]]
    assert sorted(oldest_first) == sorted(queued)
    capped = (await queue(limit=2)).json()
    assert capped["total"] == 3 and [c["case_no"] for c in capped["items"]] == oldest_first[:2]
    _refused(await queue(limit=201), "limit")


async def _open311_get(
    hub: InProcessHub, path: str, *, source: str = "127.0.0.1", **params: Any
) -> httpx.Response:
    """An Open311 read from a client at `source` (any address of 127.0.0.0/8 is this machine's)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with http_client(base_url=f"{hub.gateway}/open311/v2", transport=transport, timeout=30) as http:
        return await http.get(path, params=params)


async def test_open311_reads_are_paged_and_limited_per_client_address(hub: InProcessHub) -> None:
    key = await create_client(hub, "adapter", system="open311")
    filed = []
    async with http_client(base_url=f"{hub.gateway}/open311/v2") as http:
        for i in range(2):
            form = {"api_key": key.api_key, "service_code": "noise", "address_string": f"钢铁大街{i}号"}
            answer = await http.post("/requests.json", data=form)
            assert answer.status_code == 201, answer.text
            filed.append(answer.json()[0]["service_request_id"])

    # Pages: HUB_OPEN311_PAGE_SIZE_DEFAULT (1) without page_size, newest first; at most the maximum (2).
    first = await _open311_get(hub, "/requests.json")
    assert [r["service_request_id"] for r in first.json()] == filed[-1:]
    second = await _open311_get(hub, "/requests.json", page=2)
    assert [r["service_request_id"] for r in second.json()] == filed[:1]
    both = await _open311_get(hub, "/requests.json", page_size=2)
    assert {r["service_request_id"] for r in both.json()} == set(filed)
    too_many = await _open311_get(hub, "/requests.json", page_size=3)
    assert too_many.status_code == 400 and "page_size" in too_many.json()["errors"][0]["description"]
    one = await _open311_get(hub, f"/requests/{filed[0]}.json")
    assert one.status_code == 200 and one.json()[0]["service_request_id"] == filed[0]
    assert (await _open311_get(hub, f"/tokens/{filed[0]}.xml")).status_code == 200  # the burst (6) used up

    # Past the burst: 429 problem details with Retry-After, in either format, for this address only.
    for path in ("/requests.json", f"/requests/{filed[0]}.json"):
        limited = await _open311_get(hub, path)
        assert limited.status_code == 429, limited.text
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(limited.headers["retry-after"]) <= 60  # one more a minute
        assert limited.json()["status"] == 429 and "retry after" in limited.json()["detail"]
    as_xml = await _open311_get(hub, "/requests.xml")
    assert as_xml.status_code == 429 and as_xml.headers["retry-after"]
    assert as_xml.headers["content-type"].startswith("text/xml")
    elsewhere = await _open311_get(hub, "/requests.json", source="127.0.0.2", page_size=2)
    assert elsewhere.status_code == 200 and {r["service_request_id"] for r in elsewhere.json()} == set(filed)
