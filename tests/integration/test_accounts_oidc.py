"""Optional sign-in through an identity provider (统一身份认证, OIDC) against a loopback provider
(tests/kit/oidc_provider.py): the code flow with PKCE, state and nonce signs an existing hub account in
with the same tokens as a password login; a forged, mis-addressed or replayed answer, an unknown or
disabled account, and a hub without OIDC are refused."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.accounts.store import create_user, set_user_disabled
from tests.kit.auth import authed_hub, bearer
from tests.kit.http import http_client
from tests.kit.infra import bound_socket, isolated_backends
from tests.kit.inprocess import InProcessHub, _serve, make_settings, running_hub
from tests.kit.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, create_app

__all__ = ["authed_hub"]

CALLBACK = "http://hub.test/api/v1/auth/oidc/callback"  # as registered; the test calls the gateway itself


@contextlib.asynccontextmanager
async def oidc_hub(tmp_path: Path) -> AsyncIterator[tuple[InProcessHub, Provider]]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    provider = Provider(issuer=f"http://127.0.0.1:{port}")
    idp = await _serve(create_app(provider), sock)
    settings = dict(
        auth_required=True,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_redirect_uri=CALLBACK,
    )
    try:
        async with (
            isolated_backends("sqlite") as (amqp_url, db_url),
            running_hub(make_settings(tmp_path, amqp_url, db_url, **settings)) as hub,
        ):
            yield hub, provider
    finally:
        idp.server.should_exit = True
        await idp.task


@pytest.fixture
async def with_idp(
    spans: InMemorySpanExporter, tmp_path: Path
) -> AsyncIterator[tuple[InProcessHub, Provider]]:
    async with oidc_hub(tmp_path) as found:
        yield found


async def sign_in(hub: InProcessHub, http: httpx.AsyncClient) -> httpx.Response:
    """Browser steps: the hub sends us to the provider, the provider back to the callback."""
    start = await http.get(f"{hub.gateway}/api/v1/auth/oidc/login")
    assert start.status_code == 302, start.text
    at_provider = await http.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return await http.get(f"{hub.gateway}{back.path}?{back.query}")


async def test_the_identity_provider_signs_an_existing_account_in(
    with_idp: tuple[InProcessHub, Provider],
) -> None:
    hub, provider = with_idp
    db = hub.runtime("gateway").db
    await create_user(db, "zheng.centre", role="centre", centre="150203", password="unused-password-1")
    provider.subject = "Zheng.Centre"
    async with http_client() as http:
        start = await http.get(f"{hub.gateway}/api/v1/auth/oidc/login")
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
        assert "httponly" in start.headers["set-cookie"].lower()

        answered = await sign_in(hub, http)
        assert answered.status_code == 200, answered.text
        tokens = answered.json()
        assert tokens["user"]["username"] == "zheng.centre" and tokens["refresh_token"]
        me = await http.get(f"{hub.gateway}/api/v1/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200 and me.json()["kind"] == "user"

        # The flow cookie is used up with the code: the same callback again is refused.
        assert (await http.get(f"{hub.gateway}/api/v1/auth/oidc/callback?code=x&state=y")).status_code == 401

        for tamper, why in (
            ("audience", "invalid id_token"),
            ("nonce", "nonce mismatch"),
            ("signature", "invalid"),
        ):
            provider.tamper = tamper
            refused = await sign_in(hub, http)
            assert refused.status_code == 401, (tamper, refused.text)
            assert why in refused.json()["detail"], (tamper, refused.json())
            assert (
                refused.json()["type"].endswith("/oidc-failed")
                and refused.json()["title"] == "统一身份认证失败"
            )
        provider.tamper = None

        provider.subject = "nobody.here"  # the provider knows them, the hub does not
        assert "未在本平台开通" in (await sign_in(hub, http)).json()["detail"]
        provider.subject = "zheng.centre"
        await set_user_disabled(db, "zheng.centre")
        assert (await sign_in(hub, http)).status_code == 401
        assert (
            await http.get(f"{hub.gateway}/api/v1/auth/me", headers=bearer(tokens["access_token"]))
        ).status_code == 401


async def test_without_a_provider_configured_the_oidc_endpoints_are_404(authed_hub: InProcessHub) -> None:
    async with http_client(base_url=authed_hub.gateway) as http:
        for path in ("/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback?code=a&state=b"):
            answer = await http.get(path)
            assert answer.status_code == 404 and answer.json()["type"].endswith("/oidc-disabled")
