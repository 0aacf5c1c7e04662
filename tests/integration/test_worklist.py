"""The worklist (待办, issue 12): follow-ups that fall due and weak signals reach a person, once.

The whole hub in-process on SQLite and PostgreSQL with real RabbitMQ and the SMS simulator; the
referral service runs on a ManualClock (bootstrap(clock=…)), as in test_referral_watchdog.py, so
follow-ups fall due when the test moves the clock, never by sleeping. Early-warning thresholds are the
ops settings (HUB_OPS_BURST_THRESHOLD …), set low here so a burst takes a few cases.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from hub import audit
from services.notification.domain.phones import national
from services.notification.domain.templates import load_default_catalog
from services.referral.clock import ManualClock
from services.referral.tables import audit_log
from tests.integration.test_referral_flow import (
    POLICE,
    SECURITY,
    STREET,
    Api,
    case_body,
    distinct,
    problem,
    sh,
    watchdog,
)
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.quiescence import wait_quiescent
from tests.kit.waiting import eventually

BURST = 3  # HUB_OPS_BURST_THRESHOLD for these tests
GRID = "G-0101"
STREET_CENTRE = STREET  # 白云路街道综治中心 holds the cases of its street
# services/notification/data/contacts.yaml (fake numbers): the street centre's people for each kind
GRID_SUPERVISOR = "13904719111"  # follow_up
ANALYST = "13904719112"  # weak_signal_burst, repeat_reporter
PERSONAL = ("王女士", "李先生", "13812341234", "1390000")
CLIENT = "centre-worklist-test"


def code(template: str) -> str:
    return load_default_catalog().get(template).provider_code


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 3, 2, 9, 0))  # Monday


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
        running_hub(make_settings(tmp_path, amqp_url, db_url, ops_burst_threshold=BURST)) as running,
    ):
        yield running


class Worklist:
    """The worklist through the gateway, as the centre (or ops) calls it."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def list(self, role: str = "centre", **params: Any) -> dict[str, Any]:
        response = await self.api.get("/api/v1/tasks", role=role, params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    async def items(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.list(**params))["items"]
        return items

    async def act(self, task_id: str, action: str, body: dict[str, Any], *, role: str = "centre") -> Any:
        async with http_client(base_url=self.api.hub.gateway) as client:
            return await client.post(
                f"/api/v1/tasks/{task_id}/{action}",
                json=body,
                headers={"X-Hub-Actor-Role": role, "X-Hub-Actor-Id": CLIENT},
            )


async def sms_with(hub: InProcessHub, template: str) -> list[dict[str, Any]]:
    return [m for m in await hub.sms_received() if m["template_code"] == code(template)]


async def one_sms(hub: InProcessHub, template: str) -> dict[str, Any]:
    """Wait for the template's first SMS, then for the hub to be at rest: exactly one was sent."""
    await eventually(lambda: sms_with(hub, template), what=f"an SMS {template}")
    await wait_quiescent(hub.settings)
    sent = await sms_with(hub, template)
    assert len(sent) == 1, sent
    return sent[0]


async def close_with_satisfaction(api: Api, case_no: str) -> None:
    rid = (await api.dispatched(case_no))["referrals"][0]["id"]
    await api.ok(rid, "acknowledge", department=POLICE)
    await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已处理"}, department=POLICE)
    closed = await api.post(f"/api/v1/cases/{case_no}/callback", {"satisfaction": "satisfied"})
    assert closed.json()["case"]["status"] == "closed", closed.text


def noise_in_grid(i: int) -> dict[str, Any]:
    body = distinct(case_body("noise"), i)
    return {**body, "location": {**body["location"], "grid_code": GRID}}


# --- a follow-up that falls due ---------------------------------------------------------------------


async def test_a_follow_up_that_falls_due_is_one_task_and_one_sms(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api, worklist = Api(hub), Worklist(Api(hub))
    red = await api.register(case_body("public_security", people=40))  # red: followed up daily
    await close_with_satisfaction(api, red)
    assert await worklist.items(kind="follow_up") == []

    clock.set(sh(2026, 3, 3, 9, 0))  # the first daily follow-up
    for _ in range(3):  # the service's own loop may fire it too: still one task
        await watchdog(hub).tick()
    (task,) = await worklist.items(centre=STREET_CENTRE, kind="follow_up", status="open")
    assert (task["case_no"], task["colour"], task["cadence"], task["sequence"]) == (red, "red", "daily", 1)
    assert task["title"] == "三色回访" and task["allowed_actions"] == ["done", "snooze"]
    assert task["centre_name"] == "白云路街道综治中心"
    assert [h["action"] for h in task["history"]] == ["created"]

    sms = await one_sms(hub, "task_follow_up")
    assert sms["phone"] == national("+86" + GRID_SUPERVISOR)
    assert sms["params"]["case_no"] == red and sms["params"]["sequence"] == "1"
    assert sms["text"].startswith("【昆都仑区综治中心】回访提醒：已办结红色事项")
    assert not any(p in sms["text"] for p in PERSONAL)  # the case number and what to do, nobody's data

    # The next day's follow-up is a task of its own (and a message of its own).
    clock.set(sh(2026, 3, 4, 9, 0))
    await watchdog(hub).tick()
    tasks = await worklist.items(kind="follow_up")
    assert sorted(t["sequence"] for t in tasks) == [1, 2]
    await eventually(lambda: sms_with(hub, "task_follow_up"), until=lambda found: len(found) == 2, what="2nd")


# --- a burst of cases in one grid --------------------------------------------------------------------


async def test_a_burst_in_one_grid_is_one_task_and_one_sms_however_many_cases_join(hub: InProcessHub) -> None:
    api, worklist = Api(hub), Worklist(Api(hub))
    first = [await api.register(noise_in_grid(i)) for i in range(BURST - 1)]
    for case_no in first:
        await api.dispatched(case_no)
    assert await worklist.items(kind="weak_signal_burst") == []  # below the threshold

    first.append(await api.register(noise_in_grid(BURST - 1)))
    (task,) = await eventually(
        lambda: worklist.items(kind="weak_signal_burst"),
        until=lambda items: len(items) == 1,
        what="burst task",
    )
    assert (task["scope"], task["area"], task["category"]) == ("grid", GRID, "noise")
    assert task["case_count"] == BURST and sorted(task["case_nos"]) == sorted(first)
    assert task["centre_id"] == STREET_CENTRE and task["status"] == "open"

    # More cases in the window, several at once: they join the task, none raises another.
    more = await asyncio.gather(*(api.register(noise_in_grid(BURST + i)) for i in range(4)))
    await eventually(
        lambda: worklist.items(kind="weak_signal_burst"),
        until=lambda items: sum(t["case_count"] for t in items) >= BURST + 4,
        what="later cases joining",
    )
    sms = await one_sms(hub, "task_weak_signal_burst")  # and the hub at rest
    (grown_task,) = await worklist.items(kind="weak_signal_burst")  # one task: the grid's, no street twin
    assert grown_task["id"] == task["id"] and grown_task["case_count"] == BURST + 4
    assert sorted(grown_task["case_nos"]) == sorted([*first, *more])

    assert sms["phone"] == national("+86" + ANALYST)
    assert sms["params"]["area"] == f"网格{GRID}" and sms["params"]["count"] == str(BURST)
    assert "24小时内噪声扰民事项已达3件" in sms["text"]
    assert not any(p in sms["text"] for p in PERSONAL)


async def test_cases_arriving_together_make_one_burst_task_holding_them_all(hub: InProcessHub) -> None:
    """Referral handles registrations concurrently: the cases of one grid and category are placed one
    at a time (a lock per signal key), so none is missed and no second task appears."""
    api, worklist = Api(hub), Worklist(Api(hub))
    together = await asyncio.gather(*(api.register(noise_in_grid(i)) for i in range(2 * BURST)))
    await eventually(
        lambda: worklist.items(kind="weak_signal_burst"),
        until=lambda items: sum(t["case_count"] for t in items) >= len(together),
        what="every case placed",
    )
    await one_sms(hub, "task_weak_signal_burst")
    (task,) = await worklist.items(kind="weak_signal_burst")
    assert sorted(task["case_nos"]) == sorted(together) and task["scope"] == "grid"


async def test_a_repeat_reporter_is_one_task_named_by_a_keyed_hash(hub: InProcessHub) -> None:
    api, worklist = Api(hub), Worklist(Api(hub))
    same = {"name": "赵六", "phone": "13900009999"}
    categories = ("noise", "property", "sanitation", "neighbour")
    for i, category in enumerate(categories):
        body = case_body(category, reporter=same)
        await api.register({**body, "location": {**body["location"], "address": f"昆都仑区友谊大街{i}号"}})
    (task,) = await eventually(
        lambda: worklist.items(kind="repeat_reporter"),
        until=lambda items: bool(items) and items[0]["case_count"] == len(categories),
        what="repeat reporter task",
    )
    assert len(task["reporter_key"]) == 16 and task["centre_id"] == STREET_CENTRE
    sms = await one_sms(hub, "task_repeat_reporter")
    assert sms["params"]["count"] == "3" and sms["phone"] == national("+86" + ANALYST)
    page = json.dumps(await worklist.list(role="ops"), ensure_ascii=False)
    assert "13900009999" not in page and "赵六" not in page


# --- done and snooze --------------------------------------------------------------------------------


async def test_done_and_snooze_are_audited_and_refused_where_not_allowed(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api, worklist = Api(hub), Worklist(Api(hub))
    for i in range(BURST):
        await api.register(noise_in_grid(i))
    (task,) = await eventually(
        lambda: worklist.items(kind="weak_signal_burst"), until=lambda items: len(items) == 1, what="a task"
    )
    tid = task["id"]

    # Bad input is refused with a clear problem and changes nothing.
    past = (clock() - timedelta(minutes=1)).isoformat()
    assert problem(await worklist.act(tid, "snooze", {"until": past}), 422)["errors"][0]["field"] == "until"
    naive = await worklist.act(tid, "snooze", {"until": "2026-03-02T12:00:00"})
    assert problem(naive, 422)["errors"][0]["field"] == "until"
    too_far = (clock() + timedelta(days=91)).isoformat()
    assert "90 天" in problem(await worklist.act(tid, "snooze", {"until": too_far}), 422)["detail"]
    assert problem(await worklist.act(tid, "done", {}), 422)["errors"][0]["field"] == "note"
    assert problem(await worklist.act(tid, "done", {"note": "看过"}, role="ops"), 403)
    missing = await api.get("/api/v1/tasks/no-such-task")
    assert problem(missing, 404)["type"].endswith("/task-not-found")
    assert problem(await worklist.act("no-such-task", "done", {"note": "x"}), 404)
    unknown_centre = await api.get("/api/v1/tasks", params={"centre": "150203999000"})
    assert problem(unknown_centre, 422)["errors"][0]["field"] == "centre"
    assert problem(await api.get("/api/v1/tasks", params={"kind": "visit"}), 422)
    assert (await worklist.items(status="open"))[0]["history"] == task["history"]  # nothing changed

    # Snooze: out of the open list until `until`, then back, due at `until`.
    until = clock() + timedelta(hours=2)
    snoozed = await worklist.act(
        tid, "snooze", {"until": until.isoformat(), "note": "网格员联系13812345678，明早复查"}
    )
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["task"]["status"] == "snoozed"
    assert await worklist.items(status="open") == []
    assert [t["id"] for t in await worklist.items(status="snoozed")] == [tid]
    clock.advance(timedelta(hours=2))
    (back,) = await worklist.items(status="open")
    assert back["id"] == tid and back["status"] == "open" and back["allowed_actions"] == ["done", "snooze"]
    snooze_entry = back["history"][-1]
    assert snooze_entry["action"] == "snoozed" and snooze_entry["note"] == "网格员联系138****5678，明早复查"
    assert snooze_entry["actor_id"] == CLIENT and snooze_entry["actor_role"] == "centre"

    # Done; then nothing more can be done with it (409 naming the state and what is allowed).
    done = await worklist.act(tid, "done", {"note": "已现场核查，系同一商户噪声，已由城管处置"})
    assert done.status_code == 200 and done.json()["task"]["status"] == "done", done.text
    again = problem(await worklist.act(tid, "done", {"note": "again"}), 409)
    assert again["current_state"] == "done" and again["allowed_actions"] == [] and "done" in again["detail"]
    refused = problem(
        await worklist.act(tid, "snooze", {"until": (clock() + timedelta(hours=1)).isoformat()}), 409
    )
    assert refused["action"] == "snooze"
    assert [t["id"] for t in await worklist.items(status="done")] == [tid]

    # Ops reads the worklist without staff notes.
    (seen_by_ops,) = (await worklist.list(role="ops", status="done"))["items"]
    assert all(h["note"] is None for h in seen_by_ops["history"])

    # Audited: who, when, the note masked; the chain verifies.
    rt = hub.runtime("referral")
    async with rt.db.sessions() as session:
        chain = await audit.read_chain(session, audit_log)
        entries = (
            await session.execute(
                select(audit_log).where(audit_log.c.action.like("task.%")).order_by(audit_log.c.seq)
            )
        ).all()
    assert [(e.action, e.actor_role, e.actor_id) for e in entries] == [
        ("task.snoozed", "centre", CLIENT),
        ("task.done", "centre", CLIENT),
    ]
    assert (
        entries[0].detail["note"] == "网格员联系138****5678，明早复查" and entries[0].detail["task_id"] == tid
    )
    assert entries[0].at == clock() - timedelta(hours=2) and entries[1].at == clock()
    assert audit.verify(chain, hub.settings.hash_key).ok
    # … and on the case's timeline.
    timeline = await eventually(
        lambda: api.get(f"/api/v1/cases/{task['case_no']}/timeline"),
        until=lambda r: any(e["event"] == "referral.task_done.v1" for e in r.json()),
        what="task events on the timeline",
    )
    events = [e["event"] for e in timeline.json()]
    assert "referral.task_created.v1" in events and "referral.task_snoozed.v1" in events


async def test_the_worklist_lists_a_centres_tasks_due_first(hub: InProcessHub, clock: ManualClock) -> None:
    api, worklist = Api(hub), Worklist(Api(hub))
    for i in range(BURST):
        await api.register(noise_in_grid(i))
    red = await api.register(case_body("public_security", people=40))
    await close_with_satisfaction(api, red)
    clock.set(sh(2026, 3, 3, 9, 0))
    await watchdog(hub).tick()
    listed = await eventually(
        lambda: worklist.items(centre=STREET_CENTRE, status="open"),
        until=lambda items: len(items) == 2,
        what="2",
    )
    assert [t["kind"] for t in listed] == [
        "weak_signal_burst",
        "follow_up",
    ]  # raised Mon 09:00, due Tue 09:00
    assert [t["due_at"] for t in listed] == sorted(t["due_at"] for t in listed)
    assert await worklist.items(centre="150203") == []  # the district's own list
    below = await worklist.items(centre="150203", include_below="true")
    assert {t["id"] for t in below} == {t["id"] for t in listed}
    assert (await worklist.list(centre=STREET_CENTRE, page_size=1))["total"] == 2
    assert SECURITY["category"] == "public_security"  # the red case is a single case: no burst of its own
