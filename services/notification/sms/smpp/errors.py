"""The SMPP adapter's own failures, refinements of the SMS port's, and how SMPP errors read in logs."""

from __future__ import annotations

from aiosmpplib import SmppError

from services.notification.sms.port import SmsOutcomeUnknown, SmsUnavailable


class SmppBindError(SmsUnavailable):
    """The SMSC refused our bind (wrong system_id or password): a configuration problem."""


class SmppOutcomeUnknown(SmsOutcomeUnknown):
    """The submit_sm reached the socket but no answer came: the message may have been sent."""


def describe(error: BaseException | None) -> str:
    """An error for a log line or an exception message: command and status, never a PDU's fields."""
    if error is None:
        return "none"
    if isinstance(error, SmppError):
        return f"{error.smpp_command.name}: {error.command_status.name} ({error.command_status.description})"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"
