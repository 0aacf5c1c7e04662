"""A follow-up of a case reported in a grid reaches the grid's worker (issue 18): when the watchdog
says a closed case's 三色 follow-up is due, the task carries the case's grid, so it is on the grid
worker's list (GET /api/v1/grid/tasks) beside the centre's worklist, and the worker's check-in ends it.

The hub of tests/integration/test_worklist.py (referral on a ManualClock: the follow-up falls due when
the test moves the clock, never by sleeping); people are declared in X-Hub-Actor-* headers (auth off),
which the gateway turns into the same signed credential a signed-in person's token gives.
"""

from __future__ import annotations

from typing import Any

from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import Api, case_body, sh, watchdog
from tests.integration.test_worklist import Worklist, clock, close_with_satisfaction, hub
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

__all__ = ["clock", "hub"]  # fixtures: pytest finds them under these names in the module

GRID, OTHER_GRID, COMMUNITY = "150203001001001", "150203001001002", "150203001001"


def grid_worker(grid: str) -> dict[str, str]:
    return {
        "X-Hub-Actor-Role": "grid_worker",
        "X-Hub-Actor-Kind": "user",
        "X-Hub-Actor-Id": f"worker-{grid[-3:]}",
        "X-Hub-Actor-Centre": COMMUNITY,
        "X-Hub-Actor-Grid": grid,
    }


async def grid_tasks(hub: InProcessHub, grid: str) -> list[dict[str, Any]]:
    async with http_client(base_url=hub.gateway) as http:
        answer = await http.get("/api/v1/grid/tasks", headers=grid_worker(grid))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_follow_up_of_a_grid_case_is_on_the_grid_workers_list(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api, worklist = Api(hub), Worklist(Api(hub))
    body = case_body("public_security", people=40)  # red: followed up daily
    red = await api.register({**body, "location": {**body["location"], "grid_code": GRID}})
    await close_with_satisfaction(api, red)
    assert await grid_tasks(hub, GRID) == []

    clock.set(sh(2026, 3, 3, 9, 0))  # the first daily follow-up
    await watchdog(hub).tick()
    (centre_task,) = await worklist.items(kind="follow_up", status="open")
    assert centre_task["grid"] == GRID
    (task,) = await grid_tasks(hub, GRID)
    assert (task["id"], task["kind"], task["case_no"], task["title"]) == (
        centre_task["id"],
        "follow_up",
        red,
        "三色回访",
    )
    assert await grid_tasks(hub, OTHER_GRID) == []

    async with http_client(base_url=hub.gateway) as http:
        visit = {
            "visited_at": sh(2026, 3, 3, 8, 55).isoformat(),  # the clock says 09:00
            "point": {"latitude": 40.6574, "longitude": 109.8403},
            "outcome": "verified",
            "note": "上门回访，当事人表示问题已解决",
        }
        done = await http.post(
            f"/api/v1/grid/tasks/{task['id']}/visit", json=visit, headers=grid_worker(GRID)
        )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    (seen,) = await worklist.items(kind="follow_up")
    assert seen["status"] == "done" and [h["action"] for h in seen["history"]] == ["created", "done"]
