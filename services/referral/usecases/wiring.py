"""All referral use cases built over one shared context: what `bootstrap`, the watchdog's replicas in
tests and the benchmarks construct. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from hub.messaging.outbox import Outbox
from services.referral.clock import Clock
from services.referral.config import ReferralConfig
from services.referral.domain.signals import SignalPolicy
from services.referral.metrics import ReferralMetrics
from services.referral.usecases.case_actions import CaseActions
from services.referral.usecases.centres import Centres
from services.referral.usecases.channel_limits import ChannelLimits
from services.referral.usecases.context import ConfigHolder, Context
from services.referral.usecases.department import DepartmentActions
from services.referral.usecases.dispatch import Dispatch
from services.referral.usecases.followups import FollowUps
from services.referral.usecases.handling import Handling
from services.referral.usecases.key_person_visits import KeyPersonVisits
from services.referral.usecases.schedules import Schedules
from services.referral.usecases.supervision import Supervision
from services.referral.usecases.worklist import DEFAULT_MAX_SNOOZE, Worklist


@dataclass(frozen=True)
class ReferralUseCases:
    context: Context
    dispatch: Dispatch
    department: DepartmentActions
    cases: CaseActions
    limits: ChannelLimits
    centres: Centres
    supervision: Supervision
    followups: FollowUps
    schedules: Schedules
    worklist: Worklist
    key_person_visits: KeyPersonVisits


def build_use_cases(
    config: ReferralConfig,
    clock: Clock,
    outbox: Outbox,
    *,
    audit_key: str = "",
    metrics: ReferralMetrics | None = None,
    channel_returns: Sequence[str] = ("hotline12345",),
    signal_policy: SignalPolicy | None = None,
    max_snooze: timedelta = DEFAULT_MAX_SNOOZE,
) -> ReferralUseCases:
    """``signal_policy`` None: early warning raises no tasks (follow-ups still do)."""
    ctx = Context(ConfigHolder(config), clock, outbox, audit_key=audit_key, metrics=metrics)
    handling = Handling(ctx)
    dispatch = Dispatch(ctx, handling)
    centres = Centres(ctx, dispatch)
    limits = ChannelLimits(ctx, handling)
    worklist = Worklist(ctx, policy=signal_policy, max_snooze=max_snooze)
    followups = FollowUps(ctx, worklist)
    cases = CaseActions(ctx, dispatch, centres, limits, followups, channel_returns=channel_returns)
    return ReferralUseCases(
        context=ctx,
        dispatch=dispatch,
        department=DepartmentActions(ctx, dispatch, handling, cases),
        cases=cases,
        limits=limits,
        centres=centres,
        supervision=Supervision(ctx),
        followups=followups,
        schedules=Schedules(ctx),
        worklist=worklist,
        key_person_visits=KeyPersonVisits(ctx, worklist),
    )
