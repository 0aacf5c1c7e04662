"""Idempotency-Key, scoped to the caller and bound to the body (issue 14, edge limits).

A key is the caller's own: what is stored (and unique) is a digest of the caller — the actor's id, or
its role when it has none — with the key, so another caller's same key is another request. Beside it
is a digest of the request's canonical JSON (the validated payload, keys sorted): the same caller
sending the same key with another body made a mistake, answered with 422 `idempotency-key-reused`
rather than with the earlier result.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hub.problems import Problem
from services.intake.actors import Actor


def scoped_key(actor: Actor, key: str | None) -> str | None:
    """The stored form of `key` as `actor` sent it (64 hex characters); None without a key."""
    if not key:
        return None
    caller = f"id:{actor.id}" if actor.id else f"role:{actor.role}"
    return hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()


def body_digest(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_same_body(stored: str | None, digest: str, what: str) -> None:
    """Raise 422 unless the earlier request under this key had this body (rows of before: no digest)."""
    if stored is not None and stored != digest:
        raise Problem(
            422,
            "幂等键已用于不同的请求内容",
            f"同一 Idempotency-Key 已用于内容不同的{what}；重试请发送相同内容，新的请求请换用新的键",
            type_="idempotency-key-reused",
            errors=[{"field": "Idempotency-Key", "message": "used before with another body"}],
        )
