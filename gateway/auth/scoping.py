"""Row-level scoping of adapter clients, which the route × role table cannot express (a row's `own`):

- `adapter_channel`: an adapter registers cases only on its own system's channel. The middleware
  reads the body (gateway/auth/replay.py) and refuses another channel with 403 before the route runs.
- `adapter_case`: an adapter acts only on cases that came from its own system; another system's
  case is, for it, a case that does not exist (404). A dependency of the route checks it before the
  body is validated; the case's channel comes from intake once and is remembered (it never changes),
  so the middleware makes no call to a service and a busy adapter makes one lookup per case.
Other roles pass untouched; with auth off and no token there is no identity and nothing to scope.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse

from gateway.auth.answers import problem_json
from gateway.auth.clients import Identity, identity_of
from gateway.auth.roles import SYSTEM_CHANNELS
from gateway.principals import GATEWAY
from gateway.upstream import Upstream
from hub.problems import Problem

CHANNEL_CACHE_SIZE = 10_000  # case numbers whose channel is remembered (a few hundred KiB)
# A kiosk's source_ref: its terminal id, a slash, the terminal's own serial of the filing (≤ 64 in all).
KIOSK_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}/[A-Za-z0-9_.\-]{1,23}$")


def wrong_channel(identity: Identity, body: bytes | None) -> JSONResponse | None:
    """403 when an adapter's case body names another channel than its system's."""
    if identity.role != "adapter":
        return None
    channel = SYSTEM_CHANNELS.get(identity.system or "")
    try:
        data = json.loads(body or b"")
    except ValueError:
        return None  # not JSON: the route's validation answers 422
    given = data.get("channel") if isinstance(data, dict) else None
    if given is not None and given != channel:
        return problem_json(
            403, "无权限", f"适配器 {identity.system} 只能登记渠道为 {channel} 的事项", "wrong-channel"
        )
    if (
        identity.system == "kiosk"
        and isinstance(data, dict)
        and not KIOSK_SOURCE.match(str(data.get("source_ref") or ""))
    ):
        # A self-service terminal names itself in every case it files (docs/kiosk.md).
        return problem_json(
            422,
            "缺少终端编号",
            "自助终端登记事项须带 source_ref：终端编号/终端流水号，如 KDL-COURT-01/000123",
            "kiosk-source",
        )
    return None


class CaseChannels:
    """The channel of each case, as intake registered it, remembered once seen."""

    def __init__(self, upstream: Upstream, size: int = CHANNEL_CACHE_SIZE) -> None:
        self.upstream = upstream
        self.size = size
        self._known: dict[str, str | None] = {}

    async def channel_of(self, case_no: str) -> str | bool | None:
        """The case's channel; False when intake does not know the case (not remembered: it may come)."""
        if case_no in self._known:
            return self._known[case_no]
        path = f"/internal/v1/cases/{quote(case_no, safe='')}"
        answer = await self.upstream.request("intake", "GET", path, principal=GATEWAY)
        if answer.status_code != 200:
            return False
        found = answer.json().get("channel")
        channel = found if isinstance(found, str) else None
        if len(self._known) >= self.size:
            self._known.clear()
        self._known[case_no] = channel
        return channel


async def adapter_case_guard(request: Request, case_no: str) -> None:
    """Dependency of `adapter_case` routes: 404 for an adapter on another system's case."""
    identity = identity_of(request)
    if identity is None or identity.role != "adapter" or not case_no:
        return
    channels: CaseChannels | None = getattr(request.app.state, "case_channels", None)
    if channels is None:
        return
    channel = await channels.channel_of(case_no)
    if channel is not False and channel != SYSTEM_CHANNELS.get(identity.system or ""):
        raise Problem(404, "未找到该事项", f"没有编号为 {case_no} 的事项", type_="case-not-found")
