"""aiosmpplib's extension points: how the library's session reports to the adapter.

aiosmpplib is queue-driven (a broker it drains, a hook it calls with every PDU, a retry timer it
waits on between sessions). These classes pass each of those to a ``SessionListener`` (the
adapter), which turns them into one awaitable ``send`` per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from aiosmpplib import (
    ESME,
    AbstractBroker,
    AbstractHook,
    AbstractRetryTimer,
    AbstractThrottleHandler,
    DeliverSmResp,
    SmppMessage,
)


class SessionListener(Protocol):
    """What the session tells the adapter, in the library's own tasks."""

    def on_bound(self) -> None: ...

    def on_bind_failed(self, error: BaseException) -> None: ...

    def on_session_ended(self) -> None: ...

    def on_sending(self, message: SmppMessage) -> None:
        """Called before a PDU is written; raising ValueError drops it (see ``send_error``)."""

    def on_send_error(self, message: SmppMessage, error: Exception) -> None: ...

    async def on_received(self, message: SmppMessage | None) -> None: ...

    def on_answering_deliver_sm(self, answer: DeliverSmResp) -> None:
        """Called before a deliver_sm_resp is written: a last chance to change its status."""


class Esme(ESME):
    """Reports every bind outcome to the adapter, and closes the socket of a failed bind."""

    def __init__(self, listener: SessionListener, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listener = listener

    async def connect(self) -> None:
        try:
            await super().connect()
        except BaseException as exc:
            # aiosmpplib keeps the writer of a refused or timed-out bind; close it ourselves.
            writer: asyncio.StreamWriter | None = self._writer  # type: ignore[has-type]
            self._writer = None
            if writer is not None:
                writer.close()
            if isinstance(exc, Exception):
                self._listener.on_bind_failed(exc)
            raise
        self._listener.on_bound()

    async def _send_data(self, smpp_message: SmppMessage) -> None:
        # The library answers every deliver_sm with ESME_ROK; a message we could not record gets a
        # temporary error instead, so the SMSC delivers it again.
        if isinstance(smpp_message, DeliverSmResp):
            self._listener.on_answering_deliver_sm(smpp_message)
        await super()._send_data(smpp_message)


class Hook(AbstractHook):
    def __init__(self, listener: SessionListener) -> None:
        self._listener = listener

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        self._listener.on_sending(smpp_message)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        await self._listener.on_received(smpp_message)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        self._listener.on_send_error(smpp_message, error)


class OutboxClosed(ConnectionError):
    """Ends the library's sender task at shutdown, with an error its shutdown expects."""


class Outbox(AbstractBroker):
    """The library's send queue, skipping messages whose caller has already given up."""

    def __init__(self, wanted: Callable[[SmppMessage], bool]) -> None:
        self._queue: asyncio.Queue[SmppMessage | None] = asyncio.Queue()
        self._wanted = wanted
        self._closed = False

    async def enqueue(self, message: SmppMessage) -> None:
        self._queue.put_nowait(message)

    def close(self) -> None:
        """Wake dequeue() for good, so aiosmpplib's shutdown need not wait 0.5 s for it to time out."""
        self._closed = True
        self._queue.put_nowait(None)

    async def dequeue(self) -> SmppMessage:
        while True:
            message = await self._queue.get()
            if self._closed:
                raise OutboxClosed("adapter stopping")
            if message is not None and self._wanted(message):
                return message


class NoSelfThrottle(AbstractThrottleHandler):
    """Never delay in the library: ESME_RTHROTTLED reaches the caller, which retries or fails over."""

    async def throttled(self) -> None:
        pass

    async def not_throttled(self) -> None:
        pass

    async def allow_request(self) -> bool:
        return True

    async def throttle_delay(self) -> float:
        return 0.0


class Reconnect(AbstractRetryTimer):
    """Backoff between sessions; the library calls wait() whenever a session or bind ends."""

    def __init__(self, listener: SessionListener, min_delay: float, max_delay: float) -> None:
        self._listener = listener
        self._min = min_delay
        self._max = max_delay
        self._next = min_delay

    async def wait(self) -> None:
        self._listener.on_session_ended()
        await asyncio.sleep(self._next)
        self._next = min(self._next * 2, self._max)

    def reset(self) -> None:
        self._next = self._min

    def next_delay(self) -> float:
        return self._next
