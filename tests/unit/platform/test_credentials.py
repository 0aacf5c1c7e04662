"""The internal credential: only the holder of the signing key can vouch for a principal, to one service."""

from __future__ import annotations

import jwt
import pytest

from hub.credentials import (
    DEV_INTERNAL_SIGNING_KEY,
    DEV_INTERNAL_VERIFY_KEY,
    CredentialError,
    CredentialMinter,
    CredentialVerifier,
    Principal,
    new_signing_key,
    public_key_of,
)

PERSON = Principal("user", "u-17", "centre", name="王敏", centre="150203001000")


def test_a_credential_names_the_principal_to_the_service_it_was_minted_for() -> None:
    token = CredentialMinter(DEV_INTERNAL_SIGNING_KEY).mint(PERSON, "referral")
    assert CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "referral").verify(token) == PERSON


def test_a_credential_for_another_service_is_refused() -> None:
    token = CredentialMinter(DEV_INTERNAL_SIGNING_KEY).mint(PERSON, "intake")
    with pytest.raises(CredentialError, match="invalid"):
        CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "referral").verify(token)


def test_a_credential_signed_with_another_key_is_refused() -> None:
    forged = CredentialMinter(new_signing_key()).mint(PERSON, "intake")
    with pytest.raises(CredentialError, match="unknown internal key"):
        CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "intake").verify(forged)


def test_a_tampered_credential_is_refused() -> None:
    header, payload, signature = CredentialMinter(DEV_INTERNAL_SIGNING_KEY).mint(PERSON, "intake").split(".")
    claims = jwt.decode(f"{header}.{payload}.{signature}", options={"verify_signature": False})
    claims["role"] = "ops"
    other_payload = jwt.encode(claims, "x", algorithm="HS256").split(".")[1]
    with pytest.raises(CredentialError, match="invalid"):
        CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "intake").verify(
            f"{header}.{other_payload}.{signature}"
        )


def test_an_expired_credential_is_refused() -> None:
    minter = CredentialMinter(DEV_INTERNAL_SIGNING_KEY, ttl_s=-10)
    with pytest.raises(CredentialError, match="expired"):
        CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "intake").verify(minter.mint(PERSON, "intake"))


def test_no_credential_is_refused() -> None:
    with pytest.raises(CredentialError, match="missing"):
        CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "intake").verify(None)


def test_the_gateway_key_rotates_while_services_accept_old_and_new() -> None:
    new_key = new_signing_key()
    verifier = CredentialVerifier([public_key_of(new_key), DEV_INTERNAL_VERIFY_KEY], "notification")
    for key in (new_key, DEV_INTERNAL_SIGNING_KEY):
        assert verifier.verify(CredentialMinter(key).mint(PERSON, "notification")).id == "u-17"
