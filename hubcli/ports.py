"""The ports `hub up` serves on, all chosen and bound before any process starts.

Each listening socket is bound here and handed to its process (`--fd`), so the port cannot be taken
between choosing and serving, and a process the supervisor restarts serves the same socket. The
gateway's port, and any port set explicitly (HUB_<NAME>_PORT, `--port`), is used as set: taken, it is
an error naming the port and the setting. Any other port is its documented default when free, else a
free one; all are printed. So a second hub on the same machine either says which port is in the way
or runs beside the first, never into it.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


class PortUnavailable(Exception):
    """A port the hub cannot listen on; the message names it and the setting that chooses it."""


def _refusal(exc: OSError, name: str, host: str, port: int, setting: str) -> PortUnavailable:
    if exc.errno == errno.EADDRINUSE:
        why = "is already in use — is another hub running? Stop it, or"
    else:
        why = f"cannot be listened on ({exc.strerror});"
    return PortUnavailable(f"port {port} on {host} ({name}) {why} choose another port with {setting}.")


@dataclass
class Endpoint:
    """One listening socket of the hub: a service replica or a simulator."""

    name: str
    host: str
    sock: socket.socket

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    @property
    def fd(self) -> int:
        return self.sock.fileno()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


LISTEN_BACKLOG = 2048  # uvicorn's default


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Reuse a port a stopped hub left in TIME_WAIT; a port someone listens on still fails to bind.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.set_inheritable(True)
    try:
        sock.bind((host, port))
        # Listening at once: a socket only bound (SO_REUSEADDR) does not keep another hub's bind off the
        # port, a listening one does; connections made before the process serves wait in the backlog.
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


class PortPlan:
    """Binds endpoints one by one; close() releases them all (a failed start leaves nothing bound)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}

    def bind(self, name: str, host: str, port: int, *, setting: str, fixed: bool) -> Endpoint:
        """`fixed`: this port or an error; otherwise this port when free, else any free one."""
        try:
            sock = _bind(host, port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or fixed:
                self.close()
                raise _refusal(exc, name, host, port, setting) from exc
            sock = _bind(host, 0)
        endpoint = Endpoint(name, host, sock)
        self.endpoints[name] = endpoint
        return endpoint

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.sock.close()
        self.endpoints.clear()
