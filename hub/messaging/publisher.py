"""Publishing with publisher confirms; an unroutable message raises instead of vanishing."""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from opentelemetry import propagate

from hub.config import Settings
from hub.messaging.envelope import CONTENT_TYPE
from hub.messaging.topology import declare_exchanges


class Publisher:
    def __init__(self, connection: AbstractRobustConnection, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def start(self) -> None:
        self._channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await declare_exchanges(self._channel, self.settings)

    @property
    def channel(self) -> AbstractChannel:
        assert self._channel is not None, "publisher not started"
        return self._channel

    async def publish(
        self, body: bytes, routing_key: str, *, message_id: str, headers: dict[str, Any] | None = None
    ) -> None:
        """Returns once the broker confirmed; raises on nack, on return (unroutable) or on timeout."""
        assert self._exchange is not None, "publisher not started"
        carrier: dict[str, Any] = dict(headers or {})
        propagate.inject(carrier)
        message = aio_pika.Message(
            body,
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            type=routing_key,
            headers=carrier,
        )
        await self._exchange.publish(message, routing_key=routing_key, mandatory=True, timeout=30)


async def connect(settings: Settings) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(settings.amqp_url, client_properties={"connection_name": "hub"})
