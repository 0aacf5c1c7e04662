"""Whom the gateway vouches for when it calls a service (the principal of the internal credential).

- A request under /api/v1: the authenticated person or client (`identity_of`), as the auth middleware
  found it. With HUB_AUTH_REQUIRED=false (development and tests only; production refuses it) and no
  token, the `X-Hub-Actor-*` headers the caller sent, as that mode has always trusted them: Role
  (default centre), Id, Department, System, Centre and Name (UTF-8, percent-encoded). They stop here:
  the services never see them.
- A webhook or back-fill of an external system: that system's adapter (`adapter`), kind system.
- The SMS provider's pushes: the SMS adapter (`SMS_ADAPTER`), the only principal notification takes
  receipts and inbound messages from.
- The gateway's own reads (ops views, Open311's status, adapter scoping): `GATEWAY`, kind system.
- The citizen QR form's pages (no login): `CITIZEN_FORM`, an adapter of system citizen_form.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request

from hub.credentials import KINDS, Principal
from hub.problems import Problem

GATEWAY = Principal(kind="system", id="gateway", role="centre")


def adapter(system: str) -> Principal:
    """An external system acting through its adapter (webhooks, back-fill, reconciliation)."""
    return Principal(kind="system", id=system, role="adapter", system=system)


SMS_ADAPTER = adapter("sms")
# The citizen QR form (gateway/citizen): registers its cases at intake, asks notification for SMS
# verification codes (the only principal it takes them from) and gives referral the status page's rating.
CITIZEN_FORM = adapter("citizen_form")


def _header(request: Request, name: str, limit: int) -> str | None:
    value = (request.headers.get(name) or "").strip()
    return value[:limit] or None


def principal_of(request: Request) -> Principal:
    """The person or client a request to the gateway acts for."""
    # Imported here: gateway.auth's package imports this module (its scoping reads as the gateway).
    from gateway.auth.clients import identity_of

    identity = identity_of(request)
    if identity is not None:
        return identity.principal()
    if getattr(request.app.state, "auth_required", True):
        # The middleware lets nothing through under /api/v1 without a token: never act as anyone.
        raise Problem(401, "未认证", "请先用 POST /api/v1/auth/token 换取令牌", type_="unauthenticated")
    role = (_header(request, "x-hub-actor-role", 32) or "centre").lower()
    name = _header(request, "x-hub-actor-name", 300)
    kind = _header(request, "x-hub-actor-kind", 16)
    return Principal(
        kind=kind if kind in KINDS else ("user" if name else "client"),  # type: ignore[arg-type]
        id=_header(request, "x-hub-actor-id", 64) or "",
        role=role,
        name=unquote(name)[:100] if name else None,
        centre=_header(request, "x-hub-actor-centre", 32),
        department=_header(request, "x-hub-actor-department", 100),
        system=_header(request, "x-hub-actor-system", 32),
        grid=_header(request, "x-hub-actor-grid", 64),
    )
