"""The one shape handlers are registered in: event type → handler, named by contract or type."""

from __future__ import annotations

import pytest

from hub.contracts.intake import CaseMergedV1, CaseRegisteredV1
from hub.messaging.consumer import HandlerContext
from hub.messaging.handlers import EVERY_EVENT, Handlers


async def _noop(ctx: HandlerContext) -> None:
    return None


def test_handlers_are_keyed_by_the_contracts_type() -> None:
    handlers = Handlers({CaseMergedV1: _noop, "case.closed.v1": _noop})

    @handlers.on(CaseRegisteredV1, EVERY_EVENT)
    async def on_registered(ctx: HandlerContext) -> None:
        return None

    assert dict(handlers) == {
        "case.merged.v1": _noop,
        "case.closed.v1": _noop,
        "case.registered.v1": on_registered,
        "#": on_registered,
    }


def test_one_handler_per_event_type() -> None:
    handlers = Handlers({CaseRegisteredV1: _noop})
    with pytest.raises(ValueError, match=r"two handlers for case\.registered\.v1"):
        handlers.on("case.registered.v1")(_noop)
