"""Key persons and households (重点人员 / 七色户卡, issue 18): the registry, its visits and its flag.

The whole hub in-process on SQLite and PostgreSQL with real RabbitMQ; the referral service runs on a
ManualClock (as in test_worklist.py), frozen on the day before the National Day holiday, so the visit
schedule is seen to count working days on the statutory calendar, never by sleeping.

Must show (issue 18): a key person's new case is flagged to the dispatcher (and its colour raised where
the grading rule says); the 七色 cadence generates visits on the working-day calendar; a user outside
the scope gets 404 on the registry; every read of the registry is audited with who and why.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub import audit
from services.intake.tables import audit_log
from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import sh
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

DISTRICT, STREET, COMMUNITY = "150203", "150203001000", "150203001001"
OTHER_STREET = "150203002000"  # a street beside ours: outside the community's and the street's subtree
GRID = "G-0101"
PERSON = {
    "name": "赵桂兰",
    "phone": "13912345678",
    "id_number": "11010519491231002X",
    "address": "昆都仑区阿尔丁大街青五小区6栋1单元101",
    "groups": ["elderly_alone"],
    "colour": "red",
    "reason": "独居高龄，近期与邻居因漏水纠纷激烈",
    "centre_id": COMMUNITY,
    "grid_code": GRID,
    "note": "子女在外地，联系人为侄子",
}
SECRETS = ("赵桂兰", "13912345678", "11010519491231002X", "青五小区6栋1单元101", "侄子")


def person(role: str = "centre", centre: str = COMMUNITY, who: str = "grid-lead") -> dict[str, str]:
    return {
        "X-Hub-Actor-Role": role,
        "X-Hub-Actor-Id": f"{who}@{centre}",
        "X-Hub-Actor-Centre": centre,
        "X-Hub-Actor-Name": quote(f"{who}李瑞芳"),
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 9, 30, 10, 0))  # Wednesday; 1–7 October are the National Day holiday


@pytest.fixture
async def hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    import services.referral.main as referral_main

    monkeypatch.setattr(referral_main, "bootstrap", functools.partial(referral_main.bootstrap, clock=clock))
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url)) as running,
    ):
        yield running


async def call(
    hub: InProcessHub,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    async with http_client(base_url=hub.gateway) as client:
        return await client.request(method, path, json=json, params=params, headers=headers or person())


async def register_person(hub: InProcessHub, **changes: Any) -> dict[str, Any]:
    response = await call(hub, "POST", "/api/v1/key-persons", json={**PERSON, **changes})
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def visits(hub: InProcessHub, key_person_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await call(
        hub, "GET", "/api/v1/tasks", params={"kind": "key_person_visit", "page_size": 200, **params}
    )
    assert response.status_code == 200, response.text
    return [t for t in response.json()["items"] if t["key_person_id"] == key_person_id]


def due(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["due_at"]).astimezone(sh(2026, 1, 1).tzinfo)


def case(title: str, **changes: Any) -> dict[str, Any]:
    return {
        "channel": "window",
        "request_type": "complaint",
        "category": "neighbour",
        "title": title,
        "description": f"{title}，请求社区协调",
        "reporter": {"name": "赵女士", "phone": "13912345678"},
        "location": {"address": "昆都仑区阿尔丁大街青五小区6栋1单元101", "street_code": COMMUNITY},
        "people_involved": 2,
        **changes,
    }


# --- the registry: masked answers, the case flag ---------------------------------------------------


async def test_a_key_persons_new_case_is_flagged_to_the_dispatcher_and_its_colour_raised(
    hub: InProcessHub,
) -> None:
    entry = await register_person(hub)
    # The answer is masked: nothing of the person in clear.
    assert entry["colour"] == "red" and entry["colour_name_zh"] == "红色"
    assert entry["visit_every_working_days"] == 1
    assert entry["name"] == "赵**" and entry["phone"] == "139****5678"
    assert not any(secret in str(entry) for secret in SECRETS)

    # The same person calls about the leak: by the keyed phone hash.
    registered = await call(hub, "POST", "/api/v1/cases", json=case("楼上漏水"))
    assert registered.status_code == 201, registered.text
    body = registered.json()
    # A neighbour dispute of two people is blue by RULES.md; a red key person makes it orange, explained.
    assert body["colour"] == "orange"
    rules = [r["rule_id"] for r in body["colour_reasons"]]
    assert rules == ["raise.key_person_red", "yellow.key_person"]
    assert body["colour_reasons"][1]["description_zh"] == "报告人或事发地址属于重点人员（户）登记对象"

    # The dispatcher's case page: the flag, with no personal data of the key person.
    seen = await call(hub, "GET", f"/api/v1/cases/{body['case_no']}")
    assert seen.status_code == 200, seen.text
    flag = seen.json()["key_person"]
    assert flag == {
        "flagged": True,
        "label_zh": "重点人员（户）",
        "id": entry["id"],
        "colour": "red",
        "matched_by": ["phone", "address"],
    }
    assert "赵桂兰" not in seen.text and "11010519491231002X" not in seen.text

    # About the person's home, reported anonymously by a neighbour: by the address only, never by who.
    anonymous = case("六楼住户家中漏水无人应门", reporter={"anonymous": True})
    anonymous["location"] = {"address": "青五小区6栋1单元101室", "street_code": COMMUNITY}
    about = await call(hub, "POST", "/api/v1/cases", json=anonymous)
    assert about.status_code == 201, about.text
    assert about.json()["key_person"]["matched_by"] == ["address"]
    assert about.json()["colour"] == "orange"

    # Someone else, somewhere else: no flag, the rules of RULES.md alone.
    other = case("楼道堆物", reporter={"name": "钱先生", "phone": "13700001111"})
    other["location"] = {"address": "昆都仑区钢铁大街9号院", "street_code": COMMUNITY}
    plain = await call(hub, "POST", "/api/v1/cases", json=other)
    assert plain.json()["key_person"] is None and plain.json()["colour"] == "blue"


async def test_bad_input_changes_nothing(hub: InProcessHub) -> None:
    for change, field in (
        ({"colour": "pink"}, "colour"),
        ({"groups": ["astronaut"]}, "groups"),
        ({"centre_id": OTHER_STREET}, "centre_id"),  # another centre's area: as if unknown
        ({"id_number": "110105194912310021"}, "id_number"),  # wrong check digit
    ):
        refused = await call(hub, "POST", "/api/v1/key-persons", json={**PERSON, **change})
        assert refused.status_code == 422, (change, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert field in refused.text
    listed = await call(hub, "GET", "/api/v1/key-persons", params={"purpose": "review"})
    assert listed.json()["total"] == 0
    entry = await register_person(hub)
    again = await call(hub, "POST", "/api/v1/key-persons", json={**PERSON, "address": "另一处"})
    assert again.status_code == 409 and "已登记" in again.json()["title"]
    bad_colour = await call(
        hub, "POST", f"/api/v1/key-persons/{entry['id']}/colour", json={"colour": "pink", "reason": "复核"}
    )
    assert bad_colour.status_code == 422
    read = await call(hub, "GET", f"/api/v1/key-persons/{entry['id']}", params={"purpose": "visit"})
    assert read.json()["colour"] == "red"


# --- the 七色 cadence on the working-day calendar --------------------------------------------------


async def test_the_cadence_generates_visits_on_the_working_day_calendar(
    hub: InProcessHub, clock: ManualClock
) -> None:
    entry = await register_person(hub)  # red: every working day
    (first,) = await eventually(lambda: visits(hub, entry["id"]), what="the first visit")
    # Frozen on Wednesday 30 September: one working day later skips 1–7 October (国庆).
    assert due(first) == sh(2026, 10, 8, 10, 0)
    assert first["kind"] == "key_person_visit" and first["title"] == "重点人员（户）走访"
    assert first["grid"] == GRID and first["centre_id"] == COMMUNITY
    assert first["colour"] == "red" and first["sequence"] == 1 and first["case_nos"] == []
    # The grid worker's list (the grid branch filters on `grid`) and the district's worklist both hold it.
    district = await call(
        hub, "GET", "/api/v1/tasks", headers=person(centre=DISTRICT), params={"kind": "key_person_visit"}
    )
    assert [t["id"] for t in district.json()["items"]] == [first["id"]]

    # The visit is made on 8 October afternoon: the next is due one working day later.
    clock.set(sh(2026, 10, 8, 15, 0))
    done = await call(hub, "POST", f"/api/v1/tasks/{first['id']}/done", json={"note": "已上门，老人情况稳定"})
    assert done.status_code == 200, done.text
    second = await eventually(
        lambda: visits(hub, entry["id"], status="open"),
        until=lambda found: len(found) == 1,
        what="the next visit",
    )
    assert second[0]["sequence"] == 2 and due(second[0]) == sh(2026, 10, 9, 15, 0)

    # Calmer now: yellow, every 5 working days — counted from the last visit, Saturday 10 October
    # (a make-up working day, 调休) included: 9, 10, 12, 13, 14 October.
    yellow = await call(
        hub,
        "POST",
        f"/api/v1/key-persons/{entry['id']}/colour",
        json={"colour": "yellow", "reason": "纠纷已调解，转为一般关注"},
    )
    assert yellow.status_code == 200, yellow.text
    assert yellow.json()["visit_every_working_days"] == 5

    async def moved() -> list[dict[str, Any]]:
        return [t for t in await visits(hub, entry["id"], status="open") if t["colour"] == "yellow"]

    (third,) = await eventually(moved, what="the open visit moved to the yellow cadence")
    assert third["id"] == second[0]["id"] and due(third) == sh(2026, 10, 14, 15, 0)
    assert len(await visits(hub, entry["id"])) == 2  # no visit raised twice


# --- scope and audit ---------------------------------------------------------------------------------


async def test_outside_the_scope_the_registry_answers_404_and_every_read_is_audited(
    hub: InProcessHub,
) -> None:
    entry = await register_person(hub)
    path = f"/api/v1/key-persons/{entry['id']}"
    beside = person(centre=OTHER_STREET, who="other-street")
    # Another street's staff: as if the entry did not exist, for reads and actions alike.
    assert (await call(hub, "GET", path, headers=beside, params={"purpose": "visit"})).status_code == 404
    colour = {"colour": "green", "reason": "越权调整"}
    assert (await call(hub, "POST", f"{path}/colour", headers=beside, json=colour)).status_code == 404
    reveal = {"purpose": "上门走访核对信息"}
    assert (await call(hub, "POST", f"{path}/personal-data", headers=beside, json=reveal)).status_code == 404
    listed = await call(hub, "GET", "/api/v1/key-persons", headers=beside, params={"purpose": "review"})
    assert listed.status_code == 200 and listed.json()["items"] == []
    # Ops and departments never read the registry.
    for role in ("ops", "department"):
        refused = await call(hub, "GET", path, headers=person(role=role), params={"purpose": "review"})
        assert refused.status_code == 403, (role, refused.text)
    # The street above the community and the district see it; a read without a purpose is refused.
    for centre in (STREET, DISTRICT):
        seen = await call(
            hub, "GET", path, headers=person(centre=centre, who="lead"), params={"purpose": "review"}
        )
        assert seen.status_code == 200 and seen.json()["id"] == entry["id"]
    assert (await call(hub, "GET", path)).status_code == 422

    # The reveal decrypts, for a stated purpose.
    revealed = await call(hub, "POST", f"{path}/personal-data", json=reveal)
    assert revealed.status_code == 200, revealed.text
    assert "no-store" in revealed.headers["cache-control"]
    assert revealed.json()["phone"] == "+8613912345678" and revealed.json()["name"] == "赵桂兰"
    assert revealed.json()["address"] == PERSON["address"]

    async with hub.runtime("intake").db.sessions() as session:
        chain = await audit.read_chain(session, audit_log)
    assert audit.verify(chain, hub.settings.hash_key).ok
    reads = [
        e
        for e in chain
        if e.action in ("key_person.read", "key_person.listed", "key_person.personal_data_read")
    ]
    # Who and why for each: the two centres' reads, the other street's (empty) list and the reveal.
    assert [(e.action, e.actor_id, e.detail.get("purpose")) for e in reads] == [
        ("key_person.listed", f"other-street@{OTHER_STREET}", "review"),
        ("key_person.read", f"lead@{STREET}", "review"),
        ("key_person.read", f"lead@{DISTRICT}", "review"),
        ("key_person.personal_data_read", f"grid-lead@{COMMUNITY}", "上门走访核对信息"),
    ]
    assert reads[1].detail["person"]["name"] == "lead李瑞芳" and reads[1].detail["purpose_zh"] == "台账核查"
    assert reads[3].detail["fields"] == ["name", "phone", "id", "address", "note"]
    # Personal data never in the audit trail's details.
    assert not any(secret in str(e.detail) for e in chain for secret in SECRETS)
