"""What every adapter shares: our update names and their order, local time, signing helpers, outcomes.

Chinese government systems speak local time (Asia/Shanghai, no DST) as `yyyy-MM-dd HH:mm:ss`
strings, integer state codes and signatures over sorted parameters; these helpers keep that style at
the edge so none of it reaches the hub's own API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, Protocol

SYSTEMS = ("hotline12345", "police110", "court", "procuratorate12309")
System = Literal["hotline12345", "police110", "court", "procuratorate12309"]

# Our status updates, in the order a case goes through them. The rank is how far along a case is:
# an update ranked lower than the last one delivered to a system is never sent (no regression).
# `reopened` starts a new round (a dissatisfied callback sends the case back to handling); ranks
# compare within a round, and a later round is always ahead of an earlier one.
RANK: dict[str, int] = {
    "registered": 0,
    "dispatched": 1,
    "reopened": 1,
    "acknowledged": 2,
    "replied": 3,
    "referred_to_court": 3,
    "closed": 4,
    # Not steps of a case's progress, placed where they can happen: a 延期申请 while the lead works
    # (beside acknowledged), a 回退 ends the case (beside closed).
    "extension_requested": 2,
    "returned": 4,
}
UPDATES = tuple(RANK)
# Updates that ask the system for something rather than tell it a state: never skipped as "behind"
# (a state the system already passed), and not what the link remembers as the system's state.
REQUESTS = frozenset({"extension_requested"})

# The event that says each update (types only: we parse just the fields we need).
EVENT_UPDATES: dict[str, str] = {
    "case.registered.v1": "registered",
    "case.dispatched.v1": "dispatched",
    "referral.acknowledged.v1": "acknowledged",
    "case.replied.v1": "replied",
    "case.closed.v1": "closed",
    "case.reopened.v1": "reopened",
    "case.referred_to_court.v1": "referred_to_court",
    "case.returned_to_channel.v1": "returned",
    "referral.extension_requested.v1": "extension_requested",
}

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
LOCAL = "%Y-%m-%d %H:%M:%S"


def local_time(moment: datetime | None = None) -> str:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time, the way their APIs write times."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(CST).strftime(LOCAL)


def local_compact(moment: datetime | None = None, *, millis: bool = False) -> str:
    """`yyyyMMddHHmmss` (or with milliseconds) in Beijing time."""
    moment = (moment or datetime.now(UTC)).astimezone(CST)
    text = moment.strftime("%Y%m%d%H%M%S")
    return text + f"{moment.microsecond // 1000:03d}" if millis else text


def parse_local_time(text: str) -> datetime:
    """Their `yyyy-MM-dd HH:mm:ss` (Beijing time) as an aware UTC datetime; ValueError if it is not one."""
    return datetime.strptime(text.strip(), LOCAL).replace(tzinfo=CST).astimezone(UTC)


def parse_local_compact(text: str) -> datetime:
    """`yyyyMMddHHmmss` or `yyyyMMddHHmmssSSS` (Beijing time) as an aware UTC datetime."""
    text = text.strip()
    if len(text) == 17 and text.isdigit():
        base = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
        base = base.replace(microsecond=int(text[14:]) * 1000)
    else:
        base = datetime.strptime(text, "%Y%m%d%H%M%S")
    return base.replace(tzinfo=CST).astimezone(UTC)


def compact_json(value: Any) -> str:
    """JSON as their gateways sign it: no spaces, Chinese left as is, keys in our order."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sorted_params(params: Mapping[str, Any], *, skip: tuple[str, ...] = ("sign",)) -> str:
    """`k1=v1&k2=v2…` over the non-empty parameters sorted by name (ASCII), the usual string to sign."""
    pairs = sorted((k, str(v)) for k, v in params.items() if k not in skip and v is not None and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs)


def hmac_hex(secret: str, text: str, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), text.encode(), algorithm).hexdigest()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Delivery:
    """One row of the ledger, as a client sees it: which update of which case, with what we know."""

    id: int
    update_id: str  # ours; sent as their request id wherever their style has one
    case_no: str
    system: str
    update: str
    round: int
    data: dict[str, Any]
    external_ref: str | None  # their number for the case (work order, incident, 案号, clue)


@dataclass(frozen=True)
class Outcome:
    """What a push achieved. `retryable` failures are tried again with back-off; others fail at once."""

    ok: bool
    retryable: bool = True
    detail: str = ""
    external_ref: str | None = None  # a number they assigned (the court's 案号 for a new filing)
    external_state: str | None = None  # their state code after the push, as text
    duplicate: bool = False  # they had already applied this request id


class SystemClient(Protocol):
    system: str

    async def deliver(self, delivery: Delivery) -> Outcome: ...


class MappingError(ValueError):
    """Their payload cannot become a case; `errors` name their own fields."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ExternalState:
    """How one of our updates reads in their system: the action they record and the state code."""

    action: str  # their action / feedback type code
    state: int | str  # their state code after it
    label: str  # what their UI shows (Chinese), for docs and the simulator
    extra: dict[str, Any] = field(default_factory=dict)
