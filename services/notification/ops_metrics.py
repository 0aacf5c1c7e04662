"""Notification's scrape-time gauge for ops: deliveries failed for good, by recipient kind (citizen,
department, department_webhook) — persistent across restarts, unlike the outcome counters."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select

from hub.runtime import ServiceRuntime
from services.notification.tables import deliveries


def install(runtime: ServiceRuntime) -> None:
    failed = Gauge(
        "hub_notification_failed",
        "Deliveries (SMS or webhook) failed for good, by recipient kind",
        ["recipient_kind"],
        registry=runtime.metrics.registry,
    )

    async def refresh() -> None:
        query = (
            select(deliveries.c.recipient_kind, func.count())
            .where(deliveries.c.status == "failed")
            .group_by(deliveries.c.recipient_kind)
        )
        async with runtime.db.sessions() as session:
            rows = (await session.execute(query)).all()
        failed.clear()
        for kind in ("citizen", "department", "department_webhook"):
            failed.labels(kind).set(0)
        for kind, n in rows:
            failed.labels(kind).set(int(n))

    runtime.metric_sources.append(refresh)
