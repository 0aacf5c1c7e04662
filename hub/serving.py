"""Running an ASGI app under uvicorn: on a port, or on a listening socket handed over by a parent.

`hub up` and the tests bind every port first and pass the socket to the process (`--fd N`, the way
systemd socket activation does): nobody can take the port between choosing it and serving on it, a
taken port is found before anything starts, and a restarted process serves the same socket.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

# uvicorn's exit code when the server did not start (uvicorn.run exits with it too).
STARTUP_FAILURE = 3


def run_server(asgi_app: Any, *, fd: int | None, host: str, port: int, **config: Any) -> None:
    import uvicorn

    options: dict[str, Any] = {"log_level": "warning", "access_log": False, **config}
    if fd is None:
        uvicorn.run(asgi_app, host=host, port=port, **options)
        return
    server = uvicorn.Server(uvicorn.Config(asgi_app, **options))
    server.run(sockets=[socket.socket(fileno=fd)])  # family and type are read from the descriptor
    if not server.started:
        sys.exit(STARTUP_FAILURE)
