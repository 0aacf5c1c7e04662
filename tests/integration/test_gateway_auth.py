"""Gateway authentication: client credentials → bearer tokens, the middleware that checks them and
replaces the actor headers, per-client rate limits, request ids, and `hub clients create`."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.auth import (
    AUDIENCE,
    ISSUER,
    AuthMiddleware,
    Identity,
    TokenIssuer,
    set_disabled,
    verify_secret,
)
from gateway.auth.middleware import PUBLIC_PATHS
from gateway.authorization import Permissions
from gateway.ratelimit import RateLimiter
from gateway.requestid import RequestIdMiddleware
from gateway.routes.spec import Route
from gateway.routes.table import ROUTES
from gateway.settings import DEV_TOKEN_SECRET, GatewaySettings
from gateway.tables import clients
from hub.credentials import new_signing_key
from hub.problems import PROBLEM_JSON, install_problem_handlers
from tests.integration.test_walking_skeleton import CASE, post_case
from tests.kit.auth import auth_headers, authed_hub, bearer, create_client, fetch_token
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module

ISSUE = TokenIssuer(DEV_TOKEN_SECRET)
CENTRE = Identity("centre-test", "centre")
DEPT = Identity("department-test", "department", department="housing@150203")
POLICE = Identity("adapter-test", "adapter", system="police110")


# ---------------------------------------------------------------- the middleware on a bare app


def echo_app(*, required: bool = True, limiter: RateLimiter | None = None) -> FastAPI:
    """Routes that echo what a handler sees, behind the same middleware stack as the gateway."""
    app = FastAPI()
    install_problem_handlers(app)

    def seen(request: Request) -> dict[str, Any]:
        return {k: v for k, v in request.headers.items() if k.startswith(("x-hub-actor-", "x-request-id"))}

    @app.get("/api/v1/cases/{case_no}")
    async def get_case(case_no: str, request: Request) -> dict[str, Any]:
        return seen(request)

    @app.post("/api/v1/cases")
    async def post_case(request: Request) -> dict[str, Any]:
        return {**seen(request), "body": (await request.body()).decode()}

    @app.get("/api/v1/referrals/{referral_id}")
    async def get_referral(referral_id: str, request: Request) -> dict[str, Any]:
        return seen(request)

    @app.get("/api/v1/unlisted")
    async def unlisted() -> dict[str, Any]:
        return {}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # The gateway's route table, and one route it does not open to anybody.
    unlisted_route = Route("GET", "/api/v1/unlisted", "unlisted", "", "test", roles=frozenset())
    app.add_middleware(
        AuthMiddleware,
        permissions=Permissions([*ROUTES, unlisted_route]),
        issuer=ISSUE,
        limiter=limiter or RateLimiter(),
        required=required,
    )
    app.add_middleware(RequestIdMiddleware)
    return app


@pytest.fixture
async def bare() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(transport=httpx.ASGITransport(app=echo_app()), base_url="http://gw") as c:
        yield c


def assert_problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["type"].endswith(type_suffix), problem
    return problem


async def test_no_token_is_401_problem_with_a_bearer_challenge(bare: httpx.AsyncClient) -> None:
    response = await bare.get("/api/v1/cases/ZZ-1")
    assert_problem(response, 401, "/unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="referral-hub"'
    assert (await bare.get("/healthz")).status_code == 200  # outside bearer auth


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        jwt.encode(
            {"sub": "x", "role": "centre"}, "another-secret-of-a-decent-length-0123456789", algorithm="HS256"
        ),
        jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "role": "centre", "rpm": 5, "iat": 1, "exp": 2**40},
            key="",
            algorithm="none",
        ),
        ISSUE.issue(CENTRE)[:-3] + "abc",  # signature tampered
        TokenIssuer("some-other-deployment").issue(CENTRE),
    ],
    ids=["garbage", "foreign-key", "alg-none", "tampered", "other-secret"],
)
async def test_invalid_tokens_are_401_invalid_token(bare: httpx.AsyncClient, token: str) -> None:
    response = await bare.get("/api/v1/cases/ZZ-1", headers=bearer(token))
    assert_problem(response, 401, "/invalid-token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_expired_token_is_401_and_says_so(bare: httpx.AsyncClient) -> None:
    expired = TokenIssuer(DEV_TOKEN_SECRET, ttl_s=-60).issue(CENTRE)
    problem = assert_problem(
        await bare.get("/api/v1/cases/ZZ-1", headers=bearer(expired)), 401, "/invalid-token"
    )
    assert "expired" in problem["detail"]


async def test_actor_headers_sent_by_the_client_are_replaced_by_the_tokens_identity(
    bare: httpx.AsyncClient,
) -> None:
    forged = {
        "X-Hub-Actor-Role": "centre",
        "X-Hub-Actor-Id": "somebody-else",
        "X-Hub-Actor-Department": "court@150203",
        "X-Hub-Actor-Anything": "x",
    }
    seen = (await bare.get("/api/v1/referrals/r1", headers={**forged, **bearer(ISSUE.issue(DEPT))})).json()
    assert seen.pop("x-request-id")
    assert seen == {
        "x-hub-actor-role": "department",
        "x-hub-actor-id": "department-test",
        "x-hub-actor-department": "housing@150203",
        "x-hub-actor-kind": "client",
    }
    seen = (await bare.get("/api/v1/cases/ZZ-1", headers={**forged, **bearer(ISSUE.issue(CENTRE))})).json()
    assert {k: v for k, v in seen.items() if k.startswith("x-hub-actor-")} == {
        "x-hub-actor-role": "centre",
        "x-hub-actor-id": "centre-test",
        "x-hub-actor-kind": "client",
    }


async def test_role_table_refuses_with_403_and_unknown_routes_stay_404(bare: httpx.AsyncClient) -> None:
    assert_problem(
        await bare.get("/api/v1/cases/ZZ-1", headers=bearer(ISSUE.issue(DEPT))), 403, "/route-forbidden"
    )
    # A route whose row names no role is closed to every role, centre included.
    assert_problem(
        await bare.get("/api/v1/unlisted", headers=bearer(ISSUE.issue(CENTRE))), 403, "/route-forbidden"
    )
    assert_problem(await bare.get("/api/v1/nothing-here", headers=bearer(ISSUE.issue(CENTRE))), 404, "")


async def test_an_adapter_registers_cases_only_on_its_own_channel(bare: httpx.AsyncClient) -> None:
    token = bearer(ISSUE.issue(POLICE))
    wrong = await bare.post("/api/v1/cases", json={**CASE, "channel": "hotline12345"}, headers=token)
    assert_problem(wrong, 403, "/wrong-channel")
    own = await bare.post("/api/v1/cases", json={**CASE, "channel": "police110"}, headers=token)
    assert own.status_code == 200 and '"police110"' in own.json()["body"]  # body reaches the route intact
    assert own.json()["x-hub-actor-system"] == "police110"


async def test_with_auth_off_headers_are_trusted_but_a_token_is_still_checked() -> None:
    transport = httpx.ASGITransport(app=echo_app(required=False))
    async with http_client(transport=transport, base_url="http://gw") as c:
        trusted = (await c.get("/api/v1/cases/ZZ-1", headers={"X-Hub-Actor-Role": "ops"})).json()
        assert trusted["x-hub-actor-role"] == "ops"
        checked = await c.get(
            "/api/v1/cases/ZZ-1", headers={"X-Hub-Actor-Role": "ops", **bearer(ISSUE.issue(CENTRE))}
        )
        assert checked.json()["x-hub-actor-role"] == "centre"
        assert_problem(await c.get("/api/v1/cases/ZZ-1", headers=bearer("bad")), 401, "/invalid-token")


async def test_rate_limit_per_client_is_429_with_retry_after() -> None:
    now = [1000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=echo_app(limiter=limiter))
    slow = bearer(ISSUE.issue(Identity("centre-slow", "centre", rate_limit_per_minute=3)))
    other = bearer(ISSUE.issue(Identity("centre-other", "centre", rate_limit_per_minute=3)))
    async with http_client(transport=transport, base_url="http://gw") as c:
        codes = [(await c.get("/api/v1/cases/ZZ-1", headers=slow)).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        refused = await c.get("/api/v1/cases/ZZ-1", headers=slow)
        assert_problem(refused, 429, "/rate-limited")
        assert refused.headers["retry-after"] == "20"  # 3 a minute: one more every 20 s
        assert (await c.get("/api/v1/cases/ZZ-1", headers=other)).status_code == 200  # its own bucket
        now[0] += 20
        assert (await c.get("/api/v1/cases/ZZ-1", headers=slow)).status_code == 200


async def test_request_ids_are_echoed_generated_and_sanitised(bare: httpx.AsyncClient) -> None:
    given = await bare.get("/healthz", headers={"X-Request-Id": "req-42.abc"})
    assert given.headers["x-request-id"] == "req-42.abc"
    generated = await bare.get("/api/v1/cases/ZZ-1")  # a 401 carries one too
    assert len(generated.headers["x-request-id"]) == 32
    forged = await bare.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert forged.headers["x-request-id"] != "bad id\twith spaces"
    handler_saw = await bare.get(
        "/api/v1/cases/ZZ-1", headers={"X-Request-Id": "abc-1", **bearer(ISSUE.issue(CENTRE))}
    )
    assert handler_saw.json()["x-request-id"] == "abc-1" == handler_saw.headers["x-request-id"]


def test_production_refuses_auth_switched_off() -> None:
    real = {
        "pii_key": "c2VjcmV0LWtleS1mb3ItcHJvZHVjdGlvbi0zMmJ5dGU=",
        "hash_key": "h",
        "token_secret": "t",
        "internal_signing_key": new_signing_key(),
        "sms_webhook_token": "s",
    }
    real |= {f"{s}_webhook_secret": "w" for s in ("hotline12345", "police110", "court", "procuratorate12309")}
    with pytest.raises(ValidationError, match="HUB_AUTH_REQUIRED"):
        GatewaySettings(env="prod", auth_required=False, **real)  # type: ignore[arg-type]
    assert GatewaySettings(env="prod", **real).auth_required is True  # type: ignore[arg-type]
    assert GatewaySettings().auth_required is True  # the default everywhere


# ---------------------------------------------------------------- the token endpoint in the real hub


async def test_client_credentials_give_a_short_lived_bearer_token(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    client = await create_client(hub, "department", department="housing@150203001000")
    async with http_client(base_url=hub.gateway) as http:
        form = {"grant_type": "client_credentials", "client_id": client.client_id}
        ok = await http.post("/api/v1/auth/token", data={**form, "client_secret": client.secret})
        assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
        body = ok.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 900
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == client.client_id and claims["role"] == "department"
        assert claims["dept"] == "housing@150203001000" and claims["exp"] - claims["iat"] == 900

        basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
        via_basic = await http.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert via_basic.status_code == 200

        wrong = await http.post("/api/v1/auth/token", data={**form, "client_secret": "guess"})
        assert assert_problem(wrong, 401, "/oauth-invalid-client")["error"] == "invalid_client"
        grant = await http.post(
            "/api/v1/auth/token", data={**form, "client_secret": client.secret, "grant_type": "password"}
        )
        assert (
            assert_problem(grant, 400, "/oauth-unsupported-grant-type")["error"] == "unsupported_grant_type"
        )
        as_json = await http.post("/api/v1/auth/token", json={**form, "client_secret": client.secret})
        assert assert_problem(as_json, 400, "/oauth-invalid-request")["error"] == "invalid_request"

    async with hub.runtime("gateway").db.sessions() as session:
        row = (await session.execute(select(clients).where(clients.c.client_id == client.client_id))).one()
    assert row.secret_hash.startswith("scrypt$") and client.secret not in row.secret_hash
    assert verify_secret(client.secret, row.secret_hash) and not verify_secret("guess", row.secret_hash)

    await set_disabled(hub.runtime("gateway").db, client.client_id)
    hub.apps["gateway"].app.state.client_authenticator.forget()  # else remembered for up to a minute
    async with http_client(base_url=hub.gateway) as http:
        refused = await http.post("/api/v1/auth/token", data={**form, "client_secret": client.secret})
    assert_problem(refused, 401, "/oauth-invalid-client")


async def test_the_services_see_the_authenticated_client_not_the_forged_headers(
    authed_hub: InProcessHub, spans: InMemorySpanExporter
) -> None:
    hub = authed_hub
    response = await post_case(hub)
    case_no = response.json()["case_no"]
    centre = await create_client(hub, "centre")
    request_id = f"req-{uuid.uuid4().hex}"
    token = await fetch_token(hub.gateway, centre)
    async with http_client(base_url=hub.gateway) as http:
        overridden = await http.post(
            f"/api/v1/cases/{case_no}/assessment",
            json={"colour": "orange", "reason": "现场核实涉及多户居民"},
            headers={
                **bearer(token),
                "X-Hub-Actor-Id": "forged-person",
                "X-Hub-Actor-Role": "ops",
                "X-Request-Id": request_id,
            },
        )
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["override"]["actor_id"] == centre.client_id
    assert overridden.json()["override"]["actor_role"] == "centre"
    assert overridden.headers["x-request-id"] == request_id
    server = [
        s for s in spans.get_finished_spans() if (s.attributes or {}).get("hub.request_id") == request_id
    ]
    assert server and server[0].attributes["hub.client_id"] == centre.client_id  # type: ignore[index]


async def test_openapi_declares_the_bearer_scheme_on_every_api_route(authed_hub: InProcessHub) -> None:
    async with http_client(base_url=authed_hub.gateway) as http:
        doc = (await http.get("/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["clientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            secured = "security" in op
            expected = path.startswith("/api/v1/") and path not in PUBLIC_PATHS  # token, login, refresh
            assert secured == expected, (method, path)
            if expected:
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)


async def test_tokens_made_elsewhere_in_the_suite_work_in_auth_off_hubs_too(
    authed_hub: InProcessHub,
) -> None:
    # The test kit's helper is what the updated tests use, whichever mode their hub runs in.
    headers = await auth_headers(authed_hub, "ops")
    async with http_client(base_url=authed_hub.gateway) as http:
        assert (await http.get("/api/v1/cases/ZZ-20990101-000001", headers=headers)).status_code == 404


# ---------------------------------------------------------------- `hub clients create`


def test_hub_clients_create_prints_an_id_and_a_secret_once(tmp_path: Path, monkeypatch: Any) -> None:
    from hubcli.main import app

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["clients", "create", "--role", "department", "--department", "court@1502"])
    assert result.exit_code == 0, result.output
    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert printed["client_id"].startswith("department-") and len(printed["client_secret"]) >= 40

    listed = runner.invoke(app, ["clients", "list"])
    assert printed["client_id"] in listed.stdout and printed["client_secret"] not in listed.stdout

    open311 = runner.invoke(app, ["clients", "create", "--role", "adapter", "--system", "open311"])
    assert "open311_api_key: adapter-" in open311.stdout

    for bad in (
        ["--role", "department"],  # no department code
        ["--role", "adapter", "--system", "fax"],
        ["--role", "ops", "--department", "court@1502"],
        ["--role", "root"],
    ):
        refused = runner.invoke(app, ["clients", "create", *bad])
        assert refused.exit_code == 2, (bad, refused.output)
