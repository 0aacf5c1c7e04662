"""The centres a citizen form exists for: referral's centre tree (the organisation chart, not case data),
read as the gateway and kept a few minutes, so a page load costs no internal call."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.principals import GATEWAY
from gateway.upstream import Upstream

TTL_S = 300.0


@dataclass(frozen=True)
class Centre:
    code: str  # the area code: 6 digits (district) or 12 (street, community)
    name: str


class CentreDirectory:
    def __init__(self) -> None:
        self._centres: dict[str, Centre] = {}
        self._read_at = float("-inf")

    async def find(self, upstream: Upstream, code: str) -> Centre | None:
        if time.monotonic() - self._read_at > TTL_S or (code not in self._centres and self._stale()):
            tree = await upstream.json("referral", "GET", "/internal/v1/centres", principal=GATEWAY)
            self._centres = {str(c["id"]): Centre(str(c["id"]), str(c["name_zh"])) for c in tree}
            self._read_at = time.monotonic()
        return self._centres.get(code)

    def _stale(self) -> bool:
        """An unknown code is looked up again at most every 30 s (a centre added since)."""
        return time.monotonic() - self._read_at > 30.0
