"""The dead-letter store's rows (hub/messaging/dead_letters.py): the table every service has, what is
kept of one dead-lettered message (ids, type, subject, reason, the body as published; never shown),
and what ops see of a row (never the event's data)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint
from sqlalchemy.engine import Row

from hub.messaging.consumer import REASON_HEADER, RETRY_HEADER
from hub.messaging.tables import BigId
from hub.problems import Problem
from hub.utc import UtcDateTime

TABLE = "dead_letter_store"
DEAD_AT_HEADER = "x-hub-dead-at"
REPLAY_HEADER = "x-hub-replay-of"
# Headers that describe a failure, not the event: never carried into a replay.
FAILURE_HEADERS = {
    RETRY_HEADER,
    REASON_HEADER,
    DEAD_AT_HEADER,
    "x-hub-routing-key",
    REPLAY_HEADER,
    "x-death",
    "x-first-death-reason",
    "x-first-death-queue",
    "x-first-death-exchange",
    "x-last-death-reason",
    "x-last-death-queue",
    "x-last-death-exchange",
    "x-delivery-count",
}
STATUSES = ("open", "replaying", "resolved")


def define_dead_letter_store(metadata: MetaData) -> Table:
    return Table(
        TABLE,
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("queue", String(100), nullable=False),  # the consumer queue it died in
        Column("event_id", String(64), nullable=False),  # the event's id ("body-<sha>" if not an event)
        Column("event_type", String(100)),  # None: the body was not an event at all
        Column("case_no", String(64)),  # the event's subject
        Column("reason", String(500), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),  # retries before it died
        Column("deaths", Integer, nullable=False, server_default="1"),
        Column("death_marker", String(64), nullable=False),  # x-hub-dead-at of the last copy stored
        Column("first_dead_at", UtcDateTime(), nullable=False),
        Column("last_dead_at", UtcDateTime(), nullable=False),
        Column("body", Text, nullable=False),  # the event as published (its personal fields encrypted)
        Column("headers", JSON, nullable=False),  # string headers only (trace context), no failure ones
        Column("content_type", String(100)),
        Column("status", String(16), nullable=False, server_default="open"),  # open | replaying | resolved
        Column("resolution", String(16)),  # replayed | dismissed
        Column("resolved_at", UtcDateTime()),
        Column("resolved_by", String(100)),  # role:id of the person (never a name)
        Column("resolve_reason", String(500)),
        Column("replays", Integer, nullable=False, server_default="0"),
        Column("history", JSON, nullable=False),  # every action: at, action, by, reason
        UniqueConstraint("queue", "event_id", name="uq_dead_letter_store_event"),
        Index("ix_dead_letter_store_status", "status", "last_dead_at"),
    )


class DeadLetterError(Problem):
    """A refusal of the dead-letter desk: problem details wherever it is raised (service or gateway)."""

    def __init__(self, status: int, title: str, detail: str, type_: str) -> None:
        super().__init__(status, title, detail, type_=type_)


@dataclass(frozen=True)
class Actor:
    role: str
    id: str

    @property
    def label(self) -> str:
        return f"{self.role}:{self.id}"[:100]


def public_id(service: str, row_id: int) -> str:
    return f"{service}-{row_id}"


def describe(row: Row[Any], service: str, *, with_history: bool = False) -> dict[str, Any]:
    """What ops see of one dead letter: ids, type, case number, reason, times; never the event's data."""
    out = {
        "id": public_id(service, row.id),
        "service": service,
        "queue": row.queue,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "case_no": row.case_no,
        "reason": row.reason,
        "attempts": row.attempts,
        "deaths": row.deaths,
        "first_dead_at": row.first_dead_at,
        "last_dead_at": row.last_dead_at,
        "status": row.status,
        "resolution": row.resolution,
        "resolved_at": row.resolved_at,
        "resolved_by": row.resolved_by,
        "resolve_reason": row.resolve_reason,
        "replays": row.replays,
    }
    if with_history:
        out["history"] = list(row.history or [])
    return out


def utc_now() -> datetime:
    return datetime.now(UTC)


def _parse_dead_at(value: Any) -> datetime | None:
    try:
        found = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


def stored_copy(message_body: bytes, headers: dict[str, Any], message_id: str | None) -> dict[str, Any]:
    """The row's fields for one dead-lettered message (ids, type, subject, reason: never the data)."""
    try:
        body = json.loads(message_body)
    except ValueError:
        body = None
    event = body if isinstance(body, dict) else {}
    digest = hashlib.sha256(message_body).hexdigest()[:40]
    event_id = str(event["id"])[:64] if event.get("id") else (message_id or f"body-{digest}")[:64]
    reason = (
        headers.get(REASON_HEADER) or headers.get("x-first-death-reason") or "dead-lettered by the broker"
    )
    raw_retries = headers.get(RETRY_HEADER, 0)
    marker = headers.get(DEAD_AT_HEADER)
    if not marker:  # dead-lettered by the broker itself (delivery limit): x-death counts the deaths
        deaths = headers.get("x-death")
        count = (
            deaths[0].get("count")
            if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict)
            else 0
        )
        marker = f"x-death:{count}:{digest[:16]}"
    return {
        "event_id": event_id,
        "event_type": str(event["type"])[:100] if event.get("type") else None,
        "case_no": str(event["subject"])[:64] if event.get("subject") else None,
        "reason": str(reason)[:500],
        "attempts": raw_retries if isinstance(raw_retries, int) else 0,
        "death_marker": str(marker)[:64],
        "dead_at": _parse_dead_at(headers.get(DEAD_AT_HEADER)) or utc_now(),
        "body": message_body.decode("utf-8", errors="replace"),
        "headers": {
            k: v
            for k, v in headers.items()
            if isinstance(v, str) and k not in FAILURE_HEADERS and len(v) < 1024
        },
    }
