"""The gateway's own Prometheus gauges, refreshed at each scrape from its tables (no personal data):
outbound adapter deliveries by system and status (failed ones are what ops alert on)."""

from __future__ import annotations

from collections import Counter

from prometheus_client import Gauge
from sqlalchemy import func, select

from gateway.tables import adapter_deliveries
from hub.runtime import ServiceRuntime


def install(runtime: ServiceRuntime) -> None:
    deliveries = Gauge(
        "hub_adapter_deliveries",
        "Outbound status updates to external systems, by system and status (pending, sending, sent, skipped, failed)",
        ["system", "status"],
        registry=runtime.metrics.registry,
    )
    t = adapter_deliveries

    async def refresh() -> None:
        async with runtime.db.sessions() as session:
            rows = (
                await session.execute(
                    select(t.c.system, t.c.status, func.count()).group_by(t.c.system, t.c.status)
                )
            ).all()
        counts = Counter({(r[0], r[1]): int(r[2]) for r in rows})
        deliveries.clear()
        for (system, status), n in counts.items():
            deliveries.labels(system, status).set(n)

    runtime.metric_sources.append(refresh)
