"""The roles a client or a person can have and the external systems an adapter client is bound to
(API.md "Auth"). A supervisor (督办, a centre's leader) may do whatever the centre may: every route
row naming `centre` names `supervisor` too (tests/unit/gateway/test_route_table.py)."""

from __future__ import annotations

ROLES = ("centre", "department", "adapter", "ops", "supervisor")
CLIENT_ROLES = ("centre", "department", "adapter", "ops")  # API clients (systems)
USER_ROLES = ("centre", "department", "ops", "supervisor")  # named accounts (people)
# External systems an adapter client may be bound to, and the case channel each one files on.
SYSTEM_CHANNELS = {
    "hotline12345": "hotline12345",
    "police110": "police110",
    "court": "court",
    "procuratorate12309": "procuratorate12309",
    "open311": "web",
}
SYSTEMS = tuple(SYSTEM_CHANNELS)
