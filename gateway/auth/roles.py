"""The roles a client or a person can have and the external systems an adapter client is bound to
(API.md "Auth"). A supervisor (督办, a centre's leader) may do whatever the centre may: every route
row naming `centre` names `supervisor` too (tests/unit/gateway/test_route_table.py)."""

from __future__ import annotations

ROLES = ("centre", "department", "adapter", "ops", "supervisor", "grid_worker")
CLIENT_ROLES = ("centre", "department", "adapter", "ops")  # API clients (systems)
USER_ROLES = ("centre", "department", "ops", "supervisor", "grid_worker")  # named accounts (people)
# External systems an adapter client may be bound to, and the case channel each one files on.
SYSTEM_CHANNELS = {
    "hotline12345": "hotline12345",
    "police110": "police110",
    "court": "court",
    "procuratorate12309": "procuratorate12309",
    "open311": "web",
}
# Self-service terminals (自助终端: the 24-hour court kiosk, the centre hall's machine): one adapter
# client per terminal, filing on channel `kiosk` with the terminal id in `source_ref` (docs/kiosk.md).
SYSTEM_CHANNELS["kiosk"] = "kiosk"
SYSTEMS = tuple(SYSTEM_CHANNELS)
# A grid worker (网格员, role grid_worker): a named account bound to one grid (网格) under a community
# centre; reports from the street, receives the tasks dispatched to the grid, checks in on site
# (docs/decisions/0024-grid-workers.md).
GRID_WORKER = "grid_worker"
