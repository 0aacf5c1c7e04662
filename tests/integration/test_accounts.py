"""Named accounts in the real hub (issue 14): `hub users create`, login, me, refresh with rotation and
theft detection, logout, lockout, no user enumeration, a supervisor acting as the centre, and
revocation at once on every replica — three gateways sharing one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from gateway.accounts.store import create_user
from gateway.tables import audit_log
from hub import audit
from hub.problems import TYPE_BASE
from tests.integration.test_walking_skeleton import CASE
from tests.kit.auth import authed_hub, bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub, RunningApp, _serve

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module

PASSWORD = "correct horse battery"
STAFF_NAME = "孙督办"  # a person's display name: in the audit trail only (tests/kit/pii_scan.py)


def _cli_env(hub: InProcessHub) -> dict[str, str]:
    """What `hub users …` needs to find this in-process hub's gateway database."""
    env = {"HUB_ENV": "test", "HUB_DATA_DIR": str(hub.settings.data_dir)}
    if hub.settings.database_url:
        env["HUB_DATABASE_URL"] = hub.settings.database_url
    return env


async def hub_cli(hub: InProcessHub, *args: str, stdin: str | None = None) -> tuple[int, str]:
    from hubcli.main import app

    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), input=stdin, env=_cli_env(hub))
    return result.exit_code, result.output


async def login(gateway: str, username: str, password: str = PASSWORD) -> httpx.Response:
    async with http_client(base_url=gateway) as http:
        return await http.post("/api/v1/auth/login", json={"username": username, "password": password})


async def refresh(gateway: str, token: str) -> httpx.Response:
    async with http_client(base_url=gateway) as http:
        return await http.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def me(gateway: str, access_token: str) -> httpx.Response:
    async with http_client(base_url=gateway) as http:
        return await http.get("/api/v1/auth/me", headers=bearer(access_token))


async def account_events(hub: InProcessHub) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """The gateway's audit log as (action, actor role, actor id, detail), after checking its chain."""
    async with hub.runtime("gateway").db.sessions() as session:
        rows = await audit.read_chain(session, audit_log)
    assert audit.verify(rows, hub.settings.hash_key).ok
    for row in rows:  # ids and codes only
        assert STAFF_NAME not in repr(row) and PASSWORD not in repr(row) and "username" not in row.detail
    return [(r.action, r.actor_role, r.actor_id, r.detail) for r in rows]


def assert_problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(type_suffix) and body["status"] == status, body
    return body


# ---------------------------------------------------------------- the command line, login and me


