"""Edge limits (issue 14), the parts without a server: which limit a path gets, the console's policy
kept whole, and the services' general cap (the apps built as `main.bootstrap` builds them, called in
process: the limit answers before any route, so nothing is started)."""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx
import pytest

from gateway.console import SECURITY_HEADERS
from gateway.edge import body_limits, merged_csp
from gateway.settings import GatewaySettings
from hub.body_limits import LimitRequestBody
from tests.kit.http import http_client
from tests.kit.inprocess import BOOTSTRAPS, make_settings


def test_each_kind_of_gateway_path_has_its_limit() -> None:
    limits = body_limits(GatewaySettings())
    assert limits.for_path("/api/v1/cases") == 1 << 20
    assert limits.for_path("/api/v1/auth/token") == limits.for_path("/api/v1/auth/login") == 8 << 10
    assert limits.for_path("/api/v1/auth") == 8 << 10
    assert limits.for_path("/open311/v2/requests.json") == 64 << 10
    assert limits.for_path("/adapters/court/mediation-requests") == 256 << 10
    assert limits.for_path("/api/v1/authority") == 1 << 20  # a prefix is a path segment, not a word


def test_the_consoles_policy_is_kept_and_every_other_answer_forbids_framing() -> None:
    strict = SECURITY_HEADERS["Content-Security-Policy"]
    assert merged_csp(strict) == strict
    assert merged_csp(None) == "frame-ancestors 'none'"
    assert merged_csp("default-src 'self';") == "default-src 'self'; frame-ancestors 'none'"


@pytest.mark.parametrize("service", ["intake", "referral", "notification"])
async def test_services_refuse_a_body_over_the_general_cap(service: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "amqp://guest:guest@127.0.0.1:5672/unused", None)
    app = importlib.import_module(BOOTSTRAPS[service]).bootstrap(settings)
    async with http_client(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        response = await client.post(
            "/internal/v1/anything", content=b"{" + b" " * settings.max_body_bytes + b"}"
        )
    assert response.status_code == 413
    assert response.json()["title"] == "请求体过大"
    (limits,) = [m.kwargs["limits"] for m in app.user_middleware if m.cls is LimitRequestBody]
    expected = settings.intake_import_max_body_bytes if service == "intake" else settings.max_body_bytes
    assert limits.for_path("/internal/v1/cases:import") == expected
