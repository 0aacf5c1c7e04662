"""Container HEALTHCHECK for every hub service: one image, so the probe finds out what it is checking.

PID 1 is `hub serve SERVICE [--port N]` (or `docker-init -- hub serve ...`); the probe asks that
service's /readyz on loopback. Readiness, not liveness, because Compose uses the result to order
start-up (`depends_on: condition: service_healthy`) and nothing restarts on it; Kubernetes ignores
HEALTHCHECK and uses its own probes. Containers that serve nothing (`migrate`, `sim sms`) are healthy.
Standard library only: it runs with whatever Python is in the image, in well under a second.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

DEFAULT_PORTS = {"gateway": 8000, "intake": 8001, "referral": 8002, "notification": 8003}


def target_port(argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """The port `hub serve` listens on, resolved the way hub.config does; None if not serving."""
    if "serve" not in argv:
        return None
    rest = list(argv[argv.index("serve") + 1 :])
    service = next((a for a in rest if not a.startswith("-")), None)
    if service not in DEFAULT_PORTS:
        return None
    for i, arg in enumerate(rest):
        if arg == "--port" and i + 1 < len(rest):
            return int(rest[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return int(env.get(f"HUB_{service.upper()}_PORT", DEFAULT_PORTS[service]))


def probe(port: int, path: str = "/readyz", timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    try:
        with open("/proc/1/cmdline", "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return 1
    port = target_port(argv, os.environ)
    if port is None:
        return 0
    return 0 if probe(port, os.environ.get("HUB_HEALTHCHECK_PATH", "/readyz")) else 1


if __name__ == "__main__":
    sys.exit(main())
