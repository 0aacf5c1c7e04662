"""The Prometheus metrics each service exports, with their label names (issue 7).

One list for two checks: tests/integration/test_ops_metrics.py scrapes the running services against
it, and tests/deploy/test_observability.py checks that every alert rule and dashboard query only
uses metrics from it. Label values are codes (unit codes, states, channels), never personal data.
"""

from __future__ import annotations

KIT: dict[str, frozenset[str]] = {
    "hub_outbox_pending": frozenset(),
    "hub_outbox_lag_seconds": frozenset(),
    "hub_dead_letter_depth": frozenset({"queue"}),
    "hub_events_consumed_total": frozenset({"consumer", "outcome"}),
    "hub_broker_connected": frozenset(),
    "hub_broker_setup_failures_total": frozenset(),
    "hub_http_in_flight": frozenset(),
    "hub_http_refused_total": frozenset(),
}

METRICS: dict[str, dict[str, frozenset[str]]] = {
    "gateway": {**KIT, "hub_adapter_deliveries": frozenset({"system", "status"})},
    "intake": dict(KIT),
    "referral": {
        **KIT,
        "hub_cases": frozenset({"channel", "colour", "status"}),
        "hub_referrals": frozenset({"state", "department"}),
        "hub_referrals_overdue": frozenset({"department", "stage"}),
        "hub_referral_time_in_state_seconds": frozenset({"department", "state"}),
    },
    "notification": {
        **KIT,
        "hub_notification_deliveries_total": frozenset({"channel", "outcome"}),
        "hub_notification_failed": frozenset({"recipient_kind"}),
    },
}

# Suffixes Prometheus adds to a family's samples (histograms, gauge histograms, counters).
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count", "_gcount", "_gsum", "_created")


def exported_names() -> set[str]:
    return {name for per_service in METRICS.values() for name in per_service}


def family_of(sample: str) -> str:
    """hub_referral_time_in_state_seconds_bucket → hub_referral_time_in_state_seconds."""
    names = exported_names()
    if sample in names:
        return sample
    for suffix in SAMPLE_SUFFIXES:
        if sample.endswith(suffix) and sample[: -len(suffix)] in names:
            return sample[: -len(suffix)]
    return sample
