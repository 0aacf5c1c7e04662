"""Edge limits (issue 14): security headers on every answer of the gateway (API, errors, console, ops),
HSTS only over TLS (or when the edge says it is behind TLS), /docs, /redoc, /openapi.json and /metrics
open in development and closed in production, and a huge page number refused with 422.

The gateway runs alone (tests/integration/test_edge_body_limits.py: `gateway_alone`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.console import SECURITY_HEADERS
from hub.config import Environment
from hub.credentials import new_signing_key, public_key_of
from tests.integration.test_edge_body_limits import gateway_alone
from tests.kit.http import http_client

pytestmark = pytest.mark.integration

_SIGNING = new_signing_key()
# The production settings a gateway may start with (real secrets; auth required).
PROD = {
    "env": Environment.prod,
    "auth_required": True,
    "pii_key": "c2VjcmV0LWtleS1mb3ItcHJvZHVjdGlvbi0zMmJ5dGU=",
    "hash_key": "prod-hash-key",
    "token_secret": "prod-token-secret",
    "internal_signing_key": _SIGNING,
    "internal_verify_keys": (public_key_of(_SIGNING),),
    "sms_webhook_token": "prod-sms-webhook-token",
    "sms_access_key_secret": "prod-sms-access-key-secret",
    **{
        f"{system}_{kind}": f"prod-{system}-{kind}"
        for system in ("hotline12345", "police110", "court", "procuratorate12309")
        for kind in ("app_secret", "webhook_secret")
    },
}


def _assert_secure(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", response.request.url
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_every_answer_carries_the_security_headers_and_hsts_only_over_tls(tmp_path: Path) -> None:
    async with gateway_alone(tmp_path) as (gateway, _settings), http_client(base_url=gateway) as client:
        answers = [
            await client.get("/healthz"),
            await client.get("/api/v1/no-such-route"),  # 404 problem
            await client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"}),  # 4xx
            await client.get("/console/"),
            await client.get("/openapi.json"),
            await client.post("/api/v1/auth/token", content=b"x" * 10_000),  # 413
            await client.get("/api/v1/referrals", params={"page": 10**20}),  # 422
        ]
        for response in answers:
            _assert_secure(response)
            assert "strict-transport-security" not in response.headers  # plain HTTP
        # The console keeps its own strict policy whole (not replaced by the general one).
        assert answers[3].headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        assert answers[1].headers["content-security-policy"] == "frame-ancestors 'none'"
        # A huge page number is a client error, never a database overflow.
        assert answers[6].status_code == 422, answers[6].text
        assert answers[6].json()["type"].endswith("/validation-error")
        # Through a TLS-terminating proxy the gateway trusts (uvicorn's forwarded-allow-ips: loopback).
        over_tls = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert over_tls.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_hsts_on_every_answer_when_the_edge_is_behind_tls(tmp_path: Path) -> None:
    async with gateway_alone(tmp_path, behind_tls=True) as (gateway, _settings):
        async with http_client(base_url=gateway) as client:
            response = await client.get("/healthz")
        _assert_secure(response)
        assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_docs_and_metrics_are_open_in_development(tmp_path: Path) -> None:
    async with gateway_alone(tmp_path) as (gateway, _settings), http_client(base_url=gateway) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert (await client.get(path)).status_code == 200, path


async def test_production_closes_docs_and_opens_metrics_only_to_its_token(tmp_path: Path) -> None:
    async with (
        gateway_alone(tmp_path, **PROD, metrics_token="scrape-token-0123456789") as (gateway, _settings),
        http_client(base_url=gateway) as client,
    ):
        for path in ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/metrics"):
            closed = await client.get(path)
            assert closed.status_code == 404, path
            assert closed.headers["content-type"].startswith("application/problem+json")
            _assert_secure(closed)
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 404
        scraped = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
        assert scraped.status_code == 200 and "hub_" in scraped.text
        assert (await client.get("/healthz")).status_code == 200  # probes stay open


async def test_production_without_a_metrics_token_closes_metrics_and_settings_reopen_them(
    tmp_path: Path,
) -> None:
    async with (
        gateway_alone(tmp_path, **PROD, docs_enabled=True) as (gateway, _settings),
        http_client(base_url=gateway) as client,
    ):
        assert (await client.get("/metrics", headers={"Authorization": "Bearer anything"})).status_code == 404
        assert (await client.get("/docs")).status_code == 200  # HUB_DOCS_ENABLED=true opens them
    async with (
        gateway_alone(tmp_path, **PROD, metrics_public=True) as (gateway, _settings),
        http_client(base_url=gateway) as client,
    ):
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 404
