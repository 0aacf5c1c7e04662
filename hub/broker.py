"""Making sure a RabbitMQ broker is reachable before `hub up` (start it when installed and stopped)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from urllib.parse import urlparse


def reachable(amqp_url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(amqp_url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_broker(amqp_url: str, wait_s: float = 60.0) -> str | None:
    """None when reachable; otherwise a message saying exactly what to do."""
    if reachable(amqp_url):
        return None
    host = urlparse(amqp_url).hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        return f"RabbitMQ at {host} is not reachable: check HUB_AMQP_URL and that the broker runs."
    server = shutil.which("rabbitmq-server") or (
        "/usr/sbin/rabbitmq-server" if shutil.which("/usr/sbin/rabbitmq-server") else None
    )
    if server is None:
        return (
            "RabbitMQ is not installed. Install it (Debian/Ubuntu: `sudo apt-get install rabbitmq-server`) "
            "or point HUB_AMQP_URL at a broker, then run this command again."
        )
    subprocess.run([server, "-detached"], check=False, capture_output=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if reachable(amqp_url):
            return None
        time.sleep(1)
    return f"RabbitMQ was started ({server} -detached) but did not answer within {wait_s:.0f}s."
