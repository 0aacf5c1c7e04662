"""The gateway's calls into the services: each carries a fresh credential for that service and that
principal, and never an `X-Hub-Actor-*` header (gateway/upstream.py)."""

from __future__ import annotations

import httpx
import pytest

from gateway.principals import GATEWAY, SMS_ADAPTER, adapter
from gateway.upstream import PassThrough, Upstream
from hub.credentials import (
    CREDENTIAL_HEADER,
    DEV_INTERNAL_SIGNING_KEY,
    DEV_INTERNAL_VERIFY_KEY,
    CredentialError,
    CredentialMinter,
    CredentialVerifier,
    Principal,
)
from hub.problems import Problem
from tests.kit.http import http_client

PERSON = Principal(kind="user", id="u-7", role="department", name="李四", department="housing@150203")


async def test_every_call_carries_a_credential_for_its_service_and_no_actor_header() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with http_client(transport=httpx.MockTransport(answer)) as client:
        upstream = Upstream(
            client,
            {"intake": "http://intake", "referral": "http://referral"},
            CredentialMinter(DEV_INTERNAL_SIGNING_KEY),
        )
        forged = {"X-Hub-Actor-Role": "centre", "X-Hub-Actor-Id": "forged", "Idempotency-Key": "k"}
        await upstream.request("referral", "GET", "/internal/v1/referrals", principal=PERSON, headers=forged)
        await upstream.request("intake", "POST", "/internal/v1/cases", principal=adapter("police110"))
    first, second = seen
    assert not [k for k in first.headers if k.lower().startswith("x-hub-actor-")]
    assert first.headers["idempotency-key"] == "k"
    at_referral = CredentialVerifier((DEV_INTERNAL_VERIFY_KEY,), "referral")
    assert at_referral.verify(first.headers[CREDENTIAL_HEADER]) == PERSON
    # Addressed to intake: referral would refuse it.
    with pytest.raises(CredentialError):
        at_referral.verify(second.headers[CREDENTIAL_HEADER])
    at_intake = CredentialVerifier((DEV_INTERNAL_VERIFY_KEY,), "intake")
    system = at_intake.verify(second.headers[CREDENTIAL_HEADER])
    assert (system.kind, system.role, system.system) == ("system", "adapter", "police110")


def test_the_gateways_own_principals() -> None:
    assert (GATEWAY.kind, GATEWAY.id) == ("system", "gateway")
    assert (SMS_ADAPTER.kind, SMS_ADAPTER.role, SMS_ADAPTER.system) == ("system", "adapter", "sms")


def test_a_passed_through_refusal_keeps_when_to_try_again() -> None:
    """A service's 503 (its database away) or 429 reaches the client with its Retry-After, whichever way
    the gateway passes it on (a forwarded route, or a PassThrough from a call it made itself)."""
    refused = httpx.Response(
        503,
        headers={"content-type": "application/problem+json", "retry-after": "5"},
        content=b'{"type":"database-unavailable","status":503}',
    )
    response = PassThrough(refused).to_response()
    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert response.body == refused.content
    quiet = PassThrough(httpx.Response(404, content=b"{}")).to_response()
    assert "retry-after" not in quiet.headers


async def test_a_service_that_cannot_be_read_is_a_503_the_client_may_retry_and_a_line_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection to intake reset mid-request: the client gets 503 with Retry-After, and the
    gateway's log says which service and which failure — the client's 503 is all anyone else sees."""

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    async with http_client(transport=httpx.MockTransport(reset)) as client:
        upstream = Upstream(client, {"intake": "http://intake"}, CredentialMinter(DEV_INTERNAL_SIGNING_KEY))
        with caplog.at_level("WARNING", logger="gateway.upstream"), pytest.raises(Problem) as refused:
            await upstream.request("intake", "POST", "/internal/v1/cases/similar", principal=PERSON)
    assert (refused.value.status, refused.value.headers) == (503, {"Retry-After": "5"})
    assert "ReadError" in refused.value.detail
    [line] = [r.getMessage() for r in caplog.records if r.name == "gateway.upstream"]
    assert "POST intake/internal/v1/cases/similar" in line and "ReadError" in line
    assert PERSON.name not in line
