"""Idempotency-Key scoped to the caller and bound to the body (issue 14, edge limits), through the
gateway on both backends: the same caller's same key and body → the same case (200); its same key
with another body → 422 `idempotency-key-reused`; another caller's same key → a case of its own. The
same channel + source_ref again stays 200 with the same case, whatever the key (API.md). Notes alike.

With HUB_AUTH_REQUIRED=false (the `hub` fixture) the gateway trusts `X-Hub-Actor-*`: two callers are
two `X-Hub-Actor-Id` values."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_intake_service import WINDOW_CASE, actor, hotline_order
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

pytestmark = pytest.mark.integration


def _reused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/idempotency-key-reused")
    assert problem["title"] == "幂等键已用于不同的请求内容"
    assert problem["errors"][0]["field"] == "Idempotency-Key"


async def test_the_key_is_the_callers_and_bound_to_the_body(hub: InProcessHub) -> None:
    url = f"{hub.gateway}/api/v1/cases"
    key = "window-2026-12-05-0001"
    clerk_a = {**actor("centre", "clerk-a"), "Idempotency-Key": key}
    clerk_b = {**actor("centre", "clerk-b"), "Idempotency-Key": key}
    other_body = {**WINDOW_CASE, "title": "楼下商铺夜间噪音扰民"}
    async with http_client() as client:
        first = await client.post(url, json=WINDOW_CASE, headers=clerk_a)
        assert first.status_code == 201, first.text
        case_no = first.json()["case_no"]

        again = await client.post(url, json=WINDOW_CASE, headers=clerk_a)
        assert (again.status_code, again.json()["case_no"]) == (200, case_no)

        _reused(await client.post(url, json=other_body, headers=clerk_a))

        theirs = await client.post(url, json=WINDOW_CASE, headers=clerk_b)
        assert theirs.status_code == 201, theirs.text
        assert theirs.json()["case_no"] != case_no
        # Each caller's key keeps to its own case and body.
        assert (await client.post(url, json=WINDOW_CASE, headers=clerk_b)).json()["case_no"] == theirs.json()[
            "case_no"
        ]
        _reused(await client.post(url, json=other_body, headers=clerk_b))

        # A caller without an id is scoped by its role: the same key is a third, independent case.
        by_role = await client.post(url, json=WINDOW_CASE, headers={"Idempotency-Key": key})
        assert by_role.status_code == 201 and by_role.json()["case_no"] not in (
            case_no,
            theirs.json()["case_no"],
        )

        # API.md: the same channel + source_ref again → 200 with the same case, whatever the key or body.
        order = hotline_order("WO-EDGE-0001")
        pushed = await client.post(url, json=order, headers={**actor("adapter", "hotline12345")})
        assert pushed.status_code == 201, pushed.text
        repeat = await client.post(
            url,
            json={**order, "title": "再次反映烟道问题"},
            headers={**actor("adapter", "hotline12345"), "Idempotency-Key": "another-key"},
        )
        assert (repeat.status_code, repeat.json()["case_no"]) == (200, pushed.json()["case_no"])
        # The work order's number wins over a key of the same caller that made another case.
        keyed = {**actor("adapter", "hotline12345"), "Idempotency-Key": "key-of-another-order"}
        other_order = await client.post(url, json=hotline_order("WO-EDGE-0002"), headers=keyed)
        assert other_order.status_code == 201, other_order.text
        again = await client.post(url, json=order, headers=keyed)
        assert (again.status_code, again.json()["case_no"]) == (200, pushed.json()["case_no"])

        # Notes: the same caller's key with other text is refused; another caller's key is its own note.
        notes = f"{url}/{case_no}/notes"
        note_key = "note-2026-12-05-0001"
        noted = await client.post(
            notes, json={"text": "当事人补充：已联系物业"}, headers={**clerk_a, "Idempotency-Key": note_key}
        )
        assert noted.status_code == 201, noted.text
        same = await client.post(
            notes, json={"text": "当事人补充：已联系物业"}, headers={**clerk_a, "Idempotency-Key": note_key}
        )
        assert (same.status_code, same.json()["note_no"]) == (200, noted.json()["note_no"])
        _reused(
            await client.post(
                notes, json={"text": "另一段补充内容"}, headers={**clerk_a, "Idempotency-Key": note_key}
            )
        )
        other = await client.post(
            notes, json={"text": "当事人补充：已联系物业"}, headers={**clerk_b, "Idempotency-Key": note_key}
        )
        assert other.status_code == 201 and other.json()["note_no"] != noted.json()["note_no"]
