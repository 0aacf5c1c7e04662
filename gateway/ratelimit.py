"""Per-client rate limits: one token bucket per client id, in the memory of one gateway process.

A client with a limit of N requests a minute may burst N requests at once and then gets one more
every 60/N seconds. With several gateway replicas each keeps its own buckets, so the effective limit
is N per replica; a shared limiter (Redis, the database) is not worth a round trip per request here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float
    full_at: float = 0.0  # when it will have refilled to its size (then it may be forgotten)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: int  # whole seconds until one request is allowed again (0 when allowed)


class RateLimiter:
    """Token buckets keyed by client id (or address); the rate comes with each call (it is in the client's
    token), and the bucket's size with it when it is not the rate's minute (Open311's reads per address)."""

    def __init__(self, *, max_buckets: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._max_buckets = max_buckets
        self._clock = clock

    def take(self, key: str, per_minute: int, burst: int | None = None) -> Verdict:
        now = self._clock()
        capacity = float(max(burst if burst is not None else per_minute, 1))
        rate = max(per_minute, 1) / 60.0  # tokens per second
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(tokens=capacity, updated=now)
        else:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
        else:
            return Verdict(False, 0, max(1, math.ceil((1.0 - bucket.tokens) / rate)))
        bucket.full_at = now + (capacity - bucket.tokens) / rate
        return Verdict(True, int(bucket.tokens), 0)

    def _evict(self, now: float) -> None:
        """Forget buckets that would be full again by now (forgetting one only gives it a full bucket
        sooner); else the oldest half."""
        idle = [k for k, b in self._buckets.items() if b.full_at <= now]
        if not idle:
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            idle = by_age[: len(by_age) // 2 or 1]
        for key in idle:
            del self._buckets[key]
