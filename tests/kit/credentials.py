"""Internal credentials for tests that call a service's port directly (not through the gateway).

The services accept only requests the gateway vouches for (hub/credential_guard.py); a test that talks
to intake, referral or notification itself mints what the gateway would, with the development signing
key every test hub runs on:

    await client.post(f"{url}/internal/v1/cases", json=body, headers=as_actor("intake"))
    headers=as_actor("referral", "department", department="D01")
    headers=sms_adapter("notification")
"""

from __future__ import annotations

from gateway.adapters.sms import push_url
from hub.credentials import DEV_INTERNAL_SIGNING_KEY, CredentialMinter, Principal, PrincipalKind

MINTER = CredentialMinter(DEV_INTERNAL_SIGNING_KEY)


def as_actor(
    service: str,
    role: str = "centre",
    *,
    id: str = "test-client",
    kind: PrincipalKind = "client",
    department: str | None = None,
    system: str | None = None,
    centre: str | None = None,
    name: str | None = None,
) -> dict[str, str]:
    """The `X-Hub-Credential` header naming this actor, for `service` (audience) only."""
    principal = Principal(
        kind=kind, id=id, role=role, name=name, centre=centre, department=department, system=system
    )
    return MINTER.headers(principal, service)


def sms_adapter(service: str = "notification") -> dict[str, str]:
    """What the gateway's SMS adapter sends with a provider's push (gateway/adapters/sms.py)."""
    return as_actor(service, "adapter", id="sms", kind="system", system="sms")


def gateway_sms_url(gateway: str, kind: str, token: str) -> str:
    """Where the SMS simulator pushes (`receipts` or `inbound`): the gateway's adapter route."""
    return push_url(gateway, kind, token)
