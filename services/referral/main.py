"""Referral service (中心吹哨、部门报到): bootstrap builds everything; nothing runs at import time.

``bootstrap(settings, clock=...)`` is what production, `hub serve referral` and the tests call; tests
inject a :class:`services.referral.clock.ManualClock` to move business time without sleeping.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import FastAPI

from hub.app import create_service_app
from hub.config import ServiceSettings, Settings
from hub.runtime import ServiceRuntime
from services.referral import api, centres_api, consumers, ops, tasks_api
from services.referral.clock import Clock, system_clock
from services.referral.config import ReferralConfig
from services.referral.domain.signals import SignalPolicy
from services.referral.edge import install_error_handlers
from services.referral.metrics import ReferralMetrics
from services.referral.settings import ReferralSettings
from services.referral.tables import kit, metadata
from services.referral.usecases.wiring import build_use_cases
from services.referral.watchdog import Watchdog

log = logging.getLogger("hub.referral")


def signal_policy(settings: Settings) -> SignalPolicy:
    """Early warning's thresholds and windows: the ops settings `GET /api/v1/ops/alerts` uses too."""
    return SignalPolicy(
        burst_window=timedelta(minutes=settings.ops_burst_window_minutes),
        burst_threshold=settings.ops_burst_threshold,
        repeat_window=timedelta(days=settings.ops_repeat_reporter_days),
        repeat_threshold=settings.ops_repeat_reporter_threshold,
    )


def bootstrap(
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    referral_settings: ReferralSettings | None = None,
    config: ReferralConfig | None = None,
) -> FastAPI:
    options = referral_settings or ReferralSettings()
    config = config or ReferralConfig.load(options.data_dir, options.schedules_dir)  # data, loaded once
    clock = clock or system_clock
    runtime = ServiceRuntime("referral", settings, metadata, kit)
    usecases = build_use_cases(
        config,
        clock,
        runtime.outbox,
        audit_key=settings.hash_key,
        metrics=ReferralMetrics(runtime.metrics.registry),
        channel_returns=options.channel_returns,
        signal_policy=signal_policy(settings) if options.weak_signal_tasks else None,
        max_snooze=timedelta(days=options.task_snooze_max_days),
    )
    runtime.consume("referral.case-events", consumers.handlers(usecases))
    watchdog = Watchdog(
        runtime.db,
        usecases,
        batch=options.watchdog_batch,
        lease_s=settings.lease_s,
        interval_s=options.watchdog_interval_s,
    )
    if options.watchdog_enabled:
        runtime.background("watchdog", watchdog.run)

    async def calendar_at_start() -> None:
        # Schedules loaded at run time (`hub calendar load`, the console) are in the database.
        try:
            async with runtime.db.sessions() as session:
                await usecases.schedules.use_stored(session)
        except Exception as exc:  # never keep the service from starting
            log.error("reading loaded holiday schedules failed: %s", type(exc).__name__)
        usecases.context.config.warn_uncovered_years(clock())
        # Schedules loaded since the last start (HUB_REFERRAL_SCHEDULES_DIR): fix the flagged deadlines.
        try:
            async with runtime.db.transaction() as session:
                await usecases.schedules.recompute_provisional(session)
        except Exception as exc:  # never keep the service from starting; the next start tries again
            log.error("recomputing provisional deadlines failed: %s", type(exc).__name__)

    app = create_service_app(
        runtime,
        [api.router, centres_api.router, tasks_api.router],
        title="Hub referral",
        on_start=[calendar_at_start],
    )
    app.state.usecases = usecases
    app.state.referral_settings = options
    app.state.watchdog = watchdog
    install_error_handlers(app)  # domain errors become problem details here, and only here
    ops.install(app, runtime, clock)  # /internal/v1/ops (stalled, facts) and referral's own metrics

    return app
