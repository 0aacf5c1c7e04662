"""`hub setup rabbitmq-users` on a real broker: one user per process, its own queues and events only.

A fresh vhost per test; users are broker-wide, so they carry a random prefix and are deleted at the end."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import aiormq
import pytest
from typer.testing import CliRunner

from hub.config import SERVICES, Settings
from hub.messaging.publisher import Publisher
from hub.messaging.topology import QueueSpec, declare_consumer_queue
from hubcli.broker_users import ensure_users, permissions_for, published_event_types
from hubcli.main import app
from tests.kit.http import http_client
from tests.kit.infra import RABBITMQ_API, RABBITMQ_API_AUTH, fresh_vhost
from tests.kit.waiting import eventually

ADMIN = RABBITMQ_API_AUTH


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"hubtest_{uuid.uuid4().hex[:8]}_"
    yield name
    async with http_client(base_url=RABBITMQ_API, auth=ADMIN) as api:
        for service in SERVICES:
            await api.delete(f"/users/{quote(name + service, safe='')}")


def _url_as(vhost_url: str, user: str, password: str) -> str:
    parts = urlsplit(vhost_url)
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5672}{parts.path}"


async def _refused(action: object) -> None:
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="ACCESS_REFUSED"):
        await action  # type: ignore[misc]


def test_permissions_follow_the_topology() -> None:
    intake = permissions_for("intake")
    assert intake.configure == r"^(intake\..*|hub\.events|hub\.dlx)$"
    assert intake.write == intake.read == r"^(intake\..*|hub\.events|hub\.dlx)$"
    assert "case.registered.v1" in published_event_types("intake")
    assert "referral.dispatched.v1" in published_event_types("referral")
    # Each event type has one producer: no two services may publish the same type.
    all_types = [t for s in SERVICES for t in published_event_types(s)]
    assert len(all_types) == len(set(all_types))


async def test_each_service_user_publishes_its_events_and_consumes_its_queue_only(prefix: str) -> None:
    async with fresh_vhost() as vhost_url:
        vhost = unquote(urlsplit(vhost_url).path[1:])
        first = await ensure_users(RABBITMQ_API, ADMIN, vhost=vhost, prefix=prefix, environ={})
        assert [o.created for o in first] == [True] * 4
        passwords = {o.service: str(o.password) for o in first}
        # One long retry delay: a retried message waits in its wait queue while the test looks.
        settings = Settings(amqp_url=vhost_url, retry_delays_ms=(60_000,))

        # Referral's user declares referral's queue (bound to intake's case.registered.v1) as at start.
        referral = await aio_pika.connect(_url_as(vhost_url, f"{prefix}referral", passwords["referral"]))
        intake = await aio_pika.connect_robust(_url_as(vhost_url, f"{prefix}intake", passwords["intake"]))
        try:
            referral_queue = await declare_consumer_queue(
                await referral.channel(), QueueSpec("referral.case-events", ("case.registered.v1",)), settings
            )
            # Intake declares its own queues and exchanges, and publishes its event with confirms.
            own = await declare_consumer_queue(
                await intake.channel(), QueueSpec("intake.case-status", ("case.closed.v1",)), settings
            )
            publisher = Publisher(intake, settings)  # type: ignore[arg-type]
            await publisher.start()
            await publisher.publish(b"{}", "case.registered.v1", message_id="m-1")
            delivered = await referral_queue.get(timeout=5, fail=True)
            assert delivered is not None and delivered.routing_key == "case.registered.v1"
            await delivered.ack()
            # …retries through its queue's own retry exchange into its wait queue, and consumes its queues.
            spec = QueueSpec("intake.case-status", ("case.closed.v1",))
            channel = await intake.channel(publisher_confirms=True)
            retry = await channel.get_exchange(spec.retry_exchange)
            await retry.publish(aio_pika.Message(b"{}"), routing_key=spec.wait_queue(60_000), mandatory=True)
            waiting = await channel.get_queue(spec.wait_queue(60_000), ensure=False)
            assert await waiting.get(timeout=5, fail=True) is not None
            assert await own.get(timeout=5, fail=False) is None

            # Not another service's event type (topic permission on hub.events).
            await _refused(publisher.publish(b"{}", "referral.dispatched.v1", message_id="m-2"))

            # The refusal closes the publisher's channel; the robust connection reopens it and the next
            # event of its own goes out (the relay retries a refused outbox row the same way).
            async def publish_own() -> bool:
                try:
                    await publisher.publish(b"{}", "case.registered.v1", message_id="m-3")
                except aiormq.exceptions.ChannelInvalidStateError:
                    return False
                return True

            await eventually(publish_own, what="the publisher's channel reopened")
            assert await referral_queue.get(timeout=5, fail=True) is not None
            # Not the default exchange, which would reach referral's queue by its name.
            channel = await intake.channel(publisher_confirms=True)
            await _refused(
                channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key="referral.case-events")
            )
            # Not referral's queue: neither consume it nor declare it nor bind it.
            channel = await intake.channel()
            queue = await channel.get_queue("referral.case-events", ensure=False)
            await _refused(queue.get(timeout=5))
            await _refused((await intake.channel()).declare_queue("referral.sneaky", durable=True))
            channel = await intake.channel()
            referral_as_seen = await channel.get_queue("referral.case-events", ensure=False)
            await _refused(referral_as_seen.bind("hub.events", routing_key="#"))
            # Not a queue outside its own names, nor an exchange of its own invention.
            await _refused((await intake.channel()).declare_queue("anything", durable=True))
            await _refused(
                (await intake.channel()).declare_exchange("intake-exchange", aio_pika.ExchangeType.FANOUT)
            )
        finally:
            await intake.close()
            await referral.close()

        # Twice changes nothing (and the command says so; the admin password comes from the environment).
        second = await ensure_users(RABBITMQ_API, ADMIN, vhost=vhost, prefix=prefix, environ={})
        assert [(o.created, o.password, o.changes) for o in second] == [(False, None, ())] * 4
        argv = ["setup", "rabbitmq-users", "--management-url", RABBITMQ_API, "--admin-user", ADMIN[0]]
        argv += ["--vhost", vhost, "--prefix", prefix]
        result = await asyncio.to_thread(
            CliRunner().invoke, app, argv, env={"RABBITMQ_ADMIN_PASSWORD": ADMIN[1]}
        )
        assert result.exit_code == 0, result.output
        assert result.output.count(": unchanged") == 4 and "password=" not in result.output


USERS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "users.json"


async def test_the_users_definitions_file_grants_what_the_set_up_grants(prefix: str) -> None:
    """deploy/rabbitmq/users.json, imported (renamed into a fresh vhost), is exactly what the set-up
    makes: running the set-up on top only gives the passwords, and until then nobody logs in."""
    definitions = json.loads(USERS_FILE.read_text(encoding="utf-8"))
    assert {u["name"] for u in definitions["users"]} == {f"hub_{s}" for s in SERVICES}
    assert all(u["password_hash"] == "" and u["tags"] == [] for u in definitions["users"])
    async with fresh_vhost() as vhost_url:
        vhost = unquote(urlsplit(vhost_url).path[1:])
        renamed = json.loads(
            json.dumps({k: v for k, v in definitions.items() if not k.startswith("_")})
            .replace('"hub_', f'"{prefix}')
            .replace('"vhost": "/"', f'"vhost": "{vhost}"')
        )
        async with http_client(base_url=RABBITMQ_API, auth=ADMIN) as api:
            (await api.post("/definitions", json=renamed)).raise_for_status()
        with pytest.raises(aiormq.exceptions.ProbableAuthenticationError):
            await aio_pika.connect(_url_as(vhost_url, f"{prefix}intake", ""))
        environ = {f"AMQP_PASSWORD_{prefix.upper()}{s.upper()}": f"pw-{s}" for s in SERVICES}
        outcomes = await ensure_users(RABBITMQ_API, ADMIN, vhost=vhost, prefix=prefix, environ=environ)
        assert [o.changes for o in outcomes] == [("password set",)] * 4
        connection = await aio_pika.connect(_url_as(vhost_url, f"{prefix}intake", "pw-intake"))
        await connection.close()
