"""The HTTP client every test uses to call the hub, its simulators and its processes.

httpx waits 5 s for a response by default. Under the parallel suite (four workers sharing two cores
with PostgreSQL and RabbitMQ) an in-process hub's one event loop can take that long to answer, and
plain requests failed CI twice as a ReadTimeout (test_intake_service after a merge,
test_notification_inbound's SMS reply) though nothing was wrong. A test waits for behaviour, it does
not time it (speed is measured in benchmarks/), so the default here is 30 s; a test that means a
shorter wait says so with ``timeout=``. `make lint` keeps tests on these two functions.

Idle connections are dropped after 2 s, as the gateway's own client does (gateway/main.py): uvicorn
closes a connection idle for 5 s, httpx kept one for 5 s too, and at equal timeouts a request can go
out on a connection the server is closing (CI of bc53714: test_referral_anonymous's GET of a case
failed with httpx.ReadError, the server's reset, though the gateway was up and the case there).
"""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT = httpx.Timeout(30.0)
KEEPALIVE_EXPIRY = 2.0  # below uvicorn's timeout_keep_alive (5 s)


def limits(**options: Any) -> httpx.Limits:
    """httpx's own client limits (at most 100 connections, 20 kept idle), idle ones dropped before
    the server drops them. (A bare ``httpx.Limits()`` has no cap at all: with it the replica test's
    300 concurrent posts opened 300 connections to three gateways and some were reset.)"""
    options = {"max_connections": 100, "max_keepalive_connections": 20, **options}
    options.setdefault("keepalive_expiry", KEEPALIVE_EXPIRY)
    return httpx.Limits(**options)


def http_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that waits ``TIMEOUT`` unless given ``timeout=``."""
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("limits", limits())
    return httpx.AsyncClient(**options)


def http_sync_client(**options: Any) -> httpx.Client:
    """An ``httpx.Client`` that waits ``TIMEOUT`` unless given ``timeout=``."""
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("limits", limits())
    return httpx.Client(**options)
