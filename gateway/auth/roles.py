"""The roles a client can have and the external systems an adapter client is bound to (API.md "Auth")."""

from __future__ import annotations

ROLES = ("centre", "department", "adapter", "ops")
# External systems an adapter client may be bound to, and the case channel each one files on.
SYSTEM_CHANNELS = {
    "hotline12345": "hotline12345",
    "police110": "police110",
    "court": "court",
    "procuratorate12309": "procuratorate12309",
    "open311": "web",
}
SYSTEMS = tuple(SYSTEM_CHANNELS)
