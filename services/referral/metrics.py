"""The referral service's own Prometheus metrics, on its runtime's registry (see hub/metrics.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class ReferralMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.provisional_deadlines = Counter(
            "hub_referral_provisional_deadlines_total",
            "Referrals whose deadlines were counted on weekends only (no official schedule for the year)",
            ["year"],
            registry=registry,
        )
        self.recomputed_deadlines = Counter(
            "hub_referral_recomputed_deadlines_total",
            "Provisional deadlines recomputed once an official holiday schedule was loaded",
            registry=registry,
        )
        self.schedules_loaded = Counter(
            "hub_referral_schedules_loaded_total", "Official holiday schedules loaded", registry=registry
        )
        self.centre_moves = Counter(
            "hub_referral_centre_moves_total",
            "Cases escalated (上报) or delegated (下派) between centres",
            ["kind", "to_level"],
            registry=registry,
        )
