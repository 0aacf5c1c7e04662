"""Similar open cases before registering (POST /api/v1/cases/similar): the window's duplicate warning.
The draft is compared by the rule registration uses for suspected duplicates (same category, same
reporter or address, within 7 days, similar text); only open cases the caller may see are listed; a
read writes nothing. Through the gateway, on real RabbitMQ and both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from services.intake.tables import cases
from tests.integration.test_intake_service import WINDOW_CASE, actor, api, register
from tests.kit.inprocess import InProcessHub

pytestmark = pytest.mark.integration

STREET, OTHER_STREET = "150203001000", "150203002000"


def draft(**overrides: Any) -> dict[str, Any]:
    """What the window has typed: a near-identical second report of WINDOW_CASE."""
    return {
        "title": "楼上邻居私改公共烟道",
        "description": "楼上私自改动公共烟道，油烟倒灌，协商无果",
        "address": "东方花园三号楼二单元302室",
        "phone": "138 1234 1234",
        **overrides,
    }


def person(centre: str) -> dict[str, str]:
    return {**actor("centre", "win-1"), "X-Hub-Actor-Centre": centre}


async def case_count(hub: InProcessHub) -> int:
    async with hub.runtime("intake").db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(cases))).scalar_one())


async def similar(hub: InProcessHub, body: Any, headers: dict[str, str] | None = None) -> Any:
    return await api(hub, "POST", "/cases/similar", json=body, headers=headers or actor("centre", "win-1"))


async def test_a_near_identical_draft_lists_the_open_case_and_writes_nothing(hub: InProcessHub) -> None:
    first = await register(hub)
    before = await case_count(hub)

    answer = await similar(hub, draft())
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["category"] == first["category"]
    [item] = body["items"]
    assert item["case_no"] == first["case_no"]
    assert item["colour"] == first["colour"] and item["title"] == WINDOW_CASE["title"]
    assert item["status"] not in ("closed", "merged", "withdrawn")
    assert item["same_reporter"] is True and item["same_address"] is True
    assert 0.15 <= item["similarity"] <= 1

    # The same address alone (another reporter, no phone yet) is enough; another matter is not.
    by_address = (await similar(hub, draft(phone=None))).json()["items"]
    assert [i["case_no"] for i in by_address] == [first["case_no"]]
    other = await similar(
        hub, draft(title="小区垃圾清运不及时", description="垃圾堆放多日无人清运，气味很大")
    )
    assert other.status_code == 200, other.text
    assert other.json()["items"] == []
    nothing_to_compare = await similar(hub, draft(address=None, phone=None))
    assert nothing_to_compare.json()["items"] == []

    assert await case_count(hub) == before  # read-only


async def test_only_open_cases_the_person_may_see_are_listed(hub: InProcessHub) -> None:
    first = (await register(hub))["case_no"]
    second = await register(hub, {**WINDOW_CASE, "description": "楼上私改公共烟道，油烟倒灌，再次反映"})
    assert second["duplicate_of"] == first

    both = (await similar(hub, draft(), person(STREET))).json()["items"]
    assert sorted(i["case_no"] for i in both) == sorted([first, second["case_no"]])
    # A person of the street beside it does not learn that these cases exist.
    assert (await similar(hub, draft(), person(OTHER_STREET))).json()["items"] == []

    merged = await api(
        hub,
        "POST",
        f"/cases/{second['case_no']}/merge",
        json={"into": first, "reason": "同一事项重复登记"},
        headers=actor("centre", "disp-1"),
    )
    assert merged.status_code == 200, merged.text
    # A merged case has ended: the warning points at the case that goes on.
    assert [i["case_no"] for i in (await similar(hub, draft())).json()["items"]] == [first]


async def test_bad_drafts_and_roles_that_do_not_register_are_refused(hub: InProcessHub) -> None:
    await register(hub)
    for body, field in (
        (draft(title=""), "title"),
        (draft(title="很" * 201), "title"),
        (draft(category="not-a-category"), "category"),
        ({**draft(), "reporter": {"phone": "13812341234"}}, "reporter"),
    ):
        refused = await similar(hub, body)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert any(field in str(e.get("field", "")) for e in refused.json().get("errors", [])), refused.text
    ops = await similar(hub, draft(), actor("ops", "ops-1"))
    assert ops.status_code == 403
    # Not a case number: GET on the path is no case view either.
    assert (await api(hub, "GET", "/cases/similar", headers=actor("centre", "win-1"))).status_code in (
        404,
        405,
    )
