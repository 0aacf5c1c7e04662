"""What the court pushes to the hub: pre-litigation mediation it delegates (诉前委派调解), signed."""

from __future__ import annotations

from gateway.adapters.court import mapping
from gateway.adapters.webhooks import add_registration, webhook_router

router = webhook_router(mapping.SYSTEM)
add_registration(
    router,
    "/mediation-requests",
    name="post_mediation_request",
    summary="A court delegates pre-litigation mediation (诉前委派调解): becomes a case, once",
    system=mapping.SYSTEM,
    model=mapping.MediationRequest,
    to_case=mapping.to_case,
    ref_of=lambda delegated: delegated.ah,
    reverse_fields=mapping.REVERSE_FIELDS,
)
