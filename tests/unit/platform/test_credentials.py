"""The internal credential: only the holder of the signing key can vouch for a principal, to one service."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from hub.config import Settings
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


def test_a_credential_of_another_hub_instance_is_refused() -> None:
    """Two hubs on one machine share the development key: the instance the gateway names keeps a
    service of one from acting for the gateway of the other (a port or URL pointing at the wrong hub)."""
    theirs = CredentialMinter(DEV_INTERNAL_SIGNING_KEY, instance="hub-b").mint(PERSON, "intake")
    ours = CredentialMinter(DEV_INTERNAL_SIGNING_KEY, instance="hub-a").mint(PERSON, "intake")
    verifier = CredentialVerifier([DEV_INTERNAL_VERIFY_KEY], "intake", instance="hub-a")
    with pytest.raises(CredentialError, match="another hub instance"):
        verifier.verify(theirs)
    assert verifier.verify(ours) == PERSON


def test_every_process_of_one_hub_derives_the_same_instance_and_another_hub_another(tmp_path: Path) -> None:
    broker = "amqp://hub_intake:x@127.0.0.1:5672/hub-a"
    intake = Settings(data_dir=tmp_path / "a", amqp_url=broker)
    gateway = Settings(data_dir=tmp_path / "a", amqp_url=broker.replace("hub_intake", "hub_gateway"))
    assert intake.instance() == gateway.instance()  # per-process broker users, one hub
    assert Settings(data_dir=tmp_path / "b", amqp_url=broker).instance() != intake.instance()
    assert Settings(data_dir=tmp_path / "a", amqp_url=broker + "2").instance() != intake.instance()
    assert Settings(data_dir=tmp_path / "a", instance_id="prod-1").instance() == "prod-1"
