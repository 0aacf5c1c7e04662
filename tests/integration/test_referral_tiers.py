"""Issue 9 through the gateway's public API, on SQLite and PostgreSQL, with a frozen clock:
procedures per category (信访 vs "135"), provisional deadlines and `hub calendar load`, tiered centres
(上报/下派 and where each case was finally resolved)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from hub import audit, failpoints
from hubcli.main import app as hub_cli
from services.referral.clock import ManualClock
from services.referral.data import read_data_file
from services.referral.domain.calendar import WorkingCalendar
from services.referral.domain.procedure_documents import load_procedures
from services.referral.tables import audit_log
from services.referral.usecases.context import Context
from tests.integration.test_referral_flow import (
    FACILITIES,
    HOUSING,
    SECURITY,
    Api,
    at,
    by_department,
    case_body,
    outbox_events,
    problem,
    sh,
    start_hub,
)
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SCHEDULE_2027 = Path(__file__).resolve().parents[1] / "fixtures" / "schedules" / "schedule_2027_sample.yaml"
DISTRICT, STREET, COMMUNITY = "150203", "150203001000", "150203001001"
PETITIONS = "petitions_bureau@150203"


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


def context(hub: InProcessHub) -> Context:
    found: Context = hub.apps["referral"].app.state.usecases.context
    return found


def deadline(referral: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((d for d in referral["deadlines"] if d["kind"] == kind), None)


async def audit_actions(hub: InProcessHub) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Referral's audit log, after checking its hash chain (what `hub audit verify` does)."""
    async with hub.runtime("referral").db.sessions() as session:
        rows = await audit.read_chain(session, audit_log)
    assert audit.verify(rows, hub.settings.hash_key).ok
    return [(r.action, r.case_no, r.detail) for r in rows]


# --- procedures per category -------------------------------------------------------------------------

PETITION = {
    **case_body("petition"),
    "request_type": "complaint",
    "title": "征收补偿款迟迟未发放",
    "description": "小区征收补偿款半年未发放，多次到街道反映无果，现依《信访工作条例》提出信访事项",
    "location": {"address": "昆都仑区钢铁大街88号院", "street_code": STREET},
}

PROCEDURES_V2 = (
    read_data_file("procedures.yaml")
    .replace(
        """    version: 1
    name_zh: 信访事项办理程序""",
        """    version: 2
    name_zh: 信访事项办理程序""",
    )
    .replace("    handling: 60 calendar_days", "    handling: 90 calendar_days")
    .replace("      max_total: 30 calendar_days", "      max_total: 10 calendar_days")
)


