"""Grid workers (网格员, issue 18's must-show) through the real hub, on SQLite and PostgreSQL with real
RabbitMQ and the gateway's auth on: a grid worker signs in with a named account bound to a grid,
files a report from the street twice with the same client id (one case, graded like any other),
receives the check the centre sends to the grid in GET /grid/tasks (nearest due first), checks in on
site, and the case timeline shows each step with the person's name. A worker of another grid gets
404; an oversize, wrong-type or infected photo is a Chinese problem and nothing is stored. And the
self-service terminal (kiosk): an adapter client filing on channel kiosk, naming its terminal.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from gateway.accounts.store import create_user
from hub import audit
from services.intake.attachments import EICAR_SIGNATURE
from services.intake.tables import attachments, cases, grid_reports
from services.referral.tables import audit_log as referral_audit
from tests.integration.test_accounts import PASSWORD, assert_problem, hub_cli, login
from tests.kit.auth import auth_headers, bearer
from tests.kit.http import http_client
from tests.kit.images import png
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

COMMUNITY, STREET = "150203001001", "150203001000"
GRID, OTHER_GRID = "150203001001001", "150203001001002"  # services/referral/data/grids.yaml
WORKER_NAME, OTHER_NAME, CENTRE_NAME = "张网格员", "李网格员", "王主任"
MAX_PHOTO = 64 << 10  # HUB_INTAKE_ATTACHMENT_MAX_BYTES here


@pytest.fixture
async def hub(spans: InMemorySpanExporter, backend: str, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with isolated_backends(backend) as (amqp_url, db_url):
        settings = make_settings(
            tmp_path,
            amqp_url,
            db_url,
            auth_required=True,
            intake_attachment_scanner="eicar",
            intake_attachment_max_bytes=MAX_PHOTO,
        )
        async with running_hub(settings) as running:
            yield running


async def person(hub: InProcessHub, username: str, **fields: Any) -> dict[str, str]:
    await create_user(hub.runtime("gateway").db, username, password=PASSWORD, **fields)
    answer = await login(hub.gateway, username)
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


def photo(content: bytes, content_type: str = "image/png", name: str = "现场照片.png") -> dict[str, str]:
    return {
        "file_name": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


def report(client_id: str, *photos: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "title": "楼道堆放大件垃圾",
        "description": "3栋2单元楼道堆放旧家具，堵塞消防通道，老人曾被绊倒",
        "address": "昆都仑区白云路街道第二社区3栋2单元",
        "point": {"latitude": 40.6574, "longitude": 109.8403, "accuracy_m": 8},
        "observed_at": datetime.now(UTC).isoformat(),
        "attachments": list(photos),
        **fields,
    }


async def intake_counts(hub: InProcessHub) -> tuple[int, int, int]:
    async with hub.runtime("intake").db.sessions() as session:
        return (
            (await session.execute(select(func.count()).select_from(cases))).scalar_one(),
            (await session.execute(select(func.count()).select_from(grid_reports))).scalar_one(),
            (await session.execute(select(func.count()).select_from(attachments))).scalar_one(),
        )


async def test_a_report_filed_twice_is_one_case_dispatched_visited_and_on_the_timeline_with_names(
    hub: InProcessHub,
) -> None:
    worker = await person(
        hub, "zhang.grid", role="grid_worker", centre=COMMUNITY, grid=GRID, name=WORKER_NAME
    )
    other = await person(
        hub, "li.grid", role="grid_worker", centre=COMMUNITY, grid=OTHER_GRID, name=OTHER_NAME
    )
    centre = await person(hub, "wang.centre", role="centre", centre=STREET, name=CENTRE_NAME)
    picture = png(b"site photo")
    async with http_client(base_url=hub.gateway) as http:
        me = (await http.get("/api/v1/auth/me", headers=worker)).json()
        assert me["role"] == "grid_worker" and me["grid"] == GRID, me

        # Filed, then filed again by the app after being offline: the same case, nothing stored twice.
        body = report("app-0001-report", photo(picture))
        first = await http.post("/api/v1/grid/reports", json=body, headers=worker)
        assert first.status_code == 201, first.text
        case_no = first.json()["case_no"]
        again = await http.post("/api/v1/grid/reports", json=body, headers=worker)
        assert again.status_code == 200, again.text
        assert again.json()["case_no"] == case_no and again.json()["created"] is False
        assert [a["sha256"] for a in again.json()["attachments"]] == [hashlib.sha256(picture).hexdigest()]
        assert await intake_counts(hub) == (1, 1, 1)

        # A case like any other: graded (研判) on channel grid_app, in the worker's community and grid.
        async def held() -> dict[str, Any] | None:
            answer = await http.get(f"/api/v1/cases/{case_no}", headers=centre)
            body: dict[str, Any] = answer.json()
            return body if answer.status_code == 200 and body.get("centre_id") else None

        case = await eventually(held, what=f"referral holds {case_no}", timeout=30)
        assert case["channel"] == "grid_app" and case["centre_id"] == COMMUNITY
        assert case["location"]["grid_code"] == GRID and case["colour"] in ("red", "orange", "yellow", "blue")
        listed = (await http.get(f"/api/v1/cases/{case_no}/attachments", headers=centre)).json()
        assert [(a["content_type"], a["size"]) for a in listed] == [("image/png", len(picture))]
        content = await http.get(f"/api/v1/cases/{case_no}/attachments/{listed[0]['id']}", headers=centre)
        assert content.content == picture and content.headers["cache-control"] == "no-store"

        # The centre sends it to the grid for an on-site check, and another report with a nearer deadline.
        sent = await http.post(
            f"/api/v1/cases/{case_no}/grid-tasks", json={"grid": GRID, "note": "请现场核实"}, headers=centre
        )
        assert sent.status_code == 201, sent.text
        task = sent.json()
        assert task["kind"] == "grid_visit" and task["grid"] == GRID and task["status"] == "open"
        resent = await http.post(
            f"/api/v1/cases/{case_no}/grid-tasks", json={"grid": GRID, "note": "再次交办"}, headers=centre
        )
        assert resent.status_code == 200 and resent.json()["id"] == task["id"]
        second = await http.post(
            "/api/v1/grid/reports",
            json=report(
                "app-0002-report",
                title="北门路灯损坏",
                description="小区北门路灯不亮，夜间有行人摔倒",
                address="第二社区北门",
            ),
            headers=worker,
        )
        second_no = second.json()["case_no"]
        await eventually(lambda: _status(http.get(f"/api/v1/cases/{second_no}", headers=centre)), what="held")
        soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        urgent = await http.post(
            f"/api/v1/cases/{second_no}/grid-tasks",
            json={"grid": GRID, "due_at": soon, "note": "北门路灯，尽快核实"},
            headers=centre,
        )
        assert urgent.status_code == 201, urgent.text

        # The worker's list: the grid's tasks, nearest deadline first; the other grid's worker sees none.
        mine = (await http.get("/api/v1/grid/tasks", headers=worker)).json()
        assert [t["id"] for t in mine["items"]] == [urgent.json()["id"], task["id"]] and mine["grid"] == GRID
        assert mine["items"][1]["instructions"] == "请现场核实" and mine["items"][1]["case_no"] == case_no
        theirs = (await http.get("/api/v1/grid/tasks", headers=other)).json()
        assert theirs["items"] == [] and theirs["grid"] == OTHER_GRID

        # On-site check-in: the other grid's worker cannot find the task; the worker checks in, once.
        visit = {
            "visited_at": datetime.now(UTC).isoformat(),
            "point": {"latitude": 40.6575, "longitude": 109.8401},
            "outcome": "resolved",
            "note": "现场核实属实，已联系物业清理",
        }
        path = f"/api/v1/grid/tasks/{task['id']}/visit"
        assert_problem(await http.post(path, json=visit, headers=other), 404, "/task-not-found")
        assert_problem(
            await http.get(f"/api/v1/grid/tasks/{task['id']}", headers=other), 404, "/task-not-found"
        )
        assert (await http.get(f"/api/v1/grid/tasks/{task['id']}", headers=worker)).json()[
            "instructions"
        ] == "请现场核实"
        done = await http.post(path, json=visit, headers=worker)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done" and [v["outcome"] for v in done.json()["visits"]] == [
            "resolved"
        ]
        assert_problem(await http.post(path, json=visit, headers=worker), 409, "/transition-refused")
        assert [t["id"] for t in (await http.get("/api/v1/grid/tasks", headers=worker)).json()["items"]] == [
            urgent.json()["id"]
        ]

        # The timeline: each step, with who did it by name (names read from the accounts, not events).
        wanted = ("intake.grid_report_filed.v1", "referral.task_created.v1", "referral.task_visited.v1")

        async def steps() -> dict[str, dict[str, Any]] | None:
            answer = await http.get(f"/api/v1/cases/{case_no}/timeline", headers=centre)
            found = {e["event"]: e for e in answer.json() if e["event"] in wanted}
            return found if len(found) == len(wanted) else None

        timeline = await eventually(steps, what="the grid steps on the timeline", timeout=30)
        assert timeline["intake.grid_report_filed.v1"]["actor"]["name"] == WORKER_NAME
        assert timeline["intake.grid_report_filed.v1"]["detail"]["attachments"] == 1
        assert timeline["referral.task_created.v1"]["actor"]["name"] == CENTRE_NAME
        assert timeline["referral.task_created.v1"]["detail"]["grid"] == GRID
        visited = timeline["referral.task_visited.v1"]
        assert visited["actor"] == {**visited["actor"], "role": "grid_worker", "name": WORKER_NAME}
        assert visited["detail"]["outcome"] == "resolved" and visited["detail"]["status"] == "done"

    # Audited in referral's chain with the person, the note's text kept only there.
    async with hub.runtime("referral").db.sessions() as session:
        rows = await audit.read_chain(session, referral_audit)
    assert audit.verify(rows, hub.settings.hash_key).ok
    entry = next(r for r in rows if r.action == "task.visited")
    assert entry.case_no == case_no and entry.actor_role == "grid_worker"
    assert entry.detail["person"]["name"] == WORKER_NAME and entry.detail["outcome"] == "resolved"


async def _status(request: Any) -> bool:
    answer = await request
    return bool(answer.status_code == 200 and answer.json().get("centre_id"))


async def test_a_worker_of_another_grid_or_role_cannot_reach_the_grid(hub: InProcessHub) -> None:
    worker = await person(
        hub, "zhang.grid", role="grid_worker", centre=COMMUNITY, grid=GRID, name=WORKER_NAME
    )
    centre = await person(hub, "wang.centre", role="centre", centre=STREET, name=CENTRE_NAME)
    async with http_client(base_url=hub.gateway) as http:
        # Another grid than the worker's: refused, nothing registered.
        assert_problem(
            await http.post(
                "/api/v1/grid/reports", json=report("app-other-grid", grid=OTHER_GRID), headers=worker
            ),
            403,
            "/forbidden",
        )
        assert await intake_counts(hub) == (0, 0, 0)
        # A grid worker reads no case lists or tasks of the centre; the centre files no grid reports.
        assert (await http.get("/api/v1/cases", headers=worker)).status_code == 403
        assert (await http.get("/api/v1/tasks", headers=worker)).status_code == 403
        assert (await http.get("/api/v1/grid/tasks", headers=centre)).status_code == 403
        assert (
            await http.post("/api/v1/grid/reports", json=report("app-by-centre"), headers=centre)
        ).status_code == 403
        grids = (await http.get("/api/v1/grids", headers=worker)).json()
        assert [g["code"] for g in grids] == [GRID]
        assert {g["code"] for g in (await http.get("/api/v1/grids", headers=centre)).json()} == {
            GRID,
            OTHER_GRID,
        }
        # A task of the other grid's: not found for this worker.
        filed = await http.post(
            "/api/v1/grid/reports",
            json=report(
                "app-0003-report", title="井盖缺失", description="5栋门前井盖缺失", address="第二社区5栋"
            ),
            headers=worker,
        )
        case_no = filed.json()["case_no"]
        await eventually(lambda: _status(http.get(f"/api/v1/cases/{case_no}", headers=centre)), what="held")
        elsewhere = await http.post(
            f"/api/v1/cases/{case_no}/grid-tasks",
            json={"grid": OTHER_GRID, "note": "核实井盖"},
            headers=centre,
        )
        assert elsewhere.status_code == 201, elsewhere.text
        visit = {
            "visited_at": datetime.now(UTC).isoformat(),
            "point": {"latitude": 40.6, "longitude": 109.8},
            "outcome": "not_found",
            "note": "到场",
        }
        path = f"/api/v1/grid/tasks/{elsewhere.json()['id']}/visit"
        assert_problem(await http.post(path, json=visit, headers=worker), 404, "/task-not-found")
        assert_problem(
            await http.post(
                f"/api/v1/cases/{case_no}/grid-tasks",
                json={"grid": "no-such-grid", "note": "核实"},
                headers=centre,
            ),
            422,
            "/validation-error",
        )


async def test_oversize_wrong_type_or_infected_photos_are_refused_and_nothing_is_stored(
    hub: InProcessHub,
) -> None:
    worker = await person(
        hub, "zhang.grid", role="grid_worker", centre=COMMUNITY, grid=GRID, name=WORKER_NAME
    )
    async with http_client(base_url=hub.gateway) as http:
        cases_of = [
            (photo(png(b"x" * MAX_PHOTO)), 413, "/attachment-too-large", "附件过大"),
            (
                photo(b"%PDF-1.7 not a photo", "image/png", "合同.pdf"),
                415,
                "/attachment-type",
                "附件类型不支持",
            ),
            (photo(png(EICAR_SIGNATURE)), 422, "/attachment-rejected", "附件未通过病毒扫描"),
        ]
        for bad, status, type_, title in cases_of:
            answer = await http.post(
                "/api/v1/grid/reports", json=report("app-0009-report", photo(png()), bad), headers=worker
            )
            problem = assert_problem(answer, status, type_)
            assert problem["title"] == title and problem["errors"][0]["field"] == "attachments[1]"
            assert "现场照片" not in answer.text and "合同" not in answer.text  # never the file's name
        assert await intake_counts(hub) == (0, 0, 0)
        # The client id was not used up: the corrected report goes through.
        fixed = await http.post(
            "/api/v1/grid/reports", json=report("app-0009-report", photo(png())), headers=worker
        )
        assert fixed.status_code == 201, fixed.text
        assert await intake_counts(hub) == (1, 1, 1)


async def test_a_kiosk_files_through_the_case_api_naming_its_terminal_on_its_own_channel(
    hub: InProcessHub,
) -> None:
    kiosk = await auth_headers(hub, "adapter", system="kiosk")
    centre = await auth_headers(hub, "centre")
    body = {
        "channel": "kiosk",
        "source_ref": "KDL-COURT-01/000123",
        "request_type": "help",
        "title": "工资被拖欠三个月",
        "description": "在自助终端申请调解：工地拖欠工资三个月",
        "reporter": {"name": "李先生", "phone": "13812341234"},
        "location": {"address": "昆都仑区人民法院诉讼服务中心", "street_code": STREET},
    }
    async with http_client(base_url=hub.gateway) as http:
        filed = await http.post("/api/v1/cases", json=body, headers=kiosk)
        assert filed.status_code == 201, filed.text
        case = (await http.get(f"/api/v1/cases/{filed.json()['case_no']}", headers=centre)).json()
        assert case["channel"] == "kiosk" and case["source_ref"].startswith("KDL-COURT-01/")
        # The same terminal filing again is the same case; another channel or no terminal is refused.
        assert (await http.post("/api/v1/cases", json=body, headers=kiosk)).json()["case_no"] == case[
            "case_no"
        ]
        assert_problem(
            await http.post("/api/v1/cases", json={**body, "channel": "window"}, headers=kiosk),
            403,
            "/wrong-channel",
        )
        assert_problem(
            await http.post("/api/v1/cases", json={**body, "source_ref": None}, headers=kiosk),
            422,
            "/kiosk-source",
        )


async def test_hub_users_create_binds_a_grid_worker_to_a_grid(hub: InProcessHub) -> None:
    code, out = await hub_cli(
        hub, "users", "create", "zhao.grid", "--role", "grid_worker", "--centre", COMMUNITY, "--grid", GRID,
        "--name", WORKER_NAME, "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, out
    assert f"grid: {GRID}" in out
    code, out = await hub_cli(
        hub, "users", "create", "qian.grid", "--role", "grid_worker", "--centre", COMMUNITY
    )
    assert code == 2 and "--grid" in out
    code, listed = await hub_cli(hub, "users", "list")
    (row,) = [line for line in listed.splitlines() if "\tzhao.grid\t" in line]
    assert code == 0 and row.endswith(f"\tgrid_worker\t{COMMUNITY}\t-\tno\t{GRID}")
    answer = await login(hub.gateway, "zhao.grid")
    assert answer.status_code == 200 and answer.json()["user"]["grid"] == GRID
