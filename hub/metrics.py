"""Prometheus metrics: one registry per service runtime (several services may share a test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class KitMetrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.events_consumed = Counter(
            "hub_events_consumed_total",
            "Events handled by a consumer",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.consumer_transactions = Histogram(
            "hub_consumer_transaction_events",
            "Events a consumer transaction committed together (1 unless the consumer batches)",
            ["consumer"],
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "hub_outbox_pending", "Outbox rows not yet relayed", registry=self.registry
        )
        self.outbox_lag_seconds = Gauge(
            "hub_outbox_lag_seconds", "Age of the oldest unrelayed outbox row", registry=self.registry
        )
        self.dead_letter_depth = Gauge(
            "hub_dead_letter_depth",
            "Messages waiting in a dead-letter queue of this service's consumers",
            ["queue"],
            registry=self.registry,
        )
        self.broker_connected = Gauge(
            "hub_broker_connected",
            "1 while this process's broker connection is usable and set up; 0 while the broker is away "
            "(cases are still taken: the outbox holds their events)",
            registry=self.registry,
        )
        self.broker_setup_failures = Counter(
            "hub_broker_setup_failures_total",
            "Failed tries to set up publisher and consumer queues on a reachable broker",
            registry=self.registry,
        )
        self.http_in_flight = Gauge(
            "hub_http_in_flight",
            "HTTP requests being answered now (probes not counted)",
            registry=self.registry,
        )
        self.http_refused = Counter(
            "hub_http_refused_total",
            "Requests refused with 503 + Retry-After because HUB_MAX_IN_FLIGHT were being answered",
            registry=self.registry,
        )
        self.service = service

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
