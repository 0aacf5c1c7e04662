"""What police 110 pushes to the hub: dispute incidents (警情联动), signed, in its own fields."""

from __future__ import annotations

from gateway.adapters.police110 import mapping
from gateway.adapters.webhooks import add_registration, webhook_router

router = webhook_router(mapping.SYSTEM)
add_registration(
    router,
    "/incidents",
    name="post_incident",
    summary="A dispute incident passed by police 110 (警情): becomes a case, once",
    system=mapping.SYSTEM,
    model=mapping.Incident,
    to_case=mapping.to_case,
    ref_of=lambda incident: incident.jjdbh,
    reverse_fields=mapping.REVERSE_FIELDS,
)
