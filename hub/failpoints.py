"""Named crash points for chaos tests (HUB_FAILPOINTS="name=kill"); refused in production by settings.

A failpoint fires once per data directory (a marker file), so the restarted process runs on.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_configured: dict[str, str] = {}
_marker_dir: Path | None = None


def configure(spec: str, marker_dir: Path) -> None:
    global _marker_dir
    _configured.clear()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, action = part.partition("=")
        _configured[name.strip()] = action.strip() or "kill"
    _marker_dir = marker_dir


def failpoint(name: str) -> None:
    if not _configured or name not in _configured or _marker_dir is None:
        return
    marker = _marker_dir / f"failpoint-{name}.fired"
    if marker.exists():
        return
    _marker_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    if _configured[name] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"failpoint {name}")
