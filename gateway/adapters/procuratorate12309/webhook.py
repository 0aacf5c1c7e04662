"""What 12309 pushes to the hub: complaints (控告/申诉), reports and public-interest clues, signed."""

from __future__ import annotations

from gateway.adapters.procuratorate12309 import mapping
from gateway.adapters.webhooks import add_registration, webhook_router

router = webhook_router(mapping.SYSTEM)
add_registration(
    router,
    "/submissions",
    name="post_submission",
    summary="A 12309 complaint or public-interest clue: becomes a case, once",
    system=mapping.SYSTEM,
    model=mapping.Submission,
    to_case=mapping.to_case,
    ref_of=lambda submission: submission.clueNo,
    reverse_fields=mapping.REVERSE_FIELDS,
)
