"""CloudEvents 1.0 envelope (structured JSON mode) with W3C trace context as extension attributes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_structured, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from hub.tracing import current_traceparent

CONTENT_TYPE = "application/cloudevents+json"
_FORMAT = JSONFormat()


class MalformedEvent(ValueError):
    """The bytes are not a CloudEvents 1.0 JSON event we can read."""


@dataclass(frozen=True)
class Event:
    type: str
    source: str
    data: dict[str, Any]
    subject: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None
    tracestate: str | None = None

    def to_json(self) -> bytes:
        attributes: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "time": self.time,
            "datacontenttype": "application/json",
        }
        if self.subject:
            attributes["subject"] = self.subject
        if self.traceparent:
            attributes["traceparent"] = self.traceparent
        if self.tracestate:
            attributes["tracestate"] = self.tracestate
        return to_structured(CloudEvent(attributes, self.data), _FORMAT).body


def new_event(type_: str, source: str, subject: str | None, data: dict[str, Any]) -> Event:
    """An event stamped with the current trace context, so its consumers continue this trace."""
    traceparent, tracestate = current_traceparent()
    return Event(
        type=type_, source=source, subject=subject, data=data, traceparent=traceparent, tracestate=tracestate
    )


def parse_event(body: bytes) -> Event:
    try:
        ce = from_structured(RabbitMQMessage(headers={}, content_type=CONTENT_TYPE, body=body), _FORMAT)
    except Exception as exc:  # the library raises several types for bad input
        raise MalformedEvent(f"not a CloudEvents JSON event: {type(exc).__name__}") from None
    data = ce.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError:
            raise MalformedEvent("event data is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedEvent("event data must be a JSON object")
    time = ce.get_time() or datetime.now(UTC)
    attrs = ce.get_attributes()
    return Event(
        type=ce.get_type(),
        source=ce.get_source(),
        data=data,
        subject=ce.get_subject(),
        id=ce.get_id(),
        time=time if time.tzinfo else time.replace(tzinfo=UTC),
        traceparent=attrs.get("traceparent"),
        tracestate=attrs.get("tracestate"),
    )
