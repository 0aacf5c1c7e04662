"""Issue 14's must-show: the authorisation matrix. Person role (centre, supervisor, department, ops) ×
centre level (district, street, community) × every case, referral, task and key-person (issue 18) route ×
own or other subtree, each cell called through the gateway and judged, the whole printed as a table
(run with ``-s`` to see it).

Each person is declared in `X-Hub-Actor-*` headers (HUB_AUTH_REQUIRED=false here lets the test set
them, centre and name included); the gateway turns them into the same signed internal credential a
signed-in person's token gives (gateway/principals.py), so the services judge each cell exactly as
they judge a person; the route table's half of each cell is checked with `decide`.

A cell is enforced when:
- the route table (gateway/routes/table.py) does not name the role: the gateway refuses it with a
  token (403, checked with `decide`), and the call with headers is refused by the service too or —
  for the department-side actions the centre may also take in the service — shown as it answers;
- the route names the role, own subtree: the read answers 200 (a list holds the subject), the action
  reaches the subject (2xx, or 409 when the case's state refuses it: it was found first);
- other subtree: reads and actions answer 404 (or 403 when the role may never do it), a list does not
  hold the subject.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.authorization import decide
from services.intake.actors import ROLES as INTAKE_ROLES
from services.referral.actors import ROLES as REFERRAL_ROLES
from services.referral.tables import tasks
from tests.conftest import ARTIFACTS
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

DISTRICT, STREET, COMMUNITY = "150203", "150203001000", "150203001001"
OTHER_STREET, ELSEWHERE = "150203002000", "150204001000"  # a street beside ours; another district
LEVELS = {"district": DISTRICT, "street": STREET, "community": COMMUNITY}
# Where the "other subtree" lies for each level: beside it, or above it (a community never sees its street).
OTHER_AREA = {"district": ELSEWHERE, "street": OTHER_STREET, "community": STREET}
# A department at each level (departments.yaml): the district's housing bureau, the street's police
# station, the community's residents' committee.
UNITS = {
    "district": "housing_bureau@150203",
    "street": f"police_station@{STREET}",
    "community": f"community@{COMMUNITY}",
}
ROLES = ("centre", "supervisor", "ops", "department")
SUPERVISOR_KNOWN = "supervisor" in REFERRAL_ROLES and "supervisor" in INTAKE_ROLES


def table_role(role: str) -> str:
    """The accounts branch adds `supervisor` (same powers as centre); until then it acts as centre."""
    return role if role != "supervisor" or SUPERVISOR_KNOWN else "centre"


def case_body(category: str, street_code: str, *, title: str = "邻居装修噪声扰民") -> dict[str, Any]:
    return {
        "channel": "window",
        "request_type": "complaint",
        "category": category,
        "title": title,
        "description": f"{title}，多次协商无果，请求调解",
        "reporter": {"name": "王女士", "phone": "13812341234"},
        "location": {"address": "昆都仑区某小区3栋", "street_code": street_code},
        "people_involved": 2,
    }


@dataclass
class World:
    own_case: dict[tuple[str, str], str] = field(default_factory=dict)  # (role, level) → case
    other_case: dict[str, str] = field(default_factory=dict)  # level → a case outside it
    own_referral: dict[tuple[str, str], str] = field(default_factory=dict)  # (role, level) → referral
    other_referral: dict[str, str] = field(default_factory=dict)  # level → a referral outside it
    dept_other_referral: str = ""  # another department's referral
    dept_case: dict[str, str] = field(default_factory=dict)  # level → the case of the unit's referral
    own_task: str = ""
    other_task: dict[str, str] = field(default_factory=dict)
    own_key_person: str = ""  # 重点人员 (issue 18): an entry of the community every level holds
    other_key_person: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    template: str  # the public path (the route table's row)
    subject: str  # case | referral | task | centre | key_person | none
    kind: str  # read | list | action
    body: Callable[[World, str, str], Any] | None = None
    params: dict[str, Any] | None = None
    member: Callable[[Any], set[str]] | None = None  # a list: the subjects it holds


def _items(key: str) -> Callable[[Any], set[str]]:
    return lambda page: {str(item[key]) for item in (page["items"] if isinstance(page, dict) else page)}


NOW = datetime.now(UTC)
ENDPOINTS: tuple[Endpoint, ...] = (
    # --- reads ---
    Endpoint(
        "case list",
        "GET",
        "/api/v1/cases",
        "case",
        "list",
        params={"page_size": 200},
        member=_items("case_no"),
    ),
    Endpoint("case", "GET", "/api/v1/cases/{case_no}", "case", "read"),
    Endpoint("timeline", "GET", "/api/v1/cases/{case_no}/timeline", "case", "read"),
    Endpoint(
        "personal data",
        "POST",
        "/api/v1/cases/{case_no}/personal-data",
        "case",
        "read",  # a read (200 with the data), posted: its purpose travels in the body, not the URL
        body=lambda w, r, lv: {"purpose": "电话联系当事人调解"},
    ),
    Endpoint("dispatch queue", "GET", "/api/v1/dispatch-queue", "case", "list", member=_items("case_no")),
    Endpoint(
        "referral list",
        "GET",
        "/api/v1/referrals",
        "referral",
        "list",
        params={"page_size": 200},
        member=_items("id"),
    ),
    Endpoint("referral", "GET", "/api/v1/referrals/{referral_id}", "referral", "read"),
    Endpoint("centre's cases", "GET", "/api/v1/centres/{centre_id}/cases", "centre", "read"),
    Endpoint(
        "resolution levels",
        "GET",
        "/api/v1/stats/resolution-levels",
        "centre",
        "read",
        params={"centre": "{centre_id}"},
    ),
    Endpoint(
        "worklist", "GET", "/api/v1/tasks", "task", "list", params={"page_size": 200}, member=_items("id")
    ),
    Endpoint("task", "GET", "/api/v1/tasks/{task_id}", "task", "read"),
    Endpoint(
        "ops stats by street",
        "GET",
        "/api/v1/ops/stats",
        "case",
        "list",
        params={"by": "street"},
        member=_items("key"),
    ),
    Endpoint(
        "adapter ledger of a case",
        "GET",
        "/api/v1/ops/adapter-deliveries",
        "case",
        "read",
        params={"case_no": "{case_no}"},
    ),
    # --- the key persons registry (重点人员 / 七色户卡, issue 18) ---
    Endpoint(
        "key persons",
        "GET",
        "/api/v1/key-persons",
        "key_person",
        "list",
        params={"purpose": "review", "page_size": 200},
        member=_items("id"),
    ),
    Endpoint(
        "key person",
        "GET",
        "/api/v1/key-persons/{key_person_id}",
        "key_person",
        "read",
        params={"purpose": "review"},
    ),
    Endpoint(
        "key person's personal data",
        "POST",
        "/api/v1/key-persons/{key_person_id}/personal-data",
        "key_person",
        "read",
        body=lambda w, r, lv: {"purpose": "上门走访核对信息"},
    ),
    Endpoint(
        "key person's colour",
        "POST",
        "/api/v1/key-persons/{key_person_id}/colour",
        "key_person",
        "action",
        body=lambda w, r, lv: {"colour": "yellow", "reason": "复核后调整"},
    ),
    # --- intake's casework ---
    Endpoint(
        "note",
        "POST",
        "/api/v1/cases/{case_no}/notes",
        "case",
        "action",
        body=lambda w, r, lv: {"text": "补充：当事人同意调解"},
    ),
    Endpoint(
        "override colour",
        "POST",
        "/api/v1/cases/{case_no}/assessment",
        "case",
        "action",
        body=lambda w, r, lv: {"colour": "yellow", "reason": "主管复核"},
    ),
    Endpoint(
        "correct category",
        "POST",
        "/api/v1/cases/{case_no}/category",
        "case",
        "action",
        body=lambda w, r, lv: {"category": "noise", "reason": "更正类别"},
    ),
    Endpoint(
        "merge",
        "POST",
        "/api/v1/cases/{case_no}/merge",
        "case",
        "action",
        body=lambda w, r, lv: {"into": w.own_case[(r, lv)] if (r, lv) in w.own_case else w.dept_case[lv]},
    ),
    Endpoint("unlink", "POST", "/api/v1/cases/{case_no}/unlink", "case", "action", body=lambda w, r, lv: {}),
    # --- referral's case actions ---
    Endpoint(
        "dispatch",
        "POST",
        "/api/v1/cases/{case_no}/dispatch",
        "case",
        "action",
        body=lambda w, r, lv: {"lead": "housing_bureau@150203", "assisting": []},
    ),
    Endpoint(
        "meeting",
        "POST",
        "/api/v1/cases/{case_no}/meetings",
        "case",
        "action",
        body=lambda w, r, lv: {
            "held_at": NOW.isoformat(),
            "departments": ["housing_bureau@150203"],
            "decisions": ["约谈"],
        },
    ),
    Endpoint(
        "delegate",
        "POST",
        "/api/v1/cases/{case_no}/delegate",
        "case",
        "action",
        body=lambda w, r, lv: {"to_centre": COMMUNITY, "reason": "下派社区"},
    ),
    Endpoint(
        "refer onward",
        "POST",
        "/api/v1/cases/{case_no}/refer-onward",
        "case",
        "action",
        body=lambda w, r, lv: {"to": "court"},
    ),
    Endpoint(
        "return to channel",
        "POST",
        "/api/v1/cases/{case_no}/return-to-channel",
        "case",
        "action",
        body=lambda w, r, lv: {"reason_code": "not_our_duty", "reason": "非本平台受理范围"},
    ),
    Endpoint(
        "callback",
        "POST",
        "/api/v1/cases/{case_no}/callback",
        "case",
        "action",
        body=lambda w, r, lv: {"satisfaction": "satisfied"},
    ),
    Endpoint(
        "close",
        "POST",
        "/api/v1/cases/{case_no}/close",
        "case",
        "action",
        body=lambda w, r, lv: {"reason": "centre"},
    ),
    # --- referral actions (the department's; the centre decides extensions) ---
    Endpoint("acknowledge", "POST", "/api/v1/referrals/{referral_id}/acknowledge", "referral", "action"),
    Endpoint("start", "POST", "/api/v1/referrals/{referral_id}/start", "referral", "action"),
    Endpoint(
        "ask extension",
        "POST",
        "/api/v1/referrals/{referral_id}/extension",
        "referral",
        "action",
        body=lambda w, r, lv: {"working_days": 2, "reason": "需现场勘查"},
    ),
    Endpoint(
        "decide extension",
        "POST",
        "/api/v1/referrals/{referral_id}/extension/decision",
        "referral",
        "action",
        body=lambda w, r, lv: {"approved": True},
    ),
    Endpoint(
        "suspend",
        "POST",
        "/api/v1/referrals/{referral_id}/suspend",
        "referral",
        "action",
        body=lambda w, r, lv: {"reason": "等待当事人补充材料"},
    ),
    Endpoint("resume", "POST", "/api/v1/referrals/{referral_id}/resume", "referral", "action"),
    Endpoint(
        "reply",
        "POST",
        "/api/v1/referrals/{referral_id}/reply",
        "referral",
        "action",
        body=lambda w, r, lv: {"outcome": "mediated", "summary": "已调解"},
    ),
    Endpoint(
        "return referral",
        "POST",
        "/api/v1/referrals/{referral_id}/return",
        "referral",
        "action",
        body=lambda w, r, lv: {"reason_code": "not_our_duty", "reason": "不属本单位职责"},
    ),
    # --- the worklist ---
    Endpoint(
        "snooze task",
        "POST",
        "/api/v1/tasks/{task_id}/snooze",
        "task",
        "action",
        body=lambda w, r, lv: {"until": (NOW + timedelta(days=1)).isoformat()},
    ),
    Endpoint(
        "task done",
        "POST",
        "/api/v1/tasks/{task_id}/done",
        "task",
        "action",
        body=lambda w, r, lv: {"note": "已回访"},
    ),
    # --- grid workers (issue 18): the centre's side, and the grid worker's routes no centre person may call
    Endpoint("case attachments", "GET", "/api/v1/cases/{case_no}/attachments", "case", "read"),
    Endpoint(
        "send to a grid",
        "POST",
        "/api/v1/cases/{case_no}/grid-tasks",
        "case",
        "action",
        body=lambda w, r, lv: {"grid": "150203001001001", "note": "请现场核实"},
    ),
    Endpoint("grid tasks", "GET", "/api/v1/grid/tasks", "task", "list", member=_items("id")),
    Endpoint("grid task", "GET", "/api/v1/grid/tasks/{task_id}", "task", "read"),
    Endpoint(
        "grid visit",
        "POST",
        "/api/v1/grid/tasks/{task_id}/visit",
        "task",
        "action",
        body=lambda w, r, lv: {
            "visited_at": NOW.isoformat(),
            "point": {"latitude": 40.65, "longitude": 109.84},
            "outcome": "resolved",
            "note": "到场核实",
        },
    ),
    Endpoint(
        "grid report",
        "POST",
        "/api/v1/grid/reports",
        "case",
        "action",
        body=lambda w, r, lv: {
            "client_id": f"matrix-{r}-{lv}",
            "title": "楼道堆物",
            "description": "楼道堆放杂物",
            "address": "3栋",
        },
    ),
    Endpoint(
        "withdraw",
        "POST",
        "/api/v1/cases/{case_no}/withdraw",
        "case",
        "action",
        body=lambda w, r, lv: {"reason": "当事人撤回"},
    ),
    # --- last: 上报 of the withdrawn case (409: found first; the move itself: test_moves_… below) ---
    Endpoint(
        "escalate",
        "POST",
        "/api/v1/cases/{case_no}/escalate",
        "case",
        "action",
        body=lambda w, r, lv: {"reason": "社区无法化解"},
    ),
)


def headers(role: str, level: str) -> dict[str, str]:
    found = {
        "X-Hub-Actor-Role": table_role(role),
        "X-Hub-Actor-Id": f"{role}-{level}",
        "X-Hub-Actor-Centre": LEVELS[level],
        "X-Hub-Actor-Name": quote(f"{level}{role}张三"),
    }
    if role == "department":
        found["X-Hub-Actor-Department"] = UNITS[level]
    return found


@pytest.fixture
async def hub(spans: InMemorySpanExporter, backend: str, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, intake_reveals_per_hour=1000)) as running,
    ):
        yield running


async def _register(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    answer = await http.post("/api/v1/cases", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_no"])


async def _state(http: httpx.AsyncClient, case_no: str, *, routed: bool = False) -> dict[str, Any]:
    """The case once referral has it (routed to departments, when ``routed``) — read as the whole hub."""

    async def probe() -> dict[str, Any] | None:
        answer = await http.get(f"/api/v1/cases/{case_no}")
        body: dict[str, Any] = answer.json()
        seen = answer.status_code == 200 and "centre_id" in body  # set from referral's state only
        return body if seen and (body["referrals"] or not routed) else None

    found: dict[str, Any] = await eventually(probe, what=f"referral has {case_no}", timeout=30)
    return found


def _referral_of(state: dict[str, Any], unit: str) -> str:
    ids = [r["id"] for r in state["referrals"] if r["department"] == unit]
    assert ids, f"no referral for {unit}: {[r['department'] for r in state['referrals']]}"
    return str(ids[0])


async def _add_task(hub: InProcessHub, centre_id: str, case_no: str) -> str:
    """A follow-up task for a centre, written as the worklist writes it (the worklist's own triggers
    need days of clock; here only who may see the row matters)."""
    task_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with hub.runtime("referral").db.transaction() as session:
        await session.execute(
            tasks.insert().values(
                id=task_id,
                kind="follow_up",
                dedup_key=f"follow_up:{case_no}:{task_id}",
                centre_id=centre_id,
                status="open",
                case_no=case_no,
                case_count=1,
                category="other",
                colour="blue",
                cadence="weekly",
                sequence=1,
                due_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    return task_id


async def _add_key_person(http: httpx.AsyncClient, centre_id: str, i: int) -> str:
    """An entry of the registry held by a centre, registered by a caller without a centre (the hub)."""
    body = {
        "name": "赵桂兰",
        "phone": f"1391234{i:04d}",
        "address": f"昆都仑区某小区{i + 1}栋",
        "groups": ["elderly_alone"],
        "colour": "red",
        "centre_id": centre_id,
    }
    answer = await http.post("/api/v1/key-persons", json=body, headers={"X-Hub-Actor-Role": "centre"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def build_world(hub: InProcessHub, http: httpx.AsyncClient) -> World:
    world = World()
    # One case per centre person (their actions change it), in the community every level holds; a
    # category no rule routes ("other"), so it waits in the dispatcher's queue.
    for role in ("centre", "supervisor", "ops", "department"):
        for level in LEVELS:
            if role != "department":
                world.own_case[(role, level)] = await _register(http, case_body("other", COMMUNITY))
    for level, area in OTHER_AREA.items():
        world.other_case[level] = await _register(http, case_body("other", area))
    # Routed cases for the referral side: the district's and the street's units on a facilities case,
    # the community's on a neighbour case; outside each level, the same on the other areas.
    facilities = await _register(
        http, case_body("public_facilities_alteration", COMMUNITY, title="楼上私改公共烟道")
    )
    neighbour = await _register(http, case_body("neighbour", COMMUNITY, title="楼上漏水"))
    beside = await _register(http, case_body("neighbour", OTHER_STREET, title="楼上漏水"))
    above = await _register(http, case_body("public_facilities_alteration", STREET, title="私改公共烟道"))
    for case_no in (*world.own_case.values(), *world.other_case.values()):
        await _state(http, case_no)
    routed = {n: await _state(http, n, routed=True) for n in (facilities, neighbour, beside, above)}
    world.dept_case = {"district": facilities, "street": facilities, "community": neighbour}
    for level, unit in UNITS.items():
        world.own_referral[("department", level)] = _referral_of(routed[world.dept_case[level]], unit)
    other_refs = [r["id"] for r in routed[beside]["referrals"]]
    world.dept_other_referral = str(other_refs[0])
    own_ref = str(routed[neighbour]["referrals"][0]["id"])
    for role in ("centre", "supervisor", "ops"):
        for level in LEVELS:
            world.own_referral[(role, level)] = own_ref
    world.other_referral = {
        "district": "",  # the district sees the whole hub: no routed case lies outside it
        "street": str(routed[beside]["referrals"][0]["id"]),
        "community": str(routed[above]["referrals"][0]["id"]),
    }
    world.own_task = await _add_task(hub, COMMUNITY, neighbour)
    world.own_key_person = await _add_key_person(http, COMMUNITY, 0)
    for i, (level, area) in enumerate(OTHER_AREA.items(), start=1):
        world.other_key_person[level] = await _add_key_person(http, area, i)
    for level, area in OTHER_AREA.items():
        world.other_task[level] = await _add_task(hub, area, world.other_case[level])
    # The gateway's timeline has each case's registration before anyone reads it.
    for case_no in (*world.own_case.values(), *world.other_case.values(), facilities, neighbour):
        await eventually(
            lambda n=case_no: _ok(http.get(f"/api/v1/cases/{n}/timeline")), what=f"timeline of {case_no}"
        )
    return world


async def _ok(request: Any) -> bool:
    return bool((await request).status_code == 200)


def subject_of(endpoint: Endpoint, world: World, role: str, level: str, own: bool) -> str | None:
    if endpoint.subject == "case":
        if own:
            return world.own_case.get((role, level)) or world.dept_case[level]
        return world.other_case[level]
    if endpoint.subject == "referral":
        if own:
            return world.own_referral[(role, level)]
        return world.dept_other_referral if role == "department" else world.other_referral[level] or None
    if endpoint.subject == "task":
        return world.own_task if own else world.other_task[level]
    if endpoint.subject == "centre":
        return COMMUNITY if own else OTHER_AREA[level]
    if endpoint.subject == "key_person":
        return world.own_key_person if own else world.other_key_person[level]
    return None


def _fill(text: str, endpoint: Endpoint, subject: str) -> str:
    key = {
        "case": "case_no",
        "referral": "referral_id",
        "task": "task_id",
        "centre": "centre_id",
        "key_person": "key_person_id",
    }[endpoint.subject]
    return text.replace("{" + key + "}", quote(subject, safe=""))


def _member_key(endpoint: Endpoint, world: World, subject: str) -> str:
    if endpoint.name == "ops stats by street":  # the street of the case: own in the community, other beside
        return COMMUNITY if subject in world.own_case.values() or subject in world.dept_case.values() else ""
    return subject


@dataclass
class Cell:
    code: str  # what the table shows
    ok: bool
    why: str = ""


async def call_cell(
    http: httpx.AsyncClient, world: World, endpoint: Endpoint, role: str, level: str, own: bool
) -> Cell:
    subject = subject_of(endpoint, world, role, level, own)
    if subject is None:
        return Cell("—", True)  # nothing lies outside the district
    path = _fill(endpoint.template, endpoint, subject)
    params = {k: _fill(str(v), endpoint, subject) for k, v in (endpoint.params or {}).items()}
    body = endpoint.body(world, role, level) if endpoint.body else None
    answer = await http.request(
        endpoint.method,
        path,
        params=params or None,
        json=body if endpoint.method == "POST" else None,
        headers=headers(role, level),
    )
    status = answer.status_code
    allowed = decide(endpoint.method, endpoint.template, table_role(role)).allowed
    text = f"{status}"
    if status >= 500:
        return Cell(text, False, answer.text[:300])
    if endpoint.kind == "list" and status == 200:
        if endpoint.name == "ops stats by street" and not own:
            held = OTHER_AREA[level] in endpoint.member(answer.json())  # type: ignore[misc]
        else:
            held = _member_key(endpoint, world, subject) in endpoint.member(answer.json())  # type: ignore[misc]
        text = f"{status}{'∋' if held else '∌'}"
        if not allowed:
            return Cell(f"gw403/{text}", not (held and not own), "refused by the route table")
        return Cell(text, held == own, "the list must hold the own subject and not the other")
    if not allowed:
        # The gateway refuses the role with a token; with headers the service answers for itself.
        refused = status in (403, 404)
        return Cell(f"gw403/{status}", refused or own, "another subtree must never be reached")
    if own:
        good = status == 200 if endpoint.kind == "read" else status in (200, 201, 409)
        return Cell(text, good, answer.text[:300])
    return Cell(text, status == 404 or (status == 403 and endpoint.kind == "action"), answer.text[:300])


async def test_authorisation_matrix(hub: InProcessHub, backend: str) -> None:
    async with http_client(base_url=hub.gateway) as http:
        world = await build_world(hub, http)
        columns = [(role, level) for role in ROLES for level in LEVELS]
        rows: list[tuple[str, list[str]]] = []
        failures: list[str] = []
        for endpoint in ENDPOINTS:
            cells: list[str] = []
            for role, level in columns:
                own = await call_cell(http, world, endpoint, role, level, own=True)
                other = await call_cell(http, world, endpoint, role, level, own=False)
                cells.append(f"{own.code}|{other.code}")
                for side, cell in (("own", own), ("other", other)):
                    if not cell.ok:
                        failures.append(f"{endpoint.name} × {role}@{level} ({side}): {cell.code} {cell.why}")
            rows.append((f"{endpoint.method} {endpoint.template}", cells))
    table = render(columns, rows)
    print(table)
    kept = ARTIFACTS / f"authorisation-matrix-{backend}.txt"  # the table as evidence, with or without -s
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(table + "\n", encoding="utf-8")
    assert not failures, "\n".join(failures)


def render(columns: list[tuple[str, str]], rows: list[tuple[str, list[str]]]) -> str:
    """Rows: endpoints; columns: role@level; a cell: own subtree | other subtree. `∋`/`∌`: the list
    holds the subject or not; `gw403/…`: the route table refuses the role (the gateway answers 403 to a
    token), then what the service answered the headers; `—`: nothing lies outside the district."""
    label = "supervisor*" if not SUPERVISOR_KNOWN else "supervisor"
    heads = [f"{(label if r == 'supervisor' else r)[:10]}@{lv[:4]}" for r, lv in columns]
    width = max(len(c) for _n, cells in rows for c in cells)
    width = max(width, *(len(h) for h in heads))
    first = max(len(n) for n, _c in rows)
    lines = [
        "authorisation matrix (cell: own subtree | other subtree)"
        + (
            "; supervisor* = acting as centre until the accounts branch adds the role"
            if not SUPERVISOR_KNOWN
            else ""
        ),
        " " * first + " │ " + " │ ".join(h.ljust(width) for h in heads),
        "─" * first + "─┼─" + "─┼─".join("─" * width for _h in heads),
    ]
    lines += [n.ljust(first) + " │ " + " │ ".join(c.ljust(width) for c in cells) for n, cells in rows]
    return "\n".join(lines)


async def _status(http: httpx.AsyncClient, path: str, role: str, level: str) -> int:
    return (await http.get(path, headers=headers(role, level))).status_code


async def test_moves_between_centres_move_who_sees_the_case_in_both_services(hub: InProcessHub) -> None:
    """上报 takes a case out of the community's subtree, 下派 puts one into it — in referral at once and
    in intake once it has read referral's event (its copy of the holding centre); a red case is before
    the district at once."""
    async with http_client(base_url=hub.gateway) as http:
        escalated = await _register(http, case_body("other", COMMUNITY))
        delegated = await _register(http, case_body("other", STREET))  # the location names only the street
        red = await _register(
            http, case_body("other", COMMUNITY, title="欠薪工人扬言跳楼") | {"people_involved": 40}
        )
        for case_no in (escalated, delegated, red):
            await _state(http, case_no)
        case = f"/api/v1/cases/{escalated}"
        assert await _status(http, case, "centre", "community") == 200
        moved = await http.post(
            f"{case}/escalate", json={"reason": "社区无法化解"}, headers=headers("centre", "community")
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["case"]["centre_id"] == STREET  # the answer shows what the person just did
        # Referral at once; intake (and so the gateway's case view) once it has the move.
        await eventually(
            lambda: _status(http, case, "centre", "community"), until=lambda s: s == 404, what="escalated out"
        )
        assert await _status(http, case, "centre", "street") == 200
        queue = (await http.get("/api/v1/dispatch-queue", headers=headers("centre", "community"))).json()
        assert escalated not in {i["case_no"] for i in queue["items"]}

        case = f"/api/v1/cases/{delegated}"
        assert await _status(http, case, "centre", "community") == 404  # held by the street
        moved = await http.post(
            f"{case}/delegate",
            json={"to_centre": COMMUNITY, "reason": "下派社区调解"},
            headers=headers("centre", "street"),
        )
        assert moved.status_code == 200, moved.text
        await eventually(
            lambda: _status(http, case, "centre", "community"), until=lambda s: s == 200, what="delegated in"
        )
        reveal = await http.post(
            f"{case}/personal-data",
            json={"purpose": "电话联系当事人调解"},
            headers=headers("centre", "community"),
        )
        assert reveal.status_code == 200, reveal.text

        district = (
            await http.get(f"/api/v1/centres/{DISTRICT}/cases", headers=headers("centre", "district"))
        ).json()
        assert red in {i["case_no"] for i in district["items"]}
        held = next(i for i in district["items"] if i["case_no"] == red)
        assert held["colour"] == "red" and held["centre_id"] == COMMUNITY and held["district_alerted_at"]
        assert await _status(http, f"/api/v1/cases/{red}", "centre", "street") == 200
        assert await _status(http, f"/api/v1/cases/{red}", "centre", "district") == 200
        beside = {**headers("centre", "street"), "X-Hub-Actor-Centre": OTHER_STREET}
        assert (await http.get(f"/api/v1/cases/{red}", headers=beside)).status_code == 404
