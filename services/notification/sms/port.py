"""The SMS provider port: every provider adapter (cloud API, SMPP, simulator) implements this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SmsRequest:
    out_id: str  # our delivery id; providers that have an out-id field echo it in receipts
    phone: str
    sign_name: str
    template_code: str
    params: dict[str, str]
    # The rendered text, for providers that carry text rather than a template code (SMPP).
    text: str | None = None


@dataclass(frozen=True)
class SmsAccepted:
    provider: str
    provider_ref: str


class SmsRejected(Exception):
    """The provider refused this message for good (bad template, bad number): do not retry."""


class SmsUnavailable(Exception):
    """The provider could not be reached or failed transiently: retry, or fail over."""


class SmsProvider(Protocol):
    name: str

    async def send(self, request: SmsRequest) -> SmsAccepted: ...


class SmsOutcomeUnknown(SmsUnavailable):
    """The request may have reached the provider but no answer came back (a read timeout)."""


@runtime_checkable
class SmsLookup(Protocol):
    """Optional capability: ask the provider whether it already has a message with our out-id.

    Providers without an idempotency key use this to settle a send whose outcome we lost (a crash
    between the provider call and our record): found → record it, do not send again.
    """

    async def lookup(self, request: SmsRequest, since: datetime) -> SmsAccepted | None: ...
