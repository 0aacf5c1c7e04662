"""SMS verification codes for the citizen QR form (issue 18): `POST /internal/v1/verifications` sends a
code to a mobile, `POST /internal/v1/verifications/{id}/check` says whether a code is the one sent.

Only the gateway's citizen form may ask (its system principal, `citizen_form_only`). The code is kept
only as a keyed hash (HUB_HASH_KEY, the suite's HMAC) bound to its verification id, the phone only as
its keyed hash; neither is ever logged or put on a span. A code is sent at once through the SMS
provider port, in failover order, outside the delivery ledger: the citizen is waiting for it on the
form, so quiet hours must not defer it and a retry minutes later is worth nothing (they ask again).
Rules (expiry, attempts, limits per mobile) are services/notification/domain/verification.py's.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.contracts.http.notification import (
    VerificationCheckIn,
    VerificationCheckOut,
    VerificationIn,
    VerificationOut,
)
from hub.credential_guard import principal_of
from hub.crypto import keyed_hash
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.notification.domain import verification as rules
from services.notification.domain.phones import NotAMobile, normalise_mobile
from services.notification.domain.templates import TemplateCatalog
from services.notification.settings import NotificationSettings
from services.notification.sms.port import SmsProvider, SmsRejected, SmsRequest, SmsUnavailable
from services.notification.tables import verifications

log = logging.getLogger("hub.notification.verification")

TEMPLATE = "verification_code"
CITIZEN_FORM = "citizen_form"  # the gateway's citizen form, as its principal names it
KEEP = timedelta(days=1)  # verification rows are deleted a day after they were asked for
SEND_RETRY_AFTER_S = 30

router = APIRouter(prefix="/internal/v1", tags=["notification"])


def citizen_form_only(request: Request) -> None:
    principal = principal_of(request)
    if principal is None or (principal.kind, principal.system) != ("system", CITIZEN_FORM):
        raise Problem(403, "无权限", "短信验证码只接受网关市民表单转发的请求", type_="citizen-form-only")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Verifier:
    def __init__(
        self,
        rt: ServiceRuntime[NotificationSettings],
        providers: list[SmsProvider],
        catalog: TemplateCatalog,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.rt = rt
        self.providers = providers
        self.catalog = catalog
        self.clock = clock

    @property
    def settings(self) -> NotificationSettings:
        return self.rt.settings

    def _hash(self, value: str) -> str:
        return keyed_hash(self.settings.hash_key, value)

    async def issue(self, raw_phone: str) -> VerificationOut:
        phone = _mobile(raw_phone)
        phone_hash = self._hash(phone)
        now = self.clock()
        resend = timedelta(seconds=self.settings.verification_resend_s)
        verification_id = str(uuid.uuid4())
        code = rules.new_code()
        expires_at = now + timedelta(seconds=self.settings.verification_ttl_s)
        try:
            async with self.rt.db.transaction() as session:
                await session.execute(delete(verifications).where(verifications.c.created_at < now - KEEP))
                recent = (
                    await session.execute(
                        select(verifications.c.created_at).where(
                            verifications.c.phone_hash == phone_hash,
                            verifications.c.created_at > now - timedelta(hours=1),
                            verifications.c.status != "failed",
                        )
                    )
                ).scalars()
                refusal = rules.refusal_to_send(
                    list(recent), now, resend=resend, per_hour=self.settings.verification_per_phone_per_hour
                )
                if refusal is not None:
                    raise _too_many(refusal.retry_after_s, refusal.detail)
                await session.execute(
                    verifications.insert().values(
                        id=verification_id,
                        purpose=rules.PURPOSE,
                        phone_hash=phone_hash,
                        code_hash=self._hash(rules.code_message(verification_id, code)),
                        window_key=rules.window_key(phone_hash, now, resend),
                        created_at=now,
                        expires_at=expires_at,
                        attempts=0,
                        status="sending",
                    )
                )
        except IntegrityError:  # another request for this mobile in the same interval sent one
            raise _too_many(self.settings.verification_resend_s, "验证码已发送，请稍后再重新获取") from None
        await self._send(verification_id, phone, code)
        return VerificationOut(
            verification_id=verification_id,
            expires_at=expires_at,
            resend_after_s=self.settings.verification_resend_s,
        )

    async def _send(self, verification_id: str, phone: str, code: str) -> None:
        minutes = max(self.settings.verification_ttl_s // 60, 1)
        rendered = self.catalog.render(
            TEMPLATE, {"code": code, "minutes": str(minutes)}, self.settings.sms_sign_name
        )
        request = SmsRequest(
            out_id=verification_id,
            phone=phone,
            sign_name=rendered.sign_name,
            template_code=rendered.template_code,
            params=rendered.params,
            text=rendered.text,
        )
        errors: list[str] = []
        for provider in self.providers:  # failover in configured order
            try:
                accepted = await provider.send(request)
            except SmsUnavailable as exc:
                errors.append(f"{provider.name}: {type(exc).__name__}")
                continue
            except SmsRejected as exc:
                errors.append(f"{provider.name}: rejected ({type(exc).__name__})")
                break
            await self._record(
                verification_id, status="sent", provider=accepted.provider, provider_ref=accepted.provider_ref
            )
            return
        reason = "; ".join(errors) or "no provider configured"
        log.warning("verification %s: the code could not be sent (%s)", verification_id, reason)
        async with self.rt.db.transaction() as session:  # nothing was sent: it does not count
            await session.execute(delete(verifications).where(verifications.c.id == verification_id))
        problem = Problem(
            503, "短信发送失败", "验证码短信暂时无法发送，请稍后再试", type_="verification-not-sent"
        )
        problem.headers = {"Retry-After": str(SEND_RETRY_AFTER_S)}
        raise problem

    async def _record(self, verification_id: str, **values: str) -> None:
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(verifications).where(verifications.c.id == verification_id).values(**values)
            )

    async def check(self, verification_id: str, body: VerificationCheckIn) -> rules.Verdict:
        now = self.clock()
        try:
            phone_hash = self._hash(normalise_mobile(body.phone))
        except NotAMobile:
            return rules.Verdict("unknown")
        max_attempts = self.settings.verification_max_attempts
        t = verifications
        async with self.rt.db.transaction() as session:
            row = (
                await session.execute(select(t).where(t.c.id == verification_id, t.c.status == "sent"))
            ).first()
            if row is None or not hmac.compare_digest(row.phone_hash, phone_hash):
                return rules.Verdict("unknown")
            matches = hmac.compare_digest(
                row.code_hash, self._hash(rules.code_message(verification_id, body.code))
            )
            early = rules.before_counting(
                expires_at=row.expires_at,
                verified_at=row.verified_at,
                bound_to=row.bound_to,
                attempts=row.attempts,
                max_attempts=max_attempts,
                now=now,
                for_submission=body.bound_to,
                code_matches=matches,
            )
            if early is not None:
                return early
            # Counted before compared, in one conditional update: parallel guesses cannot exceed the limit.
            counted = await session.execute(
                update(t)
                .where(t.c.id == verification_id, t.c.attempts < max_attempts, t.c.verified_at.is_(None))
                .values(attempts=t.c.attempts + 1)
                .returning(t.c.attempts)
            )
            attempts = counted.scalar_one_or_none()
            if attempts is None:
                return rules.Verdict("exhausted")
            verdict = rules.after_counting(attempts=attempts, max_attempts=max_attempts, code_matches=matches)
            if verdict.ok:
                await session.execute(
                    update(t).where(t.c.id == verification_id).values(verified_at=now, bound_to=body.bound_to)
                )
            return verdict


def _mobile(raw: str) -> str:
    try:
        return normalise_mobile(raw)
    except NotAMobile:
        raise Problem(
            422,
            "请求内容有误",
            "请填写正确的 11 位手机号码",
            type_="validation-error",
            errors=[{"field": "phone", "message": "请填写正确的 11 位手机号码"}],
        ) from None


def _too_many(retry_after_s: int, detail: str) -> Problem:
    problem = Problem(429, "获取验证码过于频繁", detail, type_="verification-rate-limited")
    problem.headers = {"Retry-After": str(retry_after_s)}
    return problem


def _verifier(request: Request) -> Verifier:
    found: Verifier = request.app.state.verifier
    return found


@router.post(
    "/verifications",
    status_code=201,
    response_model=VerificationOut,
    summary="Send an SMS verification code to a mobile (the gateway's citizen form only)",
    dependencies=[Depends(citizen_form_only)],
)
async def post_verification(body: VerificationIn, request: Request) -> VerificationOut:
    return await _verifier(request).issue(body.phone)


@router.post(
    "/verifications/{verification_id}/check",
    response_model=VerificationCheckOut,
    summary="Is this the code sent? Counts an attempt; a right code is spent on `bound_to`",
    dependencies=[Depends(citizen_form_only)],
)
async def check_verification(
    verification_id: str, body: VerificationCheckIn, request: Request
) -> VerificationCheckOut:
    verdict = await _verifier(request).check(verification_id[:36], body)
    if not verdict.ok:
        raise Problem(
            422,
            verdict.title,
            verdict.detail,
            type_=f"verification-{verdict.outcome}",
            errors=[{"field": "code", "message": verdict.detail}],
            remaining=verdict.remaining,
        )
    return VerificationCheckOut(verified=True)
