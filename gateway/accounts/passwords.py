"""Passwords of named accounts: argon2id (RFC 9106's second recommended option, argon2-cffi's default
profile: 64 MiB, 3 passes, 4 lanes, 16-byte salt, 32-byte tag), about 0.1 s a check on one core.

Hashing and checking run off the event loop, at most two at once per process (128 MiB at most), so a
burst of logins neither blocks other requests nor exhausts memory. An unknown username is checked
against a fixed dummy hash, so it costs the same time as a wrong password (no enumeration by timing).
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 128  # argon2 takes any length; a bound keeps a login body from costing more than it should

_hasher = PasswordHasher()  # argon2id, m=65536 KiB, t=3, p=4 (argon2.profiles.RFC_9106_LOW_MEMORY)
_slots: dict[int, asyncio.Semaphore] = {}


class PasswordRejected(ValueError):
    """A new password that does not meet the rules (the message says which, in Chinese and English)."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(
            f"密码至少 {MIN_LENGTH} 个字符 (a password has at least {MIN_LENGTH} characters)"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"密码最多 {MAX_LENGTH} 个字符 (at most {MAX_LENGTH} characters)")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Cn") for ch in password):
        raise PasswordRejected("密码不能含控制字符 (no control characters in a password)")
    if len(set(password)) < 4:
        raise PasswordRejected("密码过于简单 (too simple: use at least 4 different characters)")


def generate_password() -> str:
    """A password for a new or reset account, shown once: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def _semaphore() -> asyncio.Semaphore:
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _slots:
        _slots.clear()  # one loop per process in production; tests may run several in turn
        _slots[loop_id] = asyncio.Semaphore(2)
    return _slots[loop_id]


async def hash_password(password: str) -> str:
    async with _semaphore():
        return await asyncio.to_thread(_hasher.hash, password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; with no stored hash (no such user), False after the same
    work as a real check."""
    async with _semaphore():
        return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """A hash made with older parameters: replaced at the next successful login."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
