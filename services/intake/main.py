"""Intake service (受理/研判): bootstrap builds everything; nothing runs at import time."""

from __future__ import annotations

import asyncio
import functools
import logging

from fastapi import FastAPI

from hub.app import create_service_app
from hub.body_limits import BodyLimits
from hub.contracts.referral import (
    CaseCentreAssignedV1,
    CaseCentreMovedV1,
    CaseClosedV1,
    CaseReopenedV1,
    CaseReturnedToChannelV1,
    CaseWithdrawnV1,
)
from hub.messaging.handlers import Handlers
from hub.runtime import ServiceRuntime
from services.intake import api, bulk, grid_reports, key_persons_api, ops
from services.intake.casework.centre_projection import project_holding_centre
from services.intake.casework.status_projection import project_case_status
from services.intake.rulebook import RulesInvalid, load_assessor
from services.intake.settings import IntakeSettings
from services.intake.tables import kit, metadata

log = logging.getLogger("hub.intake")

# Referral owns the case life cycle after registration; intake follows closure to refuse merges, and
# the centre holding the case to scope who sees it (services/intake/scoping.py).
STATUS_EVENTS = (CaseClosedV1, CaseWithdrawnV1, CaseReopenedV1, CaseReturnedToChannelV1)
CENTRE_EVENTS = (CaseCentreAssignedV1, CaseCentreMovedV1)


def bootstrap(settings: IntakeSettings) -> FastAPI:
    try:
        assessor, sources = load_assessor(settings.intake_rules_dir)
    except RulesInvalid as exc:  # fail fast: never start on rules nobody can read
        raise SystemExit(f"intake rules: {exc.describe()}") from None
    # cn2an builds its tables on import: once per process here, not in the first registration.
    assessor.warm_signals()
    runtime = ServiceRuntime("intake", settings, metadata, kit)
    handler = functools.partial(project_case_status, rt=runtime)
    runtime.consume(
        "intake.case-status",
        Handlers(
            {**dict.fromkeys(STATUS_EVENTS, handler), **dict.fromkeys(CENTRE_EVENTS, project_holding_centre)}
        ),
    )
    preparer = bulk.Preparer(settings.intake_import_workers)  # bulk import's workers, ended on stop
    # The bulk import takes up to 2000 cases in one body; every other route the general limit.
    limits = BodyLimits(
        settings.max_body_bytes,
        (
            ("/internal/v1/cases:import", settings.intake_import_max_body_bytes),
            ("/internal/v1/grid/", settings.intake_grid_max_body_bytes),
        ),
    )

    async def warm_classifier() -> None:
        # jieba's dictionary (~0.25 s of CPU) is built on a thread beside the first requests, not inside
        # the first registration; readiness does not wait for it (the classifier's lock orders the two).
        warming = asyncio.get_running_loop().run_in_executor(None, assessor.warm)
        warming.add_done_callback(_log_failure)

    app = create_service_app(
        runtime,
        [api.router, ops.router, bulk.router, grid_reports.router, key_persons_api.router],
        title="Hub intake",
        on_start=[warm_classifier],
        on_stop=[preparer.stop],
        body_limits=limits,
    )
    app.state.import_preparer = preparer
    app.state.assessor = assessor
    app.state.rule_sources = sources
    return app


def _log_failure(warming: asyncio.Future[None]) -> None:
    if not warming.cancelled() and (exc := warming.exception()) is not None:
        log.warning("warming the classifier failed (the first registration loads it): %r", exc)
