"""SMS verification codes (issue 18, the citizen QR form), the rules without I/O: a code, when the same
mobile may ask again, and what a check says to the citizen (Chinese, never the code or the number).

Limits per mobile: one code per resend interval and a number per hour. A code is good until it expires,
for a limited number of checks (every check counts, right or wrong, so parallel guesses cannot exceed
it), and once: spent on one submission (`bound_to`), where a retried submit may present it again.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

CODE_DIGITS = 6
PURPOSE = "citizen_form"

Outcome = Literal["verified", "wrong", "expired", "exhausted", "used", "unknown"]


def new_code() -> str:
    """Six random digits from the operating system's CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_message(verification_id: str, code: str) -> str:
    """What is keyed-hashed for a code: bound to its verification, so equal codes hash apart."""
    return f"verification:{verification_id}:{code.strip()}"


def window_key(phone_hash: str, now: datetime, resend: timedelta) -> str:
    """The phone and the resend interval it asks in: unique per stored code, so two requests racing
    in one interval send one code."""
    slot = int(now.timestamp() // max(resend.total_seconds(), 1))
    return f"{phone_hash}:{slot}"


@dataclass(frozen=True)
class Refusal:
    """Asking too soon or too often: how long to wait (whole seconds, at least 1) and why."""

    retry_after_s: int
    detail: str


def refusal_to_send(
    recent: Sequence[datetime], now: datetime, *, resend: timedelta, per_hour: int
) -> Refusal | None:
    """`recent`: when this mobile was sent codes in the last hour. None: a code may be sent."""
    hour_ago = now - timedelta(hours=1)
    within = sorted(t for t in recent if t > hour_ago)
    if within and now - within[-1] < resend:
        wait = math.ceil((within[-1] + resend - now).total_seconds())
        return Refusal(max(wait, 1), f"验证码已发送，请 {max(wait, 1)} 秒后再重新获取")
    if len(within) >= per_hour:
        wait = math.ceil((within[-per_hour] + timedelta(hours=1) - now).total_seconds())
        return Refusal(max(wait, 1), f"该手机号一小时内获取验证码已达 {per_hour} 次，请稍后再试")
    return None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    remaining: int = 0  # checks left after a wrong code

    @property
    def ok(self) -> bool:
        return self.outcome == "verified"

    @property
    def title(self) -> str:
        return TITLES[self.outcome]

    @property
    def detail(self) -> str:
        if self.outcome == "wrong":
            if self.remaining > 0:
                return f"验证码不正确，还可以再试 {self.remaining} 次"
            return "验证码不正确，错误次数已达上限，请重新获取验证码"
        return DETAILS[self.outcome]


TITLES: dict[Outcome, str] = {
    "verified": "验证通过",
    "wrong": "验证码不正确",
    "expired": "验证码已过期",
    "exhausted": "验证码已失效",
    "used": "验证码已使用",
    "unknown": "验证码不正确",
}
DETAILS: dict[Outcome, str] = {
    "verified": "验证通过",
    "wrong": "验证码不正确",
    "expired": "验证码已过期，请重新获取验证码",
    "exhausted": "验证码错误次数已达上限，请重新获取验证码",
    "used": "该验证码已用于另一次提交，请重新获取验证码",
    "unknown": "验证码不正确，请先获取验证码并填写短信中的 6 位数字",
}


def before_counting(
    *,
    expires_at: datetime,
    verified_at: datetime | None,
    bound_to: str | None,
    attempts: int,
    max_attempts: int,
    now: datetime,
    for_submission: str,
    code_matches: bool,
) -> Verdict | None:
    """What a check is decided as before it counts an attempt (None: count it, then compare)."""
    if verified_at is not None:
        # Spent: the same submission retried with the right code is still good, anything else not.
        return Verdict("verified") if bound_to == for_submission and code_matches else Verdict("used")
    if now >= expires_at:
        return Verdict("expired")
    if attempts >= max_attempts:
        return Verdict("exhausted")
    return None


def after_counting(*, attempts: int, max_attempts: int, code_matches: bool) -> Verdict:
    """The verdict once this check is counted (`attempts` includes it)."""
    if code_matches:
        return Verdict("verified")
    return Verdict("wrong", remaining=max(max_attempts - attempts, 0))
