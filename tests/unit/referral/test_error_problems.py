"""What a client reads when a referral use case refuses: the RFC 9457 problem the HTTP edge makes of each
domain error (status, type, title, detail, and the members it acts on), and nothing else."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from hub.problems import PROBLEM_JSON, TYPE_BASE
from services.referral.domain.lifecycle import CASE_MACHINE, CaseAction, TransitionRefused
from services.referral.edge import install_error_handlers
from services.referral.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    ReferralError,
    StateConflict,
    field_error,
)
from tests.kit.http import http_client


async def answer(error: Exception) -> tuple[int, str, dict[str, object]]:
    """What a client reads when an action raises ``error`` behind the referral service's edge."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/act")
    async def act() -> None:
        raise error

    async with http_client(transport=httpx.ASGITransport(app), base_url="http://referral") as client:
        response = await client.post("/act")
    return response.status_code, response.headers["content-type"], response.json()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("case-not-found", "未找到该事项", "分流服务中没有编号为 ZZ-1 的事项"), 404),
        (Forbidden("无权执行该操作", "角色 ops 不能执行此操作（需要: centre）"), 403),
        (StateConflict("not-a-lower-centre", "只能下派给下级中心", "A 不是 B 的下级中心"), 409),
        (
            InvalidRequest("未知单位", "没有编码为 x 的单位", errors=[field_error("lead", "unknown unit x")]),
            422,
        ),
    ],
)
async def test_each_kind_of_refusal_has_its_status_and_type(error: ReferralError, status: int) -> None:
    code, content_type, body = await answer(error)
    assert code == status and content_type == PROBLEM_JSON
    assert body["type"] == TYPE_BASE + error.type
    assert (body["title"], body["detail"], body["status"]) == (error.title, error.detail, status)
    assert body["instance"] == "/act"


async def test_a_life_cycle_conflict_names_the_state_and_what_is_allowed() -> None:
    error = StateConflict(
        "return-window-closed",
        "已超过退回时限",
        "退回须在派发后 2 个工作日内",
        current_state="acknowledged",
        action="return",
        allowed_actions=["start", "reply"],
        return_until="2026-03-04T01:00:00+00:00",
    )
    _, _, body = await answer(error)
    assert body["current_state"] == "acknowledged" and body["action"] == "return"
    assert body["allowed_actions"] == ["start", "reply"]
    assert body["return_until"] == "2026-03-04T01:00:00+00:00"


async def test_a_conflict_outside_the_life_cycle_adds_no_state_members() -> None:
    error = StateConflict(
        "channel-not-returnable",
        "该来源渠道不支持回退",
        "事项来自 window",
        channel="window",
        returnable_channels=["hotline12345"],
    )
    _, _, body = await answer(error)
    assert set(body) == {"type", "title", "status", "detail", "instance", "channel", "returnable_channels"}


async def test_an_invalid_request_says_which_field_and_keeps_its_own_code() -> None:
    error = InvalidRequest(
        "延期申请不符合规定",
        "累计延期超过上限",
        type_="extension-refused",
        code="exceeds_max_total",
        errors=[field_error("working_days", "累计延期超过上限")],
    )
    status, _, body = await answer(error)
    assert status == 422 and body["type"] == TYPE_BASE + "extension-refused"
    assert body["code"] == "exceeds_max_total"
    assert body["errors"] == [{"field": "working_days", "message": "累计延期超过上限"}]


async def test_a_transition_the_machine_refuses_is_409_naming_machine_state_and_actions() -> None:
    with pytest.raises(TransitionRefused) as refused:
        CASE_MACHINE.apply("closed", CaseAction.dispatch)
    status, _, body = await answer(refused.value)
    assert status == 409 and body["type"] == TYPE_BASE + "transition-refused"
    assert (body["machine"], body["current_state"], body["action"]) == ("case", "closed", "dispatch")
    assert body["allowed_actions"] == [a.value for a in CASE_MACHINE.allowed_actions("closed")]
    assert "当前状态 closed" in str(body["detail"])
