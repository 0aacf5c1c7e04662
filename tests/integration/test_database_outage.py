"""A service's database away (issue 16): its consumer holds the messages it has and takes no more, no
error counts as an attempt, nothing is dead-lettered however long the outage lasts, and when the
database answers again every event is handled once. The outage is a cut TCP proxy in front of
referral's PostgreSQL (tests/kit/proxy.py); the rest of the hub keeps its database.

HUB_TEST_DB_OUTAGE_S sets how long (default: the whole retry ladder and more, a few seconds; the issue's
proof figure is 180)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.integration.test_walking_skeleton import CASE
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings, running_hub
from tests.kit.proxy import TcpProxy, tcp_proxy
from tests.kit.quiescence import wait_quiescent
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration
RETRY_DELAYS_MS = (200, 1000, 3000)  # the kit's (tests/kit/inprocess.py make_settings)
OUTAGE_S = float(os.environ.get("HUB_TEST_DB_OUTAGE_S", sum(RETRY_DELAYS_MS) / 1000 + 3))
CASES = 5


def _through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    auth = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}"))


def _consumed(metrics: str, outcome: str) -> float:
    prefix = f'hub_events_consumed_total{{consumer="referral.case-events",outcome="{outcome}"}} '
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


async def test_a_consumer_holds_its_messages_while_its_database_is_away_and_dead_letters_none(
    tmp_path: Path,
) -> None:
    async with isolated_backends("postgresql") as (amqp_url, db_url):
        assert db_url is not None
        pg = urlsplit(db_url)
        async with tcp_proxy(pg.hostname or "127.0.0.1", pg.port or 5432) as proxy:
            settings = make_settings(
                tmp_path,
                amqp_url,
                db_url,
                referral_database_url=_through(proxy, db_url),
            )
            async with running_hub(settings) as hub, http_client() as client:
                referral = hub.apps["referral"].url
                proxy.cut()
                taken = [await client.post(f"{hub.gateway}/api/v1/cases", json=CASE) for _ in range(CASES)]
                assert [r.status_code for r in taken] == [201] * CASES, [r.text for r in taken]
                case_nos = [r.json()["case_no"] for r in taken]
                unready = await client.get(f"{referral}/readyz")
                assert unready.status_code == 503 and unready.json()["checks"]["database"] != "ok"
                # The outage outlasts the whole retry ladder: counted as attempts, every event would be
                # dead-lettered by now.
                await asyncio.sleep(OUTAGE_S)
                proxy.restore()

                async def case(case_no: str) -> dict[str, Any]:
                    found: dict[str, Any] = (await client.get(f"{hub.gateway}/api/v1/cases/{case_no}")).json()
                    return found

                for case_no in case_nos:
                    await eventually(
                        lambda n=case_no: case(n),  # type: ignore[misc]
                        until=lambda c: bool(c.get("referrals")),
                        what=f"{case_no} dispatched once the database answered",
                        timeout=60,
                    )
                await wait_quiescent(settings)
                for case_no in case_nos:
                    departments = [r["department"] for r in (await case(case_no))["referrals"]]
                    assert len(departments) == len(set(departments)), departments  # once each
                metrics = (await client.get(f"{referral}/metrics")).text
                assert _consumed(metrics, "held") >= 1  # it did pause
                assert _consumed(metrics, "retried") == 0 and _consumed(metrics, "dead_lettered") == 0
                assert 'hub_dead_letter_depth{queue="referral.case-events.dlq"} 0.0' in metrics
                print(
                    f"\nreferral's database away {OUTAGE_S:.0f}s: {CASES} cases, 0 retried, 0 dead-lettered"
                )
