"""The small shared context every referral use case works with: the configuration in force, the clock,
events through the outbox, the audit log, unit and centre lookups, and loading the case or referral an
action is about (a domain error when it is missing).

Every use case works inside the caller's transaction (an HTTP request's, or a consumer's with its inbox
row) and writes its events to the outbox in that same transaction: a state change and the events it
causes commit together or not at all. Time comes from the injected clock. A case is loaded (and locked)
once per action and its :class:`~services.referral.store.Record` passed along, updated in memory as the
action writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.contracts.base import Contract
from hub.messaging.outbox import Outbox
from services.referral import scoping, store
from services.referral.actors import Actor
from services.referral.clock import Clock
from services.referral.config import ReferralConfig
from services.referral.domain.centres import Centre
from services.referral.domain.deadlines import Deadline
from services.referral.domain.lifecycle import CASE_MACHINE, CaseAction
from services.referral.domain.routing import Unit
from services.referral.errors import InvalidRequest, NotFound, field_error
from services.referral.metrics import ReferralMetrics
from services.referral.store import Record
from services.referral.tables import audit_log, cases

log = logging.getLogger("hub.referral")


class ConfigHolder:
    """The configuration in force. It changes at run time only by being swapped whole (a holiday
    schedule loaded here or by another replica); use cases read :attr:`current` when they need it."""

    def __init__(self, config: ReferralConfig) -> None:
        self._current = config

    @property
    def current(self) -> ReferralConfig:
        return self._current

    def swap(self, config: ReferralConfig) -> ReferralConfig:
        """Put ``config`` in force; returns the one it replaces (to put back if a load fails)."""
        previous, self._current = self._current, config
        return previous


class Context:
    def __init__(
        self,
        configs: ConfigHolder,
        clock: Clock,
        outbox: Outbox,
        *,
        audit_key: str = "",
        metrics: ReferralMetrics | None = None,
    ) -> None:
        self.configs = configs
        self.clock = clock
        self.outbox = outbox
        self.audit_key = audit_key
        self.metrics = metrics or ReferralMetrics()
        self._warned_years: set[int] = set()

    @property
    def config(self) -> ReferralConfig:
        return self.configs.current

    async def emit(self, session: AsyncSession, event: Contract, actor: Actor, **extra: Any) -> None:
        data = event.model_dump(mode="json") | actor.fields() | extra
        await self.outbox.emit(session, event.TYPE, data.get("case_no"), data)

    async def record(
        self, session: AsyncSession, actor: Actor, action: str, case_no: str | None, detail: dict[str, Any]
    ) -> None:
        """Append to referral's audit log inside the current transaction (call it last)."""
        # Who: the person's user id (kind user, with their display name), the API client or the system;
        # a department acting without an id (consumers) is named by its unit code, as before.
        if actor.department and actor.id:
            detail = {**detail, "actor_department": actor.department}
        if actor.name or actor.centre:
            detail = {**detail, "person": {"id": actor.id, "name": actor.name, "centre": actor.centre}}
        await audit.append(
            session,
            audit_log,
            key=self.audit_key,
            actor_role=actor.role,
            actor_id=actor.id or actor.department,
            action=action,
            case_no=case_no,
            detail=detail,
            at=self.clock(),
            actor_kind=actor.kind,
            actor_name=actor.name,
        )

    def unit(self, code: str) -> Unit:
        try:
            return self.config.registry.unit(code)
        except KeyError:
            raise InvalidRequest(
                "未知单位",
                f"没有编码为 {code} 的单位",
                errors=[field_error("department", f"unknown unit {code}")],
            ) from None

    def centre_of(self, case: Record) -> Centre | None:
        """The centre holding the case; a case registered before centres existed: its home centre."""
        tree = self.config.centres
        if case.centre_id and case.centre_id in tree.centres:
            return tree.get(case.centre_id)
        return tree.home_for(case.street_code)

    async def load_case(self, session: AsyncSession, case_no: str, actor: Actor) -> Record:
        """The case, locked (first in every transaction's lock order); outside the actor's scope it is
        not found (services/referral/scoping.py)."""
        case = await store.lock_case(session, case_no, scoping.cases_visible(actor))
        if case is None:
            raise NotFound("case-not-found", "未找到该事项", f"分流服务中没有编号为 {case_no} 的事项")
        return case

    async def load_referral(
        self, session: AsyncSession, referral_id: str, actor: Actor
    ) -> tuple[Record, Row[Any]]:
        """The case and referral, locked in that order; another department's referral, or one of a case
        outside the actor's centre, is not found."""
        found = await store.find_referral(session, referral_id, scoping.referrals_visible(actor))
        if found is None:
            raise NotFound("referral-not-found", "未找到该转办", f"没有编号为 {referral_id} 的转办")
        case = await self.load_case(session, found.case_no, actor)
        referral = await store.lock_referral(session, referral_id)
        assert referral is not None
        return case, referral

    async def advance_case(
        self, session: AsyncSession, case: Record, action: CaseAction, now: datetime, **values: Any
    ) -> Record:
        """Move the case along its life cycle (TransitionRefused if it may not) and write it with
        ``values``; returns the case as written."""
        state = CASE_MACHINE.apply(case.status, action)
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case.case_no)
            .values(status=state.value, updated_at=now, **values)
        )
        return case.changed(status=state.value, updated_at=now, **values)

    def note_provisional(self, found: Sequence[Deadline]) -> None:
        """Say once per process and year that deadlines there count weekends only (no personal data)."""
        years = set().union(*(d.provisional_years for d in found)) - self._warned_years
        if years:
            self._warned_years |= years
            log.warning(
                "deadlines computed over %s count weekends only (no official holiday schedule): "
                "flagged provisional until the schedule is loaded",
                ", ".join(str(y) for y in sorted(years)),
            )

    def schedule_loaded(self, year: int) -> None:
        """A year's schedule is in force: warn again should a deadline there still be provisional."""
        self._warned_years.discard(year)
