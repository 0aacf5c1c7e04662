"""Issue 7: every service's /metrics carries the metric names and label sets of the catalogue, with
figures that follow the cases, and no personal data in any label value."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_referral_flow import POLICE, SECURITY, Api, clock, hub, sh, watchdog
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.metrics_catalogue import METRICS
from tests.kit.pii_scan import MOBILE, RESIDENT_ID, TEST_NAMES
from tests.kit.quiescence import wait_quiescent
from tests.kit.waiting import eventually

__all__ = ["clock", "hub"]  # fixtures: pytest finds them under these names in the module


def _family(name: str) -> str:
    return name.removesuffix("_total")  # the parser names a counter's family without it


async def scrape(hub: InProcessHub, service: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with http_client() as client:
        response = await client.get(f"{hub.apps[service].url}/metrics")
    assert response.status_code == 200
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        found[family.name] = [
            (dict(s.labels), s.value) for s in family.samples if not s.name.endswith("_created")
        ]
    return found


def value(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    return sum(
        v for ls, v in samples if all(ls.get(k) == want for k, want in labels.items()) and "le" not in ls
    )


async def test_every_service_exports_the_catalogue_without_personal_data(
    hub: InProcessHub, clock: object
) -> None:
    api = Api(hub)
    case_no = await api.register(SECURITY)  # blue, police station: acknowledge by Tue 09:00
    await api.dispatched(case_no)
    await eventually(hub.sms_received, until=lambda items: len(items) >= 1, what="an SMS")
    await wait_quiescent(hub.settings)
    clock.set(sh(2026, 3, 3, 10, 0))  # type: ignore[attr-defined]
    await watchdog(hub).tick()

    scraped = {service: await scrape(hub, service) for service in METRICS}
    for service, expected in METRICS.items():
        families = scraped[service]
        for name, label_names in expected.items():
            assert _family(name) in families, f"{service} does not export {name}"
            for labels, _ in families[_family(name)]:
                assert set(labels) - {"le"} == label_names, (service, name, labels)
        for family, samples in families.items():
            for labels, _ in samples:
                for label_value in labels.values():
                    assert not MOBILE.search(label_value) and not RESIDENT_ID.search(label_value), (
                        family,
                        labels,
                    )
                    assert not any(n in label_value for n in TEST_NAMES), (family, labels)

    referral = scraped["referral"]
    assert value(referral["hub_cases"], channel="window", colour="blue", status="dispatched") == 1
    assert value(referral["hub_referrals"], state="dispatched", department=POLICE) == 1
    assert value(referral["hub_referrals_overdue"], department=POLICE, stage="acknowledge") == 1
    waiting = [v for ls, v in referral["hub_referral_time_in_state_seconds"] if ls.get("le") == "+Inf"]
    assert waiting == [1.0]  # one open referral, 25 hours in `dispatched` (le="+Inf" counts it)
    day = [v for ls, v in referral["hub_referral_time_in_state_seconds"] if ls.get("le") == "86400.0"]
    assert day == [0.0]
    for service in METRICS:
        depth = scraped[service]["hub_dead_letter_depth"]
        assert depth and all(v == 0 for _, v in depth), (service, depth)  # each consumer's DLQ, empty
        assert all(ls["queue"].endswith(".dlq") for ls, _ in depth)
    assert value(scraped["notification"]["hub_notification_failed"], recipient_kind="citizen") == 0
    # Every consumer counts what it handled (the registration reached referral's case consumer).
    consumed = scraped["referral"][_family("hub_events_consumed_total")]
    assert value(consumed, consumer="referral.case-events", outcome="processed") >= 1
    assert value(scraped["notification"]["hub_notification_deliveries"], channel="sms", outcome="sent") >= 1
