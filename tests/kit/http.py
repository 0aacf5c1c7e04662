"""The HTTP client every test uses to call the hub, its simulators and its processes.

httpx waits 5 s for a response by default. Under the parallel suite (four workers sharing two cores
with PostgreSQL and RabbitMQ) an in-process hub's one event loop can take that long to answer, and
plain requests failed CI twice as a ReadTimeout (test_intake_service after a merge,
test_notification_inbound's SMS reply) though nothing was wrong. A test waits for behaviour, it does
not time it (speed is measured in benchmarks/), so the default here is 30 s; a test that means a
shorter wait says so with ``timeout=``. `make lint` keeps tests on these two functions.
"""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT = httpx.Timeout(30.0)


def http_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that waits ``TIMEOUT`` unless given ``timeout=``."""
    options.setdefault("timeout", TIMEOUT)
    return httpx.AsyncClient(**options)


def http_sync_client(**options: Any) -> httpx.Client:
    """An ``httpx.Client`` that waits ``TIMEOUT`` unless given ``timeout=``."""
    options.setdefault("timeout", TIMEOUT)
    return httpx.Client(**options)
