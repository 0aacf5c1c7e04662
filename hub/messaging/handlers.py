"""Which handler takes which event: the one shape every service registers its consumers in.

    handlers = Handlers()

    @handlers.on(CaseRegisteredV1)
    async def on_case_registered(ctx: HandlerContext) -> None: ...

    runtime.consume("referral.case-events", handlers)

Bound methods go in through the constructor: ``Handlers({CaseRegisteredV1: self.on_registered})``.
An event is named by its contract (its TYPE) or, where no contract is read, by its type string;
`EVERY_EVENT` takes whatever the queue receives (its binding is the topic wildcard).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from hub.contracts.base import Contract
from hub.messaging.consumer import Handler

EVERY_EVENT = "#"
Event = type[Contract] | str


class Handlers(Mapping[str, Handler]):
    """Event type → handler; the queue is bound to exactly these types. One handler per type."""

    def __init__(self, table: Mapping[Event, Handler] | None = None) -> None:
        self._table: dict[str, Handler] = {}
        for event, handler in (table or {}).items():
            self.add(handler, event)

    def on(self, *events: Event) -> Callable[[Handler], Handler]:
        """Register the decorated handler for each of `events`."""

        def register(handler: Handler) -> Handler:
            self.add(handler, *events)
            return handler

        return register

    def add(self, handler: Handler, *events: Event) -> None:
        for event in events:
            type_ = event if isinstance(event, str) else event.TYPE
            if type_ in self._table:
                raise ValueError(f"two handlers for {type_}")
            self._table[type_] = handler

    def __getitem__(self, type_: str) -> Handler:
        return self._table[type_]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)
