"""What the four loopback simulators share: what they received, outages on demand, pushes to the hub.

Each simulator speaks like its real system (its envelope, codes, time format and signature scheme,
written in its own module from the system's documentation, not from our client); this kit only adds
the test controls every one of them has:

- `GET /_sim/received` — each applied request once (a repeated request id is counted, not listed);
- `GET /_sim/records` — the system's own records and their current states;
- `GET /_sim/regressions` — updates that would have moved a record's state backwards (must stay empty);
- `POST /_sim/down?seconds=N` — answer every API call with the gateway's 503 page for N seconds;
- `POST /_sim/fail?count=N` — answer the next N API calls with the system's own "busy" error;
- `POST /_sim/config?hub_url=…` — where pushes go; `POST /_sim/push/…` — push to the hub (signed).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Body, FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from gateway.adapters.common import compact_json
from gateway.adapters.security import signed_headers
from gateway.settings import GatewaySettings
from hub.serving import run_server

OUTAGE_PAGE = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    "<center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>"
)

# Worked cases from the seeds (PRODUCT.md): realistic titles and texts for generated records.
SAMPLES = [
    (
        "楼上私改公共烟道",
        "楼上邻居私自改动公共烟道，油烟倒灌半年，多次协商无果。",
        "昆都仑区阿尔丁大街某小区3栋",
    ),
    (
        "公共区域堆放大件垃圾",
        "邻居搬家后大件垃圾堆放在楼道，老人被绊倒，请尽快清理。",
        "青山区幸福路某小区5栋",
    ),
    (
        "流动摊贩高音喇叭扰民",
        "小区门口流动摊贩每天用高音喇叭叫卖，噪音严重影响休息。",
        "昆都仑区钢铁大街88号",
    ),
    ("六楼水管漏水殃及楼下", "六楼水管漏水，楼下几户天花板受损，要求赔偿。", "东河区巴彦塔拉大街某小区2栋"),
    (
        "开发商与购房人尾款纠纷",
        "开发商要求支付剩余房款及违约金，购房人认为交房延期，双方争议。",
        "九原区建设路某楼盘",
    ),
    ("外卖骑手饭点噪声扰民", "巷子里外卖骑手饭点聚集，电动车鸣笛喧哗，居民不堪其扰。", "昆都仑区少先路某巷"),
    ("物业费纠纷", "十二户业主因物业服务不到位拒交物业费，与物业公司发生争执。", "青山区文化路某小区"),
]
NAMES = ["王女士", "李先生", "张三", "赵六", "钱七"]


# Assigned mobile prefixes (号段) of the three carriers: a number under them is a valid mobile.
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "158",
    "186",
    "187",
    "188",
    "189",
    "133",
)


def mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


@dataclass
class SimState:
    """One simulator's memory. Everything is in-process: restarting the simulator forgets it."""

    name: str
    webhook_secret: str
    hub_url: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id → first answer
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # their number → record
    # Requests the system answers later, by its own number (12345's 延期申请 by delayId)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    regressions: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    rejected: int = 0
    down_until: float = 0.0
    fail_next: int = 0
    counter: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(12345))

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def take_failure(self) -> bool:
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False

    def next_serial(self) -> int:
        self.counter += 1
        return self.counter

    def record_received(self, entry: dict[str, Any]) -> None:
        self.received.append({**entry, "received_at": datetime.now(UTC).isoformat()})

    def earlier_answer(self, request_id: str) -> dict[str, Any] | None:
        """The answer given to a request id already applied (counted as a duplicate), or None."""
        if request_id not in self.requests:
            return None
        self.duplicates += 1
        return self.requests[request_id]

    def applied(self, request_id: str, entry: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        """Note an applied request (listed once in /_sim/received) and the answer a repeat gets."""
        self.record_received(entry)
        self.requests[request_id] = answer
        return answer

    def advance(self, ref: str, progress: tuple[int, int], entry: dict[str, Any]) -> None:
        """Move a record to `progress` (round, rank), noting any step backwards."""
        record = self.records.get(ref)
        if record is None:
            return
        current = tuple(record.get("_progress", (0, -1)))
        if progress < current:
            self.regressions.append({"ref": ref, "from": list(current), "to": list(progress), **entry})
        record["_progress"] = progress

    async def push(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        """Sign and POST `payload` to the hub, the way the real system pushes to its subscribers."""
        if not self.hub_url:
            return 0, {"error": "hub_url not configured (POST /_sim/config?hub_url=…)"}
        body = compact_json(payload).encode("utf-8")
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                self.hub_url.rstrip("/") + path,
                content=body,
                headers=signed_headers(self.webhook_secret, body),
            )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def install_controls(app: FastAPI, state: SimState, busy: Callable[[], Response]) -> None:
    """The test controls of every simulator, and the outage middleware."""

    @app.middleware("http")
    async def outage(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/_sim") and state.is_down():
            return HTMLResponse(OUTAGE_PAGE, status_code=503)
        response: Response = await call_next(request)
        return response

    @app.get("/_sim/received", tags=["simulator"])
    async def received() -> dict[str, Any]:
        return {
            "count": len(state.received),
            "duplicates": state.duplicates,
            "rejected": state.rejected,
            "items": state.received,
        }

    @app.delete("/_sim/received", tags=["simulator"])
    async def clear() -> dict[str, int]:
        state.received.clear()
        state.duplicates = 0
        state.rejected = 0
        return {"count": 0}

    @app.get("/_sim/records", tags=["simulator"])
    async def records() -> dict[str, Any]:
        return {"count": len(state.records), "items": [public(r) for r in state.records.values()]}

    @app.get("/_sim/regressions", tags=["simulator"])
    async def regressions() -> dict[str, Any]:
        return {"count": len(state.regressions), "items": state.regressions}

    @app.post("/_sim/down", tags=["simulator"])
    async def down(seconds: float = 60) -> dict[str, Any]:
        state.down_until = time.monotonic() + max(seconds, 0)
        return {"down_for_s": max(seconds, 0)}

    @app.post("/_sim/fail", tags=["simulator"])
    async def fail(count: int = 1) -> dict[str, int]:
        state.fail_next = max(count, 0)
        return {"fail_next": state.fail_next}

    @app.post("/_sim/config", tags=["simulator"])
    async def config(hub_url: str) -> dict[str, str | None]:
        state.hub_url = hub_url
        return {"hub_url": state.hub_url}

    app.state.sim = state
    app.state.busy = busy


def install_push(
    app: FastAPI,
    state: SimState,
    name: str,
    hub_path: str,
    make_record: Callable[..., dict[str, Any]],
    key: str,
    initial: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """`POST /_sim/push/<name>` (body: fields to override): a new record of the system, kept with its
    `initial` state and pushed to the hub at `hub_path`, signed, the way the system pushes it."""

    async def push(overrides: dict[str, Any] | None = Body(default=None)) -> dict[str, Any]:
        record = make_record(state, **(overrides or {}))
        state.records[record[key]] = {**record, **initial(record), "_progress": (0, 0)}
        status, reply = await state.push(hub_path, record)
        return {key: record[key], "status": status, "response": reply}

    app.add_api_route(f"/_sim/push/{name}", push, methods=["POST"], tags=["simulator"], name=f"push_{name}")


def credentials(system: str, settings: GatewaySettings) -> tuple[str, str, str]:
    """The system's app key, app secret and webhook secret from its settings (HUB_<SYSTEM>_…)."""
    return (
        getattr(settings, f"{system}_app_key"),
        getattr(settings, f"{system}_app_secret"),
        getattr(settings, f"{system}_webhook_secret"),
    )


def hub_url_of(settings: GatewaySettings) -> str:
    return settings.adapter_hub_url or f"http://{settings.host}:{settings.gateway_port}"


def run_simulator(system: str, factory: Callable[[GatewaySettings], FastAPI]) -> None:
    """`python -m gateway.adapters.<system>.simulator [--port N] [--fd N]`, as `hub up --simulators`
    starts it (on a socket it holds: `--fd`)."""
    parser = argparse.ArgumentParser(description=f"{system} simulator on loopback")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket")
    args = parser.parse_args()
    settings = GatewaySettings()
    port = args.port or int(getattr(settings, f"sim_{system}_port"))
    print(f"{system} simulator on http://127.0.0.1:{port}  — received: /_sim/received", flush=True)
    run_server(factory(settings), fd=args.fd, host="127.0.0.1", port=port)