async def test_a_petition_gets_the_petition_deadlines_and_a_135_case_beside_it_does_not(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    petition_no = await api.register(PETITION)
    ordinary_no = await api.register(SECURITY)
    petition = by_department(await api.dispatched(petition_no), PETITIONS)
    ordinary = (await api.dispatched(ordinary_no))["referrals"][0]

    # 信访工作条例: decide whether to accept within 15 days, handle within 60 (calendar days; an end on
    # a rest day rolls to the next working day: 05-01 is Labour Day, 05-01..05-05 off → 05-06).
    assert (petition["procedure_id"], petition["procedure_version"]) == ("petition", 1)
    acceptance = deadline(petition, "acceptance")
    assert acceptance is not None and acceptance["limit"] == "15 calendar_days"
    assert at(acceptance["due_at"]) == sh(2026, 3, 17, 9, 0)
    handling = deadline(petition, "handling")
    assert handling is not None and handling["limit"] == "60 calendar_days"
    assert at(petition["due_at"]) == sh(2026, 5, 6, 9, 0)

    # The "135" case beside it: immediate response, 3 working days, no acceptance step.
    assert (ordinary["procedure_id"], ordinary["procedure_version"]) == ("135", 1)
    assert deadline(ordinary, "acceptance") is None
    assert deadline(ordinary, "handling")["limit"] == "3 working_days"  # type: ignore[index]
    assert at(ordinary["due_at"]) == sh(2026, 3, 5, 9, 0)

    # A new regulation is a configuration change: procedures.yaml v2 (handling 90 days, extension at
    # most 10). The petition already running keeps v1: its extension of 30 days is still allowed.
    ctx = context(hub)
    ctx.configs.swap(replace(ctx.config, book=load_procedures(PROCEDURES_V2)))
    clock.set(sh(2026, 3, 3, 9, 0))
    await api.ok(petition["id"], "acknowledge", department=PETITIONS)
    await api.ok(
        petition["id"], "extension", {"working_days": 30, "reason": "需调取征收档案"}, department=PETITIONS
    )
    decided = await api.act(
        petition["id"], "extension/decision", {"approved": True}, role="centre", department=None
    )
    assert decided.status_code == 200, decided.text
    extended = decided.json()["referral"]
    assert (extended["procedure_id"], extended["procedure_version"]) == ("petition", 1)
    assert at(extended["due_at"]) == sh(2026, 6, 1, 9, 0)  # 90 days from 03-02 is Sun 05-31 → Mon 06-01
    # … while a petition registered now runs under v2.
    later_no = await api.register(
        {**PETITION, "location": {"address": "昆都仑区阿尔丁大街1号", "street_code": STREET}}
    )
    later = by_department(await api.dispatched(later_no), PETITIONS)
    assert (later["procedure_id"], later["procedure_version"]) == ("petition", 2)
    assert deadline(later, "handling")["limit"] == "90 calendar_days"  # type: ignore[index]
    acknowledged = await api.act(later["id"], "acknowledge", department=PETITIONS)
    assert acknowledged.status_code == 200
    too_long = await api.act(
        later["id"], "extension", {"working_days": 30, "reason": "x"}, department=PETITIONS
    )
    assert problem(too_long, 422)["code"] == "exceeds_total"


# --- provisional deadlines and `hub calendar load` -----------------------------------------------------


async def test_a_deadline_into_an_unpublished_year_is_provisional_then_recomputed_once_by_hub_calendar_load(
    hub: InProcessHub, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The pinned chinese_calendar (1.11.0) covers 2004–2026 and knows nothing of 2027.
    assert WorkingCalendar().covers(2026) and not WorkingCalendar().covers(2027)
    clock.set(sh(2026, 12, 28, 10, 0))  # Monday; 7 working days reach into 2027
    api = Api(hub)
    caplog.set_level(logging.WARNING, logger="hub.referral")
    case_no = await api.register(FACILITIES)  # three departments: time-limited, 7 working days
    lead = by_department(await api.dispatched(case_no, 3), HOUSING)

    # Weekends only: Tue 12-29, Wed, Thu 12-31, Fri 2027-01-01 (not known to be a holiday), Mon 01-04,
    # Tue, Wed 01-06 10:00 — flagged on the deadline, the referral and the case.
    assert lead["provisional"] and lead["deadline_provisional"]
    assert deadline(lead, "handling")["provisional_years"] == [2027]  # type: ignore[index]
    assert at(lead["due_at"]) == sh(2027, 1, 6, 10, 0)
    public = await api.case(case_no)
    assert public["provisional"] is True
    assert all(r["provisional"] for r in public["referrals"])
    # Ops are warned: a log line without personal data, a metric and an event per referral.
    warnings = [r.getMessage() for r in caplog.records if "weekends only" in r.getMessage()]
    assert warnings and all("2027" in w and case_no not in w for w in warnings)
    events = await outbox_events(hub, "referral.deadlines_provisional.v1", case_no)
    assert len(events) == 3 and all(e["years"] == [2027] for e in events)
    async with http_client(base_url=hub.apps["referral"].url) as client:
        metrics = (await client.get("/metrics")).text
    assert 'hub_referral_provisional_deadlines_total{year="2027"} 3.0' in metrics
    # Past its acknowledge deadline, /ops/stalled shows the referral with its deadline provisional.
    clock.set(sh(2026, 12, 31, 12, 0))
    stalled = (await api.get("/api/v1/ops/stalled")).json()["items"]
    mine = [s for s in stalled if s["case_no"] == case_no and s["department"] == HOUSING]
    assert mine and all(s["provisional"] for s in mine), stalled

    # The schedule arrives: `hub calendar load FILE` (here the sample 2027 file, New Year 01-01..03 off).
    # Through the gateway with a (local) centre token: the CLI never calls referral's port.
    command = ["calendar", "load", str(SCHEDULE_2027), "--gateway", hub.gateway]
    result = await asyncio.to_thread(CliRunner().invoke, hub_cli, command)
    assert result.exit_code == 0, result.output
    assert "3 provisional deadline(s) recomputed" in result.output

    lead = by_department(await api.state(case_no), HOUSING)
    assert at(lead["due_at"]) == sh(2027, 1, 7, 10, 0)  # 01-01 no longer counts
    assert not lead["provisional"] and deadline(lead, "handling")["provisional_years"] == []  # type: ignore[index]
    assert (await api.case(case_no))["provisional"] is False

    # Loading it again (the console, through the gateway) recomputes nothing: exactly once.
    again = await api.post(
        "/api/v1/calendar/schedules",
        {"text": SCHEDULE_2027.read_text(encoding="utf-8"), "source": SCHEDULE_2027.name},
    )
    assert again.status_code == 200, again.text
    assert again.json()["recomputed"] == 0
    recomputed = await outbox_events(hub, "referral.deadlines_recomputed.v1", case_no)
    handling_lead = [e for e in recomputed if e["department"] == HOUSING and e["deadline_kind"] == "handling"]
    assert len(handling_lead) == 1
    assert at(handling_lead[0]["previous_due_at"]) == sh(2027, 1, 6, 10, 0)
    assert at(handling_lead[0]["due_at"]) == sh(2027, 1, 7, 10, 0)
    assert len(recomputed) == 3

    # Audited (both loads), and the calendar now says where 2027 comes from.
    loads = [a for a in await audit_actions(hub) if a[0] == "calendar.schedule_loaded"]
    assert [(d["year"], d["recomputed"], d["unchanged"]) for _a, _c, d in loads] == [
        (2027, 3, False),
        (2027, 0, True),
    ]
    status = (await api.get("/api/v1/calendar")).json()
    assert {y["year"]: y["source"] for y in status["years"]} == {2026: "chinese_calendar", 2027: "schedule"}
    assert status["provisional_open_deadlines"] == 0

    # A year far beyond any schedule never raises: weekends only, flagged.
    clock.set(sh(2099, 12, 30, 10, 0))
    far = await api.register(SECURITY)
    far_referral = (await api.dispatched(far))["referrals"][0]
    assert far_referral["provisional"]


# --- tiered centres --------------------------------------------------------------------------------------


def neighbour(address: str, **extra: Any) -> dict[str, Any]:
    return {
        **case_body("neighbour"),
        "title": "楼上漏水",
        "description": f"{address}楼上卫生间漏水，协商多次无果",
        "location": {"address": address, "street_code": COMMUNITY},
        **extra,
    }


async def test_a_case_escalated_from_community_to_street_to_district_is_dispatched_at_each_level(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(neighbour("昆都仑区白云路第二社区5栋"))
    state = await api.dispatched(case_no)
    # The case belongs to the community's mediation room and goes to the community's own unit.
    assert (state["centre_id"], state["centre_level"]) == (COMMUNITY, "community")
    lead = next(r for r in state["referrals"] if r["role"] == "lead")
    assert lead["department"] == f"community@{COMMUNITY}" and lead["centre_id"] == COMMUNITY

    # The community cannot settle it: its lead replies unresolved, the centre escalates (上报).
    await api.ok(lead["id"], "acknowledge", department=lead["department"])
    await api.ok(
        lead["id"], "reply", {"outcome": "unresolved", "summary": "双方分歧大"}, department=lead["department"]
    )
    no_reason = await api.post(f"/api/v1/cases/{case_no}/escalate", {"reason": ""})
    assert no_reason.status_code == 422
    clock.set(sh(2026, 3, 3, 9, 0))
    escalated = await api.post(f"/api/v1/cases/{case_no}/escalate", {"reason": "社区调解未果，涉及物业责任"})
    assert escalated.status_code == 200, escalated.text
    state = escalated.json()["case"]
    assert (state["centre_id"], state["centre_level"], state["round"]) == (STREET, "street", 2)
    street_round = [r for r in state["referrals"] if r["round"] == 2]
    assert {r["department"] for r in street_round} == {
        f"community@{STREET}",  # 街道社区工作办公室 leads
        f"justice_office@{STREET}",
        f"police_station@{STREET}",
        "property_management@150203",
    }
    assert all(r["centre_id"] == STREET for r in street_round)
    street_lead = next(r for r in street_round if r["role"] == "lead")
    await api.ok(street_lead["id"], "acknowledge", department=street_lead["department"])

    # Still no settlement at the street: escalated again, to the district centre, while in progress.
    clock.set(sh(2026, 3, 4, 9, 0))
    escalated = await api.post(f"/api/v1/cases/{case_no}/escalate", {"reason": "街道调处未果，需区级联动"})
    assert escalated.status_code == 200, escalated.text
    state = escalated.json()["case"]
    assert (state["centre_id"], state["centre_level"]) == (DISTRICT, "district")
    district_open = [
        r for r in state["referrals"] if r["status"] == "dispatched" and r["centre_id"] == DISTRICT
    ]
    assert {r["department"]: r["role"] for r in district_open} == {
        "justice_office@150203": "lead",  # 区司法局（人民调解）
        "court@150203": "assisting",
        "police_station@150203": "assisting",
    }
    # The street's referrals are withdrawn from the street's units (the case is no longer theirs).
    assert {r["status"] for r in state["referrals"] if r["centre_id"] == STREET} == {"cancelled"}
    top = await api.post(f"/api/v1/cases/{case_no}/escalate", {"reason": "再上报"})
    assert problem(top, 409)["type"].endswith("no-parent-centre")

    # The district settles it.
    district_lead = next(r for r in district_open if r["role"] == "lead")
    await api.ok(district_lead["id"], "acknowledge", department=district_lead["department"])
    await api.ok(
        district_lead["id"],
        "reply",
        {"outcome": "mediated", "summary": "区人民调解委员会调解成功"},
        department=district_lead["department"],
    )
    rated = await api.post(f"/api/v1/cases/{case_no}/callback", {"satisfaction": "satisfied"})
    assert rated.status_code == 200, rated.text
    final = rated.json()["case"]
    assert final["status"] == "closed" and (final["resolved_centre_id"], final["resolved_level"]) == (
        DISTRICT,
        "district",
    )
    assert [(m["kind"], m["from_centre"], m["to_centre"]) for m in final["centre_moves"]] == [
        ("assigned", None, COMMUNITY),
        ("escalated", COMMUNITY, STREET),
        ("escalated", STREET, DISTRICT),
    ]

    # A second dispute in the same community is settled there.
    clock.set(sh(2026, 3, 5, 9, 0))
    small = await api.register(
        neighbour("昆都仑区白云路第二社区9栋", reporter={"name": "赵先生", "phone": "13900001111"})
    )
    lead = next(r for r in (await api.dispatched(small))["referrals"] if r["role"] == "lead")
    await api.ok(lead["id"], "acknowledge", department=lead["department"])
    await api.ok(
        lead["id"], "reply", {"outcome": "resolved", "summary": "已修复"}, department=lead["department"]
    )
    assert (
        await api.post(f"/api/v1/cases/{small}/callback", {"satisfaction": "satisfied"})
    ).status_code == 200

    # Statistics by the level at which each case was finally resolved, read a little later.
    clock.advance(timedelta(minutes=5))
    stats = (await api.get("/api/v1/stats/resolution-levels")).json()
    assert stats["resolved"] == 2
    assert {b["level"]: b["resolved"] for b in stats["by_level"]} == {
        "community": 1,
        "street": 0,
        "district": 1,
    }
    assert {b["level"]: b["share"] for b in stats["by_level"]}["community"] == 0.5
    street_scope = (await api.get("/api/v1/stats/resolution-levels", params={"centre": STREET})).json()
    assert street_scope["resolved"] == 1  # the district's own resolution is not the street's
    # Bounded (issue 16): the closings of the last year up to now by default, the period stated; an
    # earlier period counts none of these; a span wider than the maximum is refused, nothing read.
    stated = (datetime.fromisoformat(stats["from"]), datetime.fromisoformat(stats["to"]))
    assert stated == (clock() - timedelta(days=366), clock()), stats
    before = {"from": "2025-01-01T00:00:00+08:00", "to": "2026-03-01T00:00:00+08:00"}
    assert (await api.get("/api/v1/stats/resolution-levels", params=before)).json()["resolved"] == 0
    wide = await api.get(
        "/api/v1/stats/resolution-levels",
        params={"from": "2020-01-01T00:00:00Z", "to": "2026-03-06T00:00:00Z"},
    )
    assert wide.status_code == 422 and [e["field"] for e in wide.json()["errors"]] == ["from"], wide.text
    assert "HUB_REFERRAL_STATS_RANGE_MAX_DAYS" in wide.json()["detail"]

    # Every move is on the timeline and in the audit log.
    timeline = await eventually(
        lambda: _timeline(api, case_no),
        until=lambda t: (
            sum(e["event"] == "case.centre_moved.v1" for e in t) == 2
            and any(e["event"] == "case.closed.v1" for e in t)
        ),
        what="the moves on the timeline",
    )
    moves = [e["detail"] for e in timeline if e["event"] == "case.centre_moved.v1"]
    assert [(m["kind"], m["from_level"], m["to_level"]) for m in moves] == [
        ("escalated", "community", "street"),
        ("escalated", "street", "district"),
    ]
    assert any(
        e["event"] == "case.centre_assigned.v1" and e["detail"]["centre_level"] == "community"
        for e in timeline
    )
    audited = [(a, d["from_centre"], d["to_centre"]) for a, c, d in await audit_actions(hub) if c == case_no]
    assert audited == [("case.escalated", COMMUNITY, STREET), ("case.escalated", STREET, DISTRICT)]


async def _timeline(api: Api, case_no: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/cases/{case_no}/timeline")
    return response.json() if response.status_code == 200 else []


async def test_red_cases_reach_the_district_at_once_and_a_centre_delegates_down(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    red = await api.register(neighbour("昆都仑区白云路第二社区7栋", flags=["violence_threat"]))
    state = await api.dispatched(red)
    assert state["colour"] == "red" and state["centre_level"] == "community"
    assert state["district_alerted_at"] is not None
    seen = (await api.get(f"/api/v1/centres/{DISTRICT}/cases", params={"colour": "red"})).json()
    assert red in [c["case_no"] for c in seen["items"]]
    other_street = (await api.get("/api/v1/centres/150203002000/cases")).json()
    assert red not in [c["case_no"] for c in other_street["items"]]
    events = await outbox_events(hub, "case.district_alerted.v1", red)
    assert [(e["district_centre"], e["holding_centre"]) for e in events] == [(DISTRICT, COMMUNITY)]

    # 下派: a case the street holds is handed down to the community's mediation room.
    case_no = await api.register(
        {**neighbour("昆都仑区白云路某小区"), "location": {"address": "白云路某小区", "street_code": STREET}}
    )
    state = await api.dispatched(case_no)
    assert state["centre_id"] == STREET
    wrong = await api.post(f"/api/v1/cases/{case_no}/delegate", {"to_centre": "150203002000"})
    assert wrong.status_code == 409  # not below the street centre
    down = await api.post(
        f"/api/v1/cases/{case_no}/delegate", {"to_centre": COMMUNITY, "reason": "属社区调解范围"}
    )
    assert down.status_code == 200, down.text
    state = down.json()["case"]
    assert state["centre_id"] == COMMUNITY
    lead = next(r for r in state["referrals"] if r["role"] == "lead" and r["status"] == "dispatched")
    assert lead["department"] == f"community@{COMMUNITY}"
    audited = [a for a, c, _d in await audit_actions(hub) if c == case_no]
    assert audited == ["case.delegated"]
    assert json.dumps(state["centre_moves"][-1]["reason"], ensure_ascii=False) == '"属社区调解范围"'


async def test_a_case_raised_to_red_later_reaches_the_district_and_the_lists_follow(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(neighbour("昆都仑区白云路第二社区9栋"))
    state = await api.dispatched(case_no)
    assert state["colour"] != "red" and state["district_alerted_at"] is None

    raised = await api.post(
        f"/api/v1/cases/{case_no}/assessment", {"colour": "red", "reason": "现场确认有冲突升级风险"}
    )
    assert raised.status_code == 200, raised.text
    state = await eventually(
        lambda: api.state(case_no), until=lambda s: s["colour"] == "red", what="referral sees the new colour"
    )
    assert state["district_alerted_at"] is not None and state["centre_level"] == "community"
    seen = (await api.get(f"/api/v1/centres/{DISTRICT}/cases", params={"colour": "red"})).json()
    assert case_no in [c["case_no"] for c in seen["items"]]
    assert case_no in [
        c["case_no"] for c in (await api.get("/api/v1/cases", params={"colour": "red"})).json()["items"]
    ]
    events = await outbox_events(hub, "case.district_alerted.v1", case_no)
    assert [(e["district_centre"], e["holding_centre"]) for e in events] == [(DISTRICT, COMMUNITY)]


async def test_a_schedule_load_that_does_not_commit_leaves_the_calendar_as_it_was(
    hub: InProcessHub, clock: ManualClock, tmp_path: Path
) -> None:
    clock.set(sh(2026, 12, 28, 10, 0))
    api = Api(hub)
    case_no = await api.register(FACILITIES)  # 7 working days: into 2027
    assert by_department(await api.dispatched(case_no, 3), HOUSING)["provisional"]
    text = SCHEDULE_2027.read_text(encoding="utf-8")

    failpoints.configure("referral.calendar.before_commit=raise", tmp_path / "failpoints")
    try:
        failed = await api.post("/api/v1/calendar/schedules", {"text": text, "source": SCHEDULE_2027.name})
    finally:
        failpoints.configure("", tmp_path / "failpoints")
    assert failed.status_code == 500, failed.text
    # Rolled back: nothing stored, and this process still counts 2027 on weekends only.
    assert not context(hub).config.calendar.covers(2027)
    status = (await api.get("/api/v1/calendar")).json()
    assert 2027 not in {y["year"] for y in status["years"] if y["source"] == "schedule"}
    assert by_department(await api.state(case_no), HOUSING)["provisional"]

    loaded = await api.post("/api/v1/calendar/schedules", {"text": text, "source": SCHEDULE_2027.name})
    assert loaded.status_code == 200 and loaded.json()["recomputed"] >= 1, loaded.text
    assert not by_department(await api.state(case_no), HOUSING)["provisional"]