async def test_hub_users_create_then_login_me_and_the_actor_forwarded(
    authed_hub: InProcessHub, spans: InMemorySpanExporter
) -> None:
    hub = authed_hub
    code, out = await hub_cli(
        hub,
        "users", "create", "Sun.Du", "--role", "supervisor", "--centre", "150203",
        "--name", STAFF_NAME, "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, out
    assert "password:" not in out  # chosen on stdin: nothing to show

    answered = await login(hub.gateway, "sun.du")  # usernames are case-insensitive
    assert answered.status_code == 200, answered.text
    assert answered.headers["cache-control"] == "no-store"
    body = answered.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 600
    assert body["refresh_expires_in"] == 43200
    assert body["user"] == {
        "id": body["user"]["id"],
        "username": "sun.du",
        "name": STAFF_NAME,
        "role": "supervisor",
        "centre": "150203",
        "department": None,
        "grid": None,  # a grid worker's grid (issue 18)
    }
    who = await me(hub.gateway, body["access_token"])
    assert who.status_code == 200, who.text
    assert who.json() | {"id": None} == {
        "kind": "user",
        "id": None,
        "role": "supervisor",
        "username": "sun.du",
        "name": STAFF_NAME,
        "centre": "150203",
        "department": None,
        "system": None,
        "grid": None,
    }

    # A supervisor does what the centre does, in intake (registration) and referral (the queue).
    async with http_client(base_url=hub.gateway, headers=bearer(body["access_token"])) as http:
        filed = await http.post("/api/v1/cases", json=CASE)
        assert filed.status_code == 201, filed.text
        assert (await http.get("/api/v1/dispatch-queue")).status_code == 200
        assert (
            await http.post(
                f"/api/v1/cases/{filed.json()['case_no']}/personal-data", json={"purpose": "电话联系当事人"}
            )
        ).status_code == 200

    # The name travels to the services percent-encoded, and never into a span.
    encoded = quote(STAFF_NAME, safe="")
    for span in spans.get_finished_spans():
        text = repr(dict(span.attributes or {}))
        assert STAFF_NAME not in text and encoded not in text, span.name

    # The CLI refuses bad input, in both languages, with exit code 2 (1: no such user).
    for bad in (
        ["x", "--role", "centre", "--centre", "150203"],  # username too short
        ["ann", "--role", "adapter", "--centre", "150203"],  # not a person's role
        ["ann", "--role", "centre", "--centre", "15020"],  # not an area code
        ["ann", "--role", "department", "--centre", "150203"],  # no department code
        ["ann", "--role", "ops", "--centre", "150203", "--department", "housing@1502"],
        ["sun.du", "--role", "ops", "--centre", "150203"],  # taken
    ):
        code, out = await hub_cli(hub, "users", "create", *bad)
        assert code == 2, (bad, out)
    code, out = await hub_cli(hub, "users", "disable", "nobody")
    assert code == 1 and "no user nobody" in out and "没有用户" in out

    events = await account_events(hub)
    user_id = body["user"]["id"]
    assert events[0] == (
        "account.created",
        "system",
        "hub users",
        {"user_id": user_id, "role": "supervisor", "centre": "150203"},
    )
    assert events[1][:3] == ("account.login", "supervisor", user_id)
    assert events[1][3]["method"] == "password" and events[1][3]["address"] == "127.0.0.1"


async def test_generated_password_is_shown_once_and_reset_revokes_sessions(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    code, out = await hub_cli(hub, "users", "create", "li.ops", "--role", "ops", "--centre", "150203")
    assert code == 0, out
    printed = dict(line.split(": ", 1) for line in out.splitlines() if line.startswith("password: "))
    first = (await login(hub.gateway, "li.ops", printed["password"])).json()
    assert (await me(hub.gateway, first["access_token"])).status_code == 200

    code, listed = await hub_cli(hub, "users", "list")
    assert code == 0 and "li.ops" in listed and printed["password"] not in listed

    code, out = await hub_cli(
        hub, "users", "reset", "li.ops", "--password-stdin", stdin="another-long-secret\n"
    )
    assert code == 0, out
    assert_problem(await me(hub.gateway, first["access_token"]), 401, "/invalid-token")
    assert_problem(await refresh(hub.gateway, first["refresh_token"]), 401, "/refresh-refused")
    assert_problem(await login(hub.gateway, "li.ops", printed["password"]), 401, "/login-failed")
    assert (await login(hub.gateway, "li.ops", "another-long-secret")).status_code == 200


# ---------------------------------------------------------------- refresh rotation, theft, logout


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_session(
    authed_hub: InProcessHub,
) -> None:
    hub = authed_hub
    db = hub.runtime("gateway").db
    await create_user(db, "wang.centre", role="centre", centre="150203001000", password=PASSWORD)
    first = (await login(hub.gateway, "wang.centre")).json()

    second = await refresh(hub.gateway, first["refresh_token"])
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["user"]["username"] == "wang.centre"
    assert (await me(hub.gateway, pair["access_token"])).status_code == 200
    assert (await me(hub.gateway, first["access_token"])).status_code == 200  # same session, still live

    # The first refresh token is used up; presenting it again means a copy exists: the family dies.
    reused = assert_problem(await refresh(hub.gateway, first["refresh_token"]), 401, "/refresh-refused")
    assert "撤销" in reused["detail"]
    for access in (first["access_token"], pair["access_token"]):
        assert_problem(await me(hub.gateway, access), 401, "/invalid-token")
    assert_problem(await refresh(hub.gateway, pair["refresh_token"]), 401, "/refresh-refused")
    # Garbage and access tokens are no refresh tokens.
    assert_problem(await refresh(hub.gateway, "not-a-token"), 401, "/refresh-refused")
    assert_problem(await refresh(hub.gateway, pair["access_token"]), 401, "/refresh-refused")

    # A new sign-in is a new session, untouched by the old one's fate.
    again = (await login(hub.gateway, "wang.centre")).json()
    assert (await me(hub.gateway, again["access_token"])).status_code == 200
    # Two refreshes with one token at the same instant: exactly one wins the rotation, and the other
    # is taken for a copy, so the session ends for both.
    racing = await asyncio.gather(*(refresh(hub.gateway, again["refresh_token"]) for _ in range(2)))
    assert sorted(r.status_code for r in racing) == [200, 401]
    winner = next(r for r in racing if r.status_code == 200).json()
    assert_problem(await me(hub.gateway, winner["access_token"]), 401, "/invalid-token")

    actions = [(action, detail.get("session_id")) for action, _, _, detail in await account_events(hub)]
    session_id = next(sid for action, sid in actions if action == "account.login")
    assert ("session.refresh_reuse", session_id) in actions


async def test_logout_refuses_the_sessions_tokens_at_once(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    db = hub.runtime("gateway").db
    await create_user(
        db, "zhao.dept", role="department", centre="150203", department="housing@150203", password=PASSWORD
    )
    tokens = (await login(hub.gateway, "zhao.dept")).json()
    other = (await login(hub.gateway, "zhao.dept")).json()  # a second device
    async with http_client(base_url=hub.gateway, headers=bearer(tokens["access_token"])) as http:
        assert (await http.get("/api/v1/referrals")).status_code == 200
        out = await http.post("/api/v1/auth/logout")
        assert out.status_code == 204, out.text
        assert_problem(await http.get("/api/v1/referrals"), 401, "/invalid-token")
        assert_problem(await http.post("/api/v1/auth/logout"), 401, "/invalid-token")
    assert_problem(await refresh(hub.gateway, tokens["refresh_token"]), 401, "/refresh-refused")
    assert (await me(hub.gateway, other["access_token"])).status_code == 200  # only that session ended
    assert [e[:2] for e in await account_events(hub) if e[0] == "session.logout"] == [
        ("session.logout", "department")
    ]


# ---------------------------------------------------------------- lockout, rate limit, no enumeration


async def test_lockout_after_n_failures_and_the_same_answers_for_unknown_usernames(
    authed_hub: InProcessHub,
) -> None:
    hub = authed_hub
    await create_user(
        hub.runtime("gateway").db, "qian.centre", role="centre", centre="150203", password=PASSWORD
    )
    limit = hub.settings.login_max_failures
    assert limit == 5

    def shape(r: httpx.Response) -> tuple[int, str, str, str]:
        body = r.json()
        return r.status_code, body["type"], body["title"], body["detail"]

    real = [await login(hub.gateway, "qian.centre", "wrong password!") for _ in range(limit)]
    ghost = [await login(hub.gateway, "no.such.person", "wrong password!") for _ in range(limit)]
    assert {shape(r) for r in real} == {shape(r) for r in ghost}  # one answer: no enumeration
    assert shape(real[0])[:3] == (401, TYPE_BASE + "login-failed", "登录失败")
    assert shape(real[0])[3] == "用户名或密码错误"

    # Locked now, even with the right password; an unknown username locks alike.
    locked = assert_problem(await login(hub.gateway, "qian.centre"), 423, "/account-locked")
    assert (
        locked["title"] == "账号已锁定"
        and int((await login(hub.gateway, "qian.centre")).headers["retry-after"]) > 0
    )
    ghost_locked = await login(hub.gateway, "no.such.person", PASSWORD)
    assert shape(ghost_locked)[:3] == shape(await login(hub.gateway, "qian.centre"))[:3]

    failures = [e for e in await account_events(hub) if e[0] == "account.login_failed"]
    reasons = [(role, detail["reason"], detail.get("locks")) for _, role, _, detail in failures]
    assert reasons[:limit] == [("centre", "password", False)] * (limit - 1) + [("centre", "password", True)]
    assert reasons[limit : 2 * limit] == [("anonymous", "unknown_user", None)] * limit
    assert ("centre", "locked", None) in reasons

    # `hub users enable` lifts the lockout.
    code, out = await hub_cli(hub, "users", "enable", "qian.centre")
    assert code == 0, out
    assert (await login(hub.gateway, "qian.centre")).status_code == 200

    # Past the per-minute limit of one username from one address: 429, whatever the password.
    attempts = [
        await login(hub.gateway, "rate.limited", "x")
        for _ in range(hub.settings.login_attempts_per_minute + 1)
    ]
    assert attempts[-1].status_code == 429 and int(attempts[-1].headers["retry-after"]) >= 1
    assert all(r.status_code != 429 for r in attempts[:-1])


# ---------------------------------------------------------------- revocation on every replica


@contextlib.asynccontextmanager
async def more_gateways(hub: InProcessHub, count: int) -> AsyncIterator[list[str]]:
    """More gateway replicas: the same bootstrap and settings, so the same database (and broker)."""
    replicas: list[RunningApp] = []
    try:
        for _ in range(count):
            app = importlib.import_module("gateway.main").bootstrap(hub.settings)
            replicas.append(await _serve(app))
        yield [r.url for r in replicas]
    finally:
        for running in replicas:
            running.server.should_exit = True
        for running in replicas:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.task, timeout=15)


async def test_a_disabled_user_or_client_is_refused_on_the_next_request_on_every_replica(
    authed_hub: InProcessHub,
) -> None:
    hub = authed_hub
    async with more_gateways(hub, 2) as others:
        replicas = [hub.gateway, *others]
        code, out = await hub_cli(
            hub, "users", "create", "zhou.centre", "--role", "centre", "--centre", "150203",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert code == 0, out
        user = (await login(replicas[0], "zhou.centre")).json()
        client = await create_client(hub, "centre")
        client_token = await fetch_token(replicas[1], client)

        for gateway in replicas:  # one sign-in, one client token: good on every replica
            for token in (user["access_token"], client_token):
                async with http_client(base_url=gateway, headers=bearer(token)) as http:
                    assert (await http.get("/api/v1/cases")).status_code == 200
                    assert (await http.get("/api/v1/auth/me")).status_code == 200

        code, out = await hub_cli(hub, "users", "disable", "zhou.centre")
        assert code == 0, out
        for gateway in replicas:  # the very next request, on each replica
            async with http_client(base_url=gateway, headers=bearer(user["access_token"])) as http:
                assert_problem(await http.get("/api/v1/cases"), 401, "/invalid-token")
                assert_problem(await http.get("/api/v1/auth/me"), 401, "/invalid-token")
            assert_problem(await refresh(gateway, user["refresh_token"]), 401, "/refresh-refused")
            assert_problem(await login(gateway, "zhou.centre"), 401, "/login-failed")

        code, out = await hub_cli(hub, "clients", "disable", client.client_id)
        assert code == 0, out
        for gateway in replicas:
            async with http_client(base_url=gateway, headers=bearer(client_token)) as http:
                assert_problem(await http.get("/api/v1/cases"), 401, "/invalid-token")

        # Enabled again, the person signs in anew; the old session stays revoked.
        code, out = await hub_cli(hub, "users", "enable", "zhou.centre")
        assert code == 0, out
        assert_problem(await me(replicas[2], user["access_token"]), 401, "/invalid-token")
        fresh = (await login(replicas[2], "zhou.centre")).json()
        assert (await me(replicas[0], fresh["access_token"])).status_code == 200
