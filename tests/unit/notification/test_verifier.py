"""Notification's verification codes on its own SQLite database (issue 18), a recording provider and a
clock the test moves: the code reaches the provider and is stored only hashed; wrong, expired, used up
and spent codes are refused; a mobile is limited; parallel guesses cannot exceed the attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.contracts.http.notification import VerificationCheckIn
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.notification.domain.templates import load_default_catalog
from services.notification.domain.verification import Verdict
from services.notification.migrations import migrate
from services.notification.settings import NotificationSettings
from services.notification.sms.port import SmsAccepted, SmsRequest, SmsUnavailable
from services.notification.tables import kit, metadata, verifications
from services.notification.verification import Verifier

PHONE = "13800000000"


class Provider:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[SmsRequest] = []
        self.down = False

    async def send(self, request: SmsRequest) -> SmsAccepted:
        if self.down:
            raise SmsUnavailable("simulated outage")
        self.sent.append(request)
        return SmsAccepted(self.name, f"ref-{len(self.sent)}")


@dataclass
class Setup:
    verifier: Verifier
    provider: Provider
    clock: list[datetime]
    runtime: ServiceRuntime

    def tick(self, seconds: float) -> None:
        self.clock[0] += timedelta(seconds=seconds)

    def check(self, verification_id: str, code: str, bound_to: str = "form-key-a") -> Awaitable[Verdict]:
        return self.verifier.check(
            verification_id, VerificationCheckIn(phone=PHONE, code=code, bound_to=bound_to)
        )


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    settings = NotificationSettings(data_dir=tmp_path)
    await asyncio.to_thread(migrate, settings)
    runtime = ServiceRuntime("notification", settings, metadata, kit)
    provider = Provider()
    clock = [datetime(2026, 12, 6, 2, 0, tzinfo=UTC)]
    verifier = Verifier(runtime, [provider], load_default_catalog(), lambda: clock[0])
    yield Setup(verifier, provider, clock, runtime)
    await runtime.db.dispose()


async def test_the_code_reaches_the_provider_and_is_stored_only_hashed(setup: Setup) -> None:
    issued = await setup.verifier.issue("138-0000-0000")
    (sms,) = setup.provider.sent
    code = sms.params["code"]
    assert sms.template_code == load_default_catalog().get("verification_code").provider_code
    assert sms.out_id == issued.verification_id and len(code) == 6 and sms.params["minutes"] == "5"
    async with setup.runtime.db.sessions() as session:
        row = (await session.execute(select(verifications))).one()
    assert row.status == "sent" and code not in row.code_hash and PHONE not in row.phone_hash
    verdict = await setup.check(issued.verification_id, code)
    assert verdict.ok


async def test_wrong_codes_count_down_then_the_code_is_used_up(setup: Setup) -> None:
    issued = await setup.verifier.issue(PHONE)
    code = setup.provider.sent[0].params["code"]
    wrong = "000000" if code != "000000" else "111111"
    remaining = [(await setup.check(issued.verification_id, wrong)).remaining for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    verdict = await setup.check(issued.verification_id, code)
    assert verdict.outcome == "exhausted"


async def test_parallel_guesses_cannot_exceed_the_attempts(setup: Setup) -> None:
    issued = await setup.verifier.issue(PHONE)
    code = setup.provider.sent[0].params["code"]
    guesses = [f"{n:06d}" for n in range(40) if f"{n:06d}" != code][:30]
    verdicts = await asyncio.gather(*(setup.check(issued.verification_id, g) for g in guesses))
    assert sum(v.outcome == "wrong" for v in verdicts) == 5
    assert (await setup.check(issued.verification_id, code)).outcome == "exhausted"


async def test_an_expired_code_is_refused(setup: Setup) -> None:
    issued = await setup.verifier.issue(PHONE)
    setup.tick(300)
    verdict = await setup.check(issued.verification_id, setup.provider.sent[0].params["code"])
    assert verdict.outcome == "expired"


async def test_a_spent_code_is_good_again_only_for_its_own_submission(setup: Setup) -> None:
    issued = await setup.verifier.issue(PHONE)
    code = setup.provider.sent[0].params["code"]
    assert (await setup.check(issued.verification_id, code, "form-key-a")).ok
    assert (await setup.check(issued.verification_id, code, "form-key-a")).ok
    assert (await setup.check(issued.verification_id, code, "form-key-b")).outcome == "used"
    other = VerificationCheckIn(phone="13900000000", code=code, bound_to="form-key-a")
    assert (await setup.verifier.check(issued.verification_id, other)).outcome == "unknown"


async def test_a_mobile_waits_between_codes_and_gets_a_few_an_hour(setup: Setup) -> None:
    await setup.verifier.issue(PHONE)
    with pytest.raises(Problem) as too_soon:
        await setup.verifier.issue(PHONE)
    assert too_soon.value.status == 429 and too_soon.value.headers["Retry-After"] == "60"
    assert len(setup.provider.sent) == 1
    for _ in range(4):
        setup.tick(61)
        await setup.verifier.issue(PHONE)
    setup.tick(61)
    with pytest.raises(Problem) as hourly:
        await setup.verifier.issue(PHONE)
    assert hourly.value.status == 429 and "一小时内" in hourly.value.detail
    assert int(hourly.value.headers["Retry-After"]) > 60
    await setup.verifier.issue("13900000000")  # another mobile is not affected


async def test_a_provider_outage_is_a_503_and_does_not_count(setup: Setup) -> None:
    setup.provider.down = True
    with pytest.raises(Problem) as failed:
        await setup.verifier.issue(PHONE)
    assert failed.value.status == 503 and "Retry-After" in failed.value.headers
    setup.provider.down = False
    await setup.verifier.issue(PHONE)  # at once: the failed one was not sent, so it does not count
    assert len(setup.provider.sent) == 1
