"""The verification-code rules a citizen meets on the QR form (issue 18): six random digits, one code per
mobile per resend interval and a few an hour (with how long to wait), a code good until it expires, for
a few checks, and once — except for the same submission retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notification.domain import verification as rules

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
RESEND = timedelta(seconds=60)


def test_codes_are_six_digits_and_vary() -> None:
    codes = {rules.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def test_a_code_is_hashed_with_its_verification() -> None:
    assert rules.code_message("a", "123456") != rules.code_message("b", "123456")
    assert rules.code_message("a", " 123456 ") == rules.code_message("a", "123456")


def test_the_same_mobile_waits_for_the_resend_interval() -> None:
    refusal = rules.refusal_to_send([NOW - timedelta(seconds=20)], NOW, resend=RESEND, per_hour=5)
    assert refusal is not None and refusal.retry_after_s == 40
    assert "40 秒后" in refusal.detail
    assert rules.refusal_to_send([NOW - timedelta(seconds=61)], NOW, resend=RESEND, per_hour=5) is None


def test_a_mobile_gets_a_few_codes_an_hour() -> None:
    sent = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    refusal = rules.refusal_to_send(sent, NOW, resend=RESEND, per_hour=5)
    assert refusal is not None and refusal.retry_after_s == 600  # the oldest leaves the hour in 10 min
    assert "一小时内" in refusal.detail
    older = [NOW - timedelta(minutes=m) for m in (70, 40, 30, 20, 10)]
    assert rules.refusal_to_send(older, NOW, resend=RESEND, per_hour=5) is None


def test_two_requests_in_one_interval_share_a_window_key() -> None:
    first = rules.window_key("h", NOW, RESEND)
    assert first == rules.window_key("h", NOW + timedelta(seconds=30), RESEND)
    assert first != rules.window_key("h", NOW + timedelta(seconds=60), RESEND)
    assert first != rules.window_key("other", NOW, RESEND)


def _early(**overrides: object) -> rules.Verdict | None:
    fields: dict[str, object] = {
        "expires_at": NOW + timedelta(minutes=5),
        "verified_at": None,
        "bound_to": None,
        "attempts": 0,
        "max_attempts": 5,
        "now": NOW,
        "for_submission": "form-a",
        "code_matches": True,
    }
    fields.update(overrides)
    return rules.before_counting(**fields)  # type: ignore[arg-type]


def test_an_expired_code_is_refused_even_when_right() -> None:
    verdict = _early(expires_at=NOW)
    assert verdict is not None and verdict.outcome == "expired" and "已过期" in verdict.detail


def test_a_code_with_every_attempt_spent_is_refused() -> None:
    verdict = _early(attempts=5)
    assert verdict is not None and verdict.outcome == "exhausted"


def test_a_spent_code_is_good_only_for_the_same_submission() -> None:
    spent = {"verified_at": NOW, "bound_to": "form-a"}
    again = _early(**spent)
    assert again is not None and again.ok
    other = _early(**{**spent, "for_submission": "form-b"})
    assert other is not None and other.outcome == "used"
    wrong = _early(**{**spent, "code_matches": False})
    assert wrong is not None and wrong.outcome == "used"


def test_a_fresh_code_is_counted_then_compared() -> None:
    assert _early() is None
    assert rules.after_counting(attempts=1, max_attempts=5, code_matches=True).ok
    wrong = rules.after_counting(attempts=2, max_attempts=5, code_matches=False)
    assert (wrong.outcome, wrong.remaining) == ("wrong", 3)
    assert "还可以再试 3 次" in wrong.detail
    last = rules.after_counting(attempts=5, max_attempts=5, code_matches=False)
    assert last.remaining == 0 and "重新获取" in last.detail
