"""Referral dispatch (中心吹哨、部门报到) through the gateway's public API, on SQLite and PostgreSQL.

The hub runs in-process with a ManualClock injected into the referral service (bootstrap(clock=…)):
business time moves when a test says so, never by sleeping. The other modules test_referral_*.py import
the helpers below.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from hub.runtime import ServiceRuntime
from services.referral.clock import ManualClock
from services.referral.tables import kit as referral_kit
from services.referral.watchdog import Watchdog
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

SHANGHAI = ZoneInfo("Asia/Shanghai")
STREET = "150203001000"  # 白云路街道
HOUSING = "housing_bureau@150203"
POLICE = f"police_station@{STREET}"
JUSTICE = f"justice_office@{STREET}"
COMMUNITY = f"community@{STREET}"


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def case_body(category: str, *, people: int = 2, anonymous: bool = False, **extra: Any) -> dict[str, Any]:
    reporter: dict[str, Any] = (
        {"anonymous": True} if anonymous else {"name": "王女士", "phone": "13812341234"}
    )
    return {
        "channel": "window",
        "request_type": "complaint",
        "category": category,
        "title": "楼上私改公共烟道",
        "description": "楼上邻居私自改动公共烟道，油烟倒灌半年，多次协商无果",
        "reporter": reporter,
        "location": {"address": "昆都仑区阿尔丁大街某小区3栋2单元", "street_code": STREET},
        "people_involved": people,
        **extra,
    }


def distinct(body: dict[str, Any], i: int) -> dict[str, Any]:
    """The same matter from another reporter at another address: not a repeat, so not graded up."""
    return {
        **body,
        "reporter": {"name": "李先生", "phone": f"1390000{i:04d}"},
        "location": {**body["location"], "address": f"昆都仑区钢铁大街{i + 1}号院"},
        "description": f"第{i + 1}号院：{body['description']}",
    }


FACILITIES = case_body("public_facilities_alteration")  # housing bureau + police station + justice office
SECURITY = case_body("public_security")  # police station alone: immediate, 3 working days


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 3, 2, 9, 0))  # Monday, an ordinary working week


async def start_hub(
    backend: str, tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> AsyncIterator[InProcessHub]:
    """The whole hub in-process, the referral service on `clock` (what `hub` gives, plus the clock);
    `settings` overrides the test settings (e.g. the SMS providers)."""
    import services.referral.main as referral_main

    monkeypatch.setattr(referral_main, "bootstrap", functools.partial(referral_main.bootstrap, clock=clock))
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, **settings)) as running,
    ):
        yield running


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


class Api:
    """The gateway's public API, as a department or the centre calls it."""

    def __init__(self, hub: InProcessHub) -> None:
        self.hub = hub

    @staticmethod
    def _headers(role: str, department: str | None) -> dict[str, str]:
        headers = {"X-Hub-Actor-Role": role}
        if department:
            headers["X-Hub-Actor-Department"] = department
        return headers

    async def post(
        self, path: str, body: Any = None, *, role: str = "centre", department: str | None = None
    ) -> httpx.Response:
        async with http_client(base_url=self.hub.gateway) as client:
            return await client.post(path, json=body, headers=self._headers(role, department))

    async def get(
        self,
        path: str,
        *,
        role: str = "centre",
        department: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        async with http_client(base_url=self.hub.gateway) as client:
            return await client.get(path, params=params, headers=self._headers(role, department))

    async def register(self, body: dict[str, Any]) -> str:
        response = await self.post("/api/v1/cases", body)
        assert response.status_code == 201, response.text
        case_no: str = response.json()["case_no"]
        return case_no

    async def case(self, case_no: str) -> dict[str, Any]:
        response = await self.get(f"/api/v1/cases/{case_no}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def state(self, case_no: str) -> dict[str, Any]:
        """The referral service's view of the case (all rounds, deadlines, queue)."""
        async with http_client(base_url=self.hub.apps["referral"].url) as client:
            response = await client.get(f"/internal/v1/cases/{case_no}", headers=as_actor("referral"))
        return response.json() if response.status_code == 200 else {}

    async def dispatched(self, case_no: str, count: int = 1) -> dict[str, Any]:
        """Wait until referral has the case with at least `count` referrals."""
        return await eventually(
            lambda: self.state(case_no),
            until=lambda s: len(s.get("referrals", [])) >= count,
            what=f"{case_no} dispatched",
        )

    async def act(
        self,
        referral_id: str,
        action: str,
        body: Any = None,
        *,
        department: str | None,
        role: str = "department",
    ) -> httpx.Response:
        return await self.post(
            f"/api/v1/referrals/{referral_id}/{action}", body, role=role, department=department
        )

    async def ok(
        self, referral_id: str, action: str, body: Any = None, *, department: str | None
    ) -> dict[str, Any]:
        response = await self.act(referral_id, action, body, department=department)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def by_department(state: dict[str, Any], department: str, round_: int | None = None) -> dict[str, Any]:
    found = [
        r
        for r in state["referrals"]
        if r["department"] == department and (round_ is None or r["round"] == round_)
    ]
    assert found, f"no referral for {department} in {[r['department'] for r in state['referrals']]}"
    return found[-1]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(SHANGHAI)


async def outbox_events(hub: InProcessHub, type_: str, case_no: str | None = None) -> list[dict[str, Any]]:
    """Events the referral service wrote (committed), in order: what the watchdog and handlers said."""
    rt = hub.runtime("referral")
    outbox = referral_kit.outbox
    query = select(outbox.c.body).where(outbox.c.type == type_).order_by(outbox.c.id)
    if case_no:
        query = query.where(outbox.c.subject == case_no)
    async with rt.db.sessions() as session:
        bodies = (await session.execute(query)).scalars().all()
    return [json.loads(b)["data"] for b in bodies]


def watchdog(hub: InProcessHub) -> Watchdog:
    found: Watchdog = hub.apps["referral"].app.state.watchdog
    return found


async def emit_as(hub: InProcessHub, service: str, type_: str, subject: str, data: dict[str, Any]) -> None:
    """Another service says something (through its own outbox, as it would)."""
    rt: ServiceRuntime = hub.runtime(service)
    async with rt.db.transaction() as session:
        await rt.outbox.emit(session, type_, subject, data)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def refused(response: httpx.Response, state: str, action: str) -> dict[str, Any]:
    body = problem(response, 409)
    assert body["current_state"] == state and body["action"] == action
    assert isinstance(body["allowed_actions"], list)
    assert state in body["detail"]
    for allowed in body["allowed_actions"]:
        assert allowed in body["detail"]
    return body


# --- tests -------------------------------------------------------------------------------------------


async def test_registration_dispatches_to_routed_units_with_deadlines_from_the_procedure(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    assert state["status"] == "dispatched"
    roles = {r["department"]: r["role"] for r in state["referrals"]}
    assert roles == {HOUSING: "lead", POLICE: "assisting", JUSTICE: "assisting"}
    lead = by_department(state, HOUSING)
    assert lead["department_name"] == "昆都仑区住房和城乡建设局"
    # Blue, so intake said "immediate"; three departments raise it to time-limited: 7 working days.
    assert state["intake_response_level"] == "immediate" and state["response_level"] == "time_limited"
    assert at(lead["dispatched_at"]) == sh(2026, 3, 2, 9, 0)
    assert at(lead["ack_due_at"]) == sh(2026, 3, 3, 9, 0)  # blue: 1 working day
    assert at(lead["due_at"]) == sh(2026, 3, 11, 9, 0)  # 7 working days
    assert at(lead["return_until"]) == sh(2026, 3, 4, 9, 0)  # 2 working days
    kinds = {d["kind"]: d for d in lead["deadlines"]}
    assert set(kinds) == {"acknowledge", "handling", "return_window"}
    assert all(d["procedure_id"] == "135" and d["procedure_version"] == 1 for d in kinds.values())
    assert not lead["deadline_provisional"] and not kinds["handling"]["provisional"]
    assert kinds["handling"]["limit"] == "7 working_days"

    # The public case view carries the referrals with their deadlines and supervision level.
    public = await api.case(case_no)
    assert public["status"] == "dispatched"
    assert {r["department"] for r in public["referrals"]} == {HOUSING, POLICE, JUSTICE}
    assert all(r["supervision_level"] == "none" and r["deadlines"] for r in public["referrals"])

    dispatched = await outbox_events(hub, "referral.dispatched.v1", case_no)
    assert len(dispatched) == 3 and all(e["actor_role"] == "system" for e in dispatched)
    (case_event,) = await outbox_events(hub, "case.dispatched.v1", case_no)
    assert case_event["lead"] == HOUSING and set(case_event["assisting"]) == {POLICE, JUSTICE}


async def test_red_case_gets_joint_consultation_with_meeting_deadline_and_petition_its_procedure(
    hub: InProcessHub,
) -> None:
    api = Api(hub)
    red = await api.register(case_body("public_security", people=40))
    petition = await api.register(case_body("petition"))
    red_state = await api.dispatched(red)
    lead = red_state["referrals"][0]
    assert red_state["colour"] == "red" and red_state["response_level"] == "joint_consultation"
    kinds = {d["kind"]: d for d in lead["deadlines"]}
    assert at(kinds["acknowledge"]["due_at"]) == sh(2026, 3, 2, 9, 30)  # red: 30 minutes
    assert at(kinds["meeting"]["due_at"]) == sh(2026, 3, 4, 9, 0)  # meeting within 2 working days
    assert at(kinds["handling"]["due_at"]) == sh(2026, 3, 11, 9, 0)

    petition_state = await api.dispatched(petition)
    lead = petition_state["referrals"][0]
    assert lead["department"] == "petitions_bureau@150203" and lead["procedure_id"] == "petition"
    kinds = {d["kind"]: d for d in lead["deadlines"]}
    assert kinds["handling"]["limit"] == "60 calendar_days"
    # 60 calendar days end on Fri 05-01, inside the Labour Day holiday (05-01..05-05): the next working day.
    assert at(kinds["handling"]["due_at"]) == sh(2026, 5, 6, 9, 0)
    assert at(kinds["acceptance"]["due_at"]) == sh(2026, 3, 17, 9, 0)  # 15 calendar days


async def test_full_life_cycle_through_the_gateway(hub: InProcessHub, clock: ManualClock) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    lead = by_department(state, HOUSING)
    police = by_department(state, POLICE)
    justice = by_department(state, JUSTICE)

    clock.advance(timedelta(hours=1))
    acked = await api.ok(lead["id"], "acknowledge", department=HOUSING)
    assert acked["changed"] and acked["referral"]["status"] == "acknowledged"
    assert (await api.case(case_no))["status"] == "in_progress"  # the lead reported (报到)
    again = await api.ok(lead["id"], "acknowledge", department=HOUSING)
    assert not again["changed"] and again["referral"]["status"] == "acknowledged"  # repeated: a no-op

    await api.ok(lead["id"], "start", department=HOUSING)
    await api.ok(police["id"], "acknowledge", department=POLICE)
    late_ack = await api.ok(lead["id"], "acknowledge", department=HOUSING)
    assert not late_ack["changed"] and late_ack["referral"]["status"] == "in_progress"  # never backwards

    meeting = await api.post(
        f"/api/v1/cases/{case_no}/meetings",
        {
            "held_at": sh(2026, 3, 3, 14, 0).isoformat(),
            "departments": [HOUSING, POLICE],
            "decisions": ["恢复烟道原状"],
        },
    )
    assert meeting.status_code == 200, meeting.text
    assert meeting.json()["case"]["meetings"][0]["departments"] == [HOUSING, POLICE]

    assisting_reply = await api.ok(
        police["id"], "reply", {"outcome": "mediated", "summary": "已协助调解"}, department=POLICE
    )
    assert assisting_reply["referral"]["status"] == "replied"
    assert (await api.case(case_no))["status"] == "in_progress"  # only the lead's reply counts

    clock.advance(timedelta(days=1))
    replied = await api.ok(
        lead["id"],
        "reply",
        {"outcome": "resolved", "summary": "已责令恢复烟道，双方达成一致"},
        department=HOUSING,
    )
    assert replied["referral"]["reply_outcome"] == "resolved"
    case = await api.case(case_no)
    assert case["status"] == "replied"
    (case_replied,) = await outbox_events(hub, "case.replied.v1", case_no)
    assert case_replied["lead_department_name"] == "昆都仑区住房和城乡建设局"
    assert case_replied["actor_role"] == "department" and case_replied["actor_department"] == HOUSING

    rated = await api.post(
        f"/api/v1/cases/{case_no}/callback", {"satisfaction": "satisfied", "comment": "满意"}
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["case"]["status"] == "closed" and rated.json()["case"]["satisfaction"] == "satisfied"
    state = await api.state(case_no)
    assert by_department(state, JUSTICE)["status"] == "cancelled"  # still open at closure
    assert by_department(state, JUSTICE)["id"] == justice["id"]
    (closed,) = await outbox_events(hub, "case.closed.v1", case_no)
    assert closed["reason"] == "callback" and closed["satisfaction"] == "satisfied"
    repeat = await api.post(f"/api/v1/cases/{case_no}/callback", {"satisfaction": "dissatisfied"})
    assert repeat.status_code == 200 and not repeat.json()["changed"]  # a late rating: ignored
    assert (await api.case(case_no))["status"] == "closed"

    timeline = (await api.get(f"/api/v1/cases/{case_no}/timeline")).json()
    events = {e["event"] for e in timeline}
    await eventually(
        lambda: api.get(f"/api/v1/cases/{case_no}/timeline"),
        until=lambda r: "case.closed.v1" in {e["event"] for e in r.json()},
        what="timeline up to closure",
    )
    timeline = (await api.get(f"/api/v1/cases/{case_no}/timeline")).json()
    events = {e["event"] for e in timeline}
    assert {
        "referral.dispatched.v1",
        "case.dispatched.v1",
        "referral.acknowledged.v1",
        "case.meeting_held.v1",
        "referral.replied.v1",
        "case.replied.v1",
        "case.closed.v1",
        "referral.cancelled.v1",
    } <= events
    acked_entry = next(e for e in timeline if e["event"] == "referral.acknowledged.v1")
    assert acked_entry["actor"]["role"] == "department" and acked_entry["actor"]["department"] in (
        HOUSING,
        POLICE,
    )


async def test_refused_transitions_name_the_state_and_the_allowed_actions(hub: InProcessHub) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    lead = by_department(state, HOUSING)
    rid = lead["id"]

    body = refused(
        await api.act(rid, "reply", {"outcome": "resolved", "summary": "x"}, department=HOUSING),
        "dispatched",
        "reply",
    )
    assert body["allowed_actions"] == ["acknowledge", "return", "cancel"]
    assert body["type"].endswith("/transition-refused")
    refused(await api.act(rid, "start", department=HOUSING), "dispatched", "start")
    refused(
        await api.act(rid, "extension", {"working_days": 2, "reason": "需现场勘查"}, department=HOUSING),
        "dispatched",
        "request_extension",
    )
    refused(
        await api.act(rid, "suspend", {"reason": "等待群众补充材料"}, department=HOUSING),
        "dispatched",
        "suspend",
    )
    refused(await api.act(rid, "resume", department=HOUSING), "dispatched", "resume")
    refused(
        await api.act(rid, "extension/decision", {"approved": True}, role="centre", department=None),
        "dispatched",
        "approve_extension",
    )
    refused(await api.post(f"/api/v1/cases/{case_no}/close"), "dispatched", "close")
    refused(
        await api.post(f"/api/v1/cases/{case_no}/callback", {"satisfaction": "satisfied"}),
        "dispatched",
        "rate_satisfied",
    )
    refused(
        await api.post(f"/api/v1/cases/{case_no}/refer-onward", {"to": "court"}), "dispatched", "refer_onward"
    )

    await api.ok(rid, "acknowledge", department=HOUSING)
    await api.ok(rid, "start", department=HOUSING)
    not_paused = await api.ok(rid, "resume", department=HOUSING)  # a repeated resume: nothing to do
    assert not not_paused["changed"] and not_paused["referral"]["status"] == "in_progress"
    await api.ok(rid, "reply", {"outcome": "unresolved", "summary": "双方分歧较大"}, department=HOUSING)
    body = refused(
        await api.act(rid, "return", {"reason_code": "other", "reason": "迟到的退回"}, department=HOUSING),
        "replied",
        "return",
    )
    assert body["allowed_actions"] == []
    assert "final" in body["detail"] or "终态" in body["detail"]
    body = refused(
        await api.post(f"/api/v1/cases/{case_no}/dispatch", {"lead": HOUSING}), "replied", "dispatch"
    )
    assert "reopen" in body["allowed_actions"] and "close" in body["allowed_actions"]
    # Late or repeated updates are 200 no-ops (never backwards): a reply again, an acknowledge now.
    assert not (await api.ok(rid, "reply", {"outcome": "resolved", "summary": "again"}, department=HOUSING))[
        "changed"
    ]
    assert not (await api.ok(rid, "acknowledge", department=HOUSING))["changed"]

    onward = await api.post(f"/api/v1/cases/{case_no}/refer-onward", {"to": "court"})
    assert onward.status_code == 200 and onward.json()["case"]["referred_onward_to"] == "court"
    (sent_on,) = await outbox_events(hub, "case.referred_to_court.v1", case_no)
    assert (
        sent_on["to"] == "court" and sent_on["outcome"] == "unresolved" and sent_on["actor_role"] == "centre"
    )
    closed = await api.post(f"/api/v1/cases/{case_no}/close", {"reason": "referred_onward"})
    assert closed.status_code == 200 and closed.json()["case"]["status"] == "closed"
    refused(await api.post(f"/api/v1/cases/{case_no}/withdraw", {"reason": "撤回"}), "closed", "withdraw")
    refused(
        await api.post(
            f"/api/v1/cases/{case_no}/meetings",
            {"held_at": sh(2026, 3, 3, 14, 0).isoformat(), "departments": [HOUSING]},
        ),
        "closed",
        "record_meeting",
    )
    # A department may not take the centre's decisions.
    forbidden = await api.post(f"/api/v1/cases/{case_no}/close", role="department", department=HOUSING)
    assert problem(forbidden, 403)["type"].endswith("/forbidden-role")


async def test_a_department_cannot_see_or_act_on_another_departments_referral(hub: InProcessHub) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    lead = by_department(state, HOUSING)

    own = await api.get(f"/api/v1/referrals/{lead['id']}", role="department", department=HOUSING)
    assert own.status_code == 200 and own.json()["department"] == HOUSING
    other = await api.get(f"/api/v1/referrals/{lead['id']}", role="department", department=POLICE)
    assert problem(other, 404)["type"].endswith("/referral-not-found")
    for action, body in [
        ("acknowledge", None),
        ("return", {"reason_code": "not_our_duty", "reason": "不是我们的"}),
        ("reply", {"outcome": "resolved", "summary": "x"}),
        ("extension", {"working_days": 1, "reason": "x"}),
    ]:
        problem(await api.act(lead["id"], action, body, department=POLICE), 404)
    assert (await api.state(case_no))["referrals"][0]["status"] == "dispatched"  # nothing happened

    listed = await api.get("/api/v1/referrals", role="department", department=POLICE)
    assert listed.status_code == 200
    assert [r["department"] for r in listed.json()["items"]] == [POLICE]
    sneaky = await api.get(
        "/api/v1/referrals", role="department", department=POLICE, params={"department": HOUSING}
    )
    assert all(r["department"] == POLICE for r in sneaky.json()["items"])
    everything = await api.get("/api/v1/referrals", params={"case_no": case_no})
    assert everything.json()["total"] == 3  # the centre sees all
    no_department = await api.get("/api/v1/referrals", role="department")
    problem(no_department, 403)


async def test_returned_referral_goes_back_to_the_dispatchers_queue_and_is_rerouted(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    lead = by_department(state, HOUSING)
    police_id = by_department(state, POLICE)["id"]

    clock.advance(timedelta(hours=20))
    returned = await api.ok(
        lead["id"],
        "return",
        {"reason_code": "not_our_duty", "reason": "烟道属物业共有部位，应由物业处理"},
        department=HOUSING,
    )
    assert returned["referral"]["status"] == "returned"
    assert returned["referral"]["return_reason_code"] == "not_our_duty"
    state = await api.state(case_no)
    assert "not_our_duty" in state["manual_reason"] and "物业" in state["manual_reason"]
    assert [q["reason_code"] for q in state["dispatch_queue"]] == ["returned"]
    queue = (await api.get("/api/v1/dispatch-queue")).json()["items"]
    assert [c["case_no"] for c in queue] == [case_no]
    (queued,) = await outbox_events(hub, "case.queued_for_dispatcher.v1", case_no)
    assert queued["reason"] == f"returned:{HOUSING}" and queued["actor_department"] == HOUSING
    (event,) = await outbox_events(hub, "referral.returned.v1", case_no)
    assert event["reason_code"] == "not_our_duty"

    unknown = await api.post(
        f"/api/v1/cases/{case_no}/dispatch", {"lead": "nobody@150203", "assisting": [POLICE]}
    )
    errors = problem(unknown, 422)["errors"]
    assert errors == [{"field": "lead", "message": "unknown unit nobody@150203"}]

    rerouted = await api.post(f"/api/v1/cases/{case_no}/dispatch", {"lead": COMMUNITY, "assisting": [POLICE]})
    assert rerouted.status_code == 200, rerouted.text
    state = rerouted.json()["case"]
    assert state["manual_reason"] is None and all(q["resolved_at"] for q in state["dispatch_queue"])
    current = {r["department"]: r for r in state["referrals"] if r["status"] not in ("returned", "cancelled")}
    assert set(current) == {COMMUNITY, POLICE}
    assert current[COMMUNITY]["role"] == "lead"
    assert current[POLICE]["id"] == police_id  # a department still wanted carries on
    assert by_department(state, JUSTICE)["status"] == "cancelled"
    assert by_department(state, JUSTICE)["cancel_reason"] == "rerouted"
    assert (await api.get("/api/v1/dispatch-queue")).json()["items"] == []
    swapped = await api.post(f"/api/v1/cases/{case_no}/dispatch", {"lead": POLICE, "assisting": [COMMUNITY]})
    roles = {r["id"]: r["role"] for r in swapped.json()["case"]["referrals"] if r["status"] == "dispatched"}
    assert roles == {
        police_id: "lead",
        current[COMMUNITY]["id"]: "assisting",
    }  # the same referrals, roles swapped

    # Past the 2-working-day window a return is refused.
    clock.advance(timedelta(days=3))
    late = await api.act(
        current[COMMUNITY]["id"],
        "return",
        {"reason_code": "wrong_area", "reason": "不在本社区"},
        department=COMMUNITY,
    )
    body = problem(late, 409)
    assert body["type"].endswith("/return-window-closed") and "return" not in body["allowed_actions"]


async def test_unroutable_case_waits_in_the_manual_queue(hub: InProcessHub) -> None:
    api = Api(hub)
    case_no = await api.register(case_body("law_related"))
    state = await eventually(
        lambda: api.state(case_no), until=lambda s: bool(s.get("manual_reason")), what="queued"
    )
    assert state["status"] == "registered" and state["referrals"] == []
    assert state["manual_reason"].startswith("no_rule")
    (queued,) = await outbox_events(hub, "case.queued_for_dispatcher.v1", case_no)
    assert queued["reason"].startswith("no_rule")
    dispatched = await api.post(f"/api/v1/cases/{case_no}/dispatch", {"lead": JUSTICE})
    assert dispatched.status_code == 200 and dispatched.json()["case"]["status"] == "dispatched"


async def test_extension_rules_and_the_centres_decision(hub: InProcessHub, clock: ManualClock) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    rid = by_department(state, HOUSING)["id"]
    await api.ok(rid, "acknowledge", department=HOUSING)

    too_much = await api.act(rid, "extension", {"working_days": 11, "reason": "需鉴定"}, department=HOUSING)
    assert problem(too_much, 422)["code"] == "exceeds_total"
    asked = await api.ok(rid, "extension", {"working_days": 6, "reason": "需委托鉴定"}, department=HOUSING)
    assert asked["referral"]["status"] == "extension_requested"
    assert not (await api.ok(rid, "extension", {"working_days": 6, "reason": "again"}, department=HOUSING))[
        "changed"
    ]
    forbidden = await api.act(rid, "extension/decision", {"approved": True}, department=HOUSING)
    problem(forbidden, 403)
    decided = await api.act(
        rid, "extension/decision", {"approved": True, "note": "同意"}, role="centre", department=None
    )
    assert decided.status_code == 200, decided.text
    referral = decided.json()["referral"]
    assert referral["status"] == "in_progress"
    assert at(referral["due_at"]) == sh(2026, 3, 19, 9, 0)  # 7 + 6 working days from Mon 03-02 09:00
    handling = next(d for d in referral["deadlines"] if d["kind"] == "handling")
    assert handling["extension"] == 6
    (decision,) = await outbox_events(hub, "referral.extension_decided.v1", case_no)
    assert decision["approved"] and at(decision["new_due_at"]) == sh(2026, 3, 19, 9, 0)
    same_again = await api.act(rid, "extension/decision", {"approved": True}, role="centre", department=None)
    assert same_again.status_code == 200 and not same_again.json()["changed"]

    over_total = await api.act(rid, "extension", {"working_days": 5, "reason": "再延"}, department=HOUSING)
    assert problem(over_total, 422)["code"] == "exceeds_total"  # 6 + 5 > 10
    asked = await api.ok(rid, "extension", {"working_days": 4, "reason": "再延"}, department=HOUSING)
    denied = await api.act(
        rid, "extension/decision", {"approved": False, "note": "不同意"}, role="centre", department=None
    )
    assert denied.json()["referral"]["status"] == "in_progress"
    assert at(denied.json()["referral"]["due_at"]) == sh(2026, 3, 19, 9, 0)
    decisions = await outbox_events(hub, "referral.extension_decided.v1", case_no)
    assert [d["approved"] for d in decisions] == [True, False] and decisions[1]["due_at"]

    clock.set(sh(2026, 3, 19, 9, 0))  # at the deadline: too late to ask
    late = await api.act(rid, "extension", {"working_days": 1, "reason": "来不及"}, department=HOUSING)
    assert problem(late, 422)["code"] == "after_deadline"


async def test_suspension_pauses_the_clock_and_the_watchdog(hub: InProcessHub, clock: ManualClock) -> None:
    api = Api(hub)
    case_no = await api.register(SECURITY)
    state = await api.dispatched(case_no)
    rid = state["referrals"][0]["id"]
    assert at(state["referrals"][0]["due_at"]) == sh(2026, 3, 5, 9, 0)  # 3 working days
    await api.ok(rid, "acknowledge", department=POLICE)
    clock.set(sh(2026, 3, 3, 9, 0))  # one working day used
    suspended = await api.ok(rid, "suspend", {"reason": "等待当事人提供监控录像"}, department=POLICE)
    assert suspended["referral"]["suspended"] and suspended["referral"]["status"] == "in_progress"
    assert "resume" in suspended["referral"]["allowed_actions"]
    assert not (await api.ok(rid, "suspend", {"reason": "again"}, department=POLICE))["changed"]

    clock.set(sh(2026, 3, 10, 9, 0))  # a week later: the old deadline has long passed
    await watchdog(hub).tick()
    assert await outbox_events(hub, "referral.supervision_raised.v1", case_no) == []
    resumed = await api.ok(rid, "resume", department=POLICE)
    # Paused Tue 03-03 09:00 → Tue 03-10 09:00 = 5 working days: the deadline moves from Thu 03-05
    # to Thu 03-12, same hour.
    assert at(resumed["referral"]["due_at"]) == sh(2026, 3, 12, 9, 0)
    assert not resumed["referral"]["suspended"]
    (event,) = await outbox_events(hub, "referral.resumed.v1", case_no)
    assert at(event["due_at"]) == sh(2026, 3, 12, 9, 0)
    await watchdog(hub).tick()
    assert await outbox_events(hub, "referral.supervision_raised.v1", case_no) == []
    # The reminder comes at 80% of the time that counted: 2.4 of 3 working days, i.e. 1.4 working
    # days after the resumption (Wed 03-11 18:36), not 80% of the wall time since dispatch.
    clock.set(sh(2026, 3, 11, 18, 35))
    await watchdog(hub).tick()
    assert await outbox_events(hub, "referral.supervision_raised.v1", case_no) == []
    clock.set(sh(2026, 3, 11, 18, 36))
    await watchdog(hub).tick()
    raised = await outbox_events(hub, "referral.supervision_raised.v1", case_no)
    assert [e["level"] for e in raised] == ["reminder"] and raised[0]["deadline_kind"] == "handling"


async def test_dissatisfied_callback_reopens_and_dispatches_round_two(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    for department in (HOUSING, POLICE):
        rid = by_department(state, department)["id"]
        await api.ok(rid, "acknowledge", department=department)
        await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已处理"}, department=department)
    clock.advance(timedelta(days=2))
    response = await api.post(
        f"/api/v1/cases/{case_no}/callback", {"satisfaction": "dissatisfied", "comment": "油烟仍倒灌"}
    )
    assert response.status_code == 200, response.text
    case = response.json()["case"]
    assert case["status"] == "dispatched" and case["round"] == 2 and case["satisfaction"] == "dissatisfied"
    round2 = {r["department"]: r for r in case["referrals"] if r["round"] == 2}
    assert set(round2) == {HOUSING, POLICE, JUSTICE}
    assert round2[HOUSING]["role"] == "lead" and round2[HOUSING]["status"] == "dispatched"
    assert at(round2[HOUSING]["dispatched_at"]) == sh(2026, 3, 4, 9, 0)
    assert by_department(case, JUSTICE, 1)["status"] == "cancelled"  # round 1's open one
    (reopened,) = await outbox_events(hub, "case.reopened.v1", case_no)
    assert reopened["round"] == 2 and reopened["satisfaction"] == "dissatisfied"
    dispatched = await outbox_events(hub, "referral.dispatched.v1", case_no)
    assert sum(1 for e in dispatched if e["round"] == 2) == 3

    # A late SMS rating for round 1 changes nothing.
    await emit_as(
        hub,
        "notification",
        "sms.reply_received.v1",
        case_no,
        {"case_no": case_no, "satisfaction": "satisfied", "received_at": datetime.now(UTC).isoformat()},
    )
    await eventually(lambda: _inbox_has(hub, "sms.reply_received.v1"), what="SMS rating consumed")
    assert (await api.state(case_no))["status"] == "dispatched"


async def test_sms_rating_closes_and_anonymous_case_closes_on_reply(hub: InProcessHub) -> None:
    api = Api(hub)
    rated = await api.register(SECURITY)
    anonymous = await api.register(case_body("public_security", anonymous=True))
    for case_no in (rated, anonymous):
        rid = (await api.dispatched(case_no))["referrals"][0]["id"]
        await api.ok(rid, "acknowledge", department=POLICE)
        await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已处理"}, department=POLICE)

    anon = await api.state(anonymous)
    assert anon["status"] == "closed" and anon["close_reason"] == "anonymous_reporter"

    await emit_as(
        hub,
        "notification",
        "sms.reply_received.v1",
        rated,
        {
            "case_no": rated,
            "satisfaction": "basically_satisfied",
            "received_at": datetime.now(UTC).isoformat(),
        },
    )
    state = await eventually(
        lambda: api.state(rated), until=lambda s: s["status"] == "closed", what="closed by SMS"
    )
    assert state["satisfaction"] == "basically_satisfied"
    (closed,) = await outbox_events(hub, "case.closed.v1", rated)
    assert closed["via"] == "sms" and closed["satisfaction"] == "basically_satisfied"

    # 12345's own callback result, when it arrives as an event from the gateway's adapter.
    hotline = await api.register(distinct(SECURITY, 7))
    rid = (await api.dispatched(hotline))["referrals"][0]["id"]
    await api.ok(rid, "acknowledge", department=POLICE)
    await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已处理"}, department=POLICE)
    await emit_as(
        hub,
        "gateway",
        "hotline.rating_received.v1",
        hotline,
        {"case_no": hotline, "satisfaction": "dissatisfied", "comment": "未解决"},
    )
    state = await eventually(
        lambda: api.state(hotline), until=lambda s: s["round"] == 2, what="reopened by 12345"
    )
    assert state["status"] == "dispatched" and state["satisfaction"] == "dissatisfied"
    (reopened,) = await outbox_events(hub, "case.reopened.v1", hotline)
    assert reopened["actor_role"] == "adapter" and reopened["via"] == "hotline12345"


async def test_withdraw_and_merge_cancel_open_referrals(hub: InProcessHub) -> None:
    api = Api(hub)
    withdrawn = await api.register(FACILITIES)
    merged = await api.register(SECURITY)
    await api.dispatched(withdrawn, 3)
    await api.dispatched(merged)

    response = await api.post(f"/api/v1/cases/{withdrawn}/withdraw", {"reason": "当事人已自行协商解决"})
    assert response.status_code == 200, response.text
    case = response.json()["case"]
    assert case["status"] == "withdrawn"
    assert {r["status"] for r in case["referrals"]} == {"cancelled"}
    assert {e["reason"] for e in await outbox_events(hub, "referral.cancelled.v1", withdrawn)} == {
        "case_withdrawn"
    }
    assert len(await outbox_events(hub, "case.withdrawn.v1", withdrawn)) == 1
    again = await api.post(f"/api/v1/cases/{withdrawn}/withdraw", {"reason": "again"})
    assert again.status_code == 200 and not again.json()["changed"]

    await emit_as(
        hub,
        "intake",
        "case.merged.v1",
        merged,
        {"case_no": merged, "into": withdrawn, "channel": "window", "actor_role": "centre"},
    )
    state = await eventually(
        lambda: api.state(merged), until=lambda s: s["status"] == "merged", what="merged"
    )
    assert state["merged_into"] == withdrawn and state["referrals"][0]["status"] == "cancelled"
    (cancelled,) = await outbox_events(hub, "referral.cancelled.v1", merged)
    assert cancelled["reason"] == "case_merged"


async def _inbox_has(hub: InProcessHub, event_type: str) -> bool:
    rt = hub.runtime("referral")
    inbox = referral_kit.inbox
    async with rt.db.sessions() as session:
        found = (
            await session.execute(select(inbox.c.event_id).where(inbox.c.event_type == event_type))
        ).first()
    return found is not None
