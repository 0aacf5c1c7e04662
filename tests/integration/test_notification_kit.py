"""Test kit for the notification tests (no tests here): the notification service on its own, against
a fresh RabbitMQ vhost and a fresh SQLite or PostgreSQL database, with two Aliyun-speaking SMS
simulators (primary and failover) and a department webhook receiver, all on loopback.

Events go in the way referral and intake send them (published to the exchange); what notification
says comes back on a test queue bound to every event type (`events_out`). Same `bootstrap` as
production, with the providers and contact registry passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from sqlalchemy import select

from hub.contracts.intake import CaseRegisteredV1, ReporterContact, reporter_phone_aad
from hub.contracts.referral import ReferralDispatchedV1
from hub.crypto import keyed_hash
from hub.messaging.envelope import Event, parse_event
from hub.messaging.publisher import Publisher, connect
from hub.runtime import ServiceRuntime
from hubcli.services import HubSettings
from services.notification.contacts import ContactRegistry, UnitContacts, Webhook
from services.notification.main import bootstrap
from services.notification.migrations import migrate
from services.notification.sender import Sender
from services.notification.settings import NotificationSettings
from services.notification.sms.aliyun import AliyunSms
from services.notification.sms.port import SmsProvider
from services.notification.sms.simulator import create_app as create_sms_simulator
from services.notification.tables import deliveries
from services.notification.webhook_simulator import create_app as create_webhook_simulator
from tests.kit.credentials import as_actor, sms_adapter
from tests.kit.http import http_client
from tests.kit.infra import bound_socket, isolated_backends
from tests.kit.inprocess import RunningApp, _serve, make_settings
from tests.kit.sms_adapter import create_sms_adapter, push_urls
from tests.kit.waiting import eventually

# Fake numbers; test files are not scanned, logs and spans are.
CITIZEN = "+8613812340001"
CITIZEN_2 = "+8613812340002"
COMMUNITY = "community@150203001000"
POLICE = "police_station@150203001000"
UNLISTED = "housing_bureau@150203"
COMMUNITY_CONTACT = "+8613904711121"
COMMUNITY_HEAD = "+8613904711122"
POLICE_CONTACT = "+8613904711101"
CENTRE_LEADER = "+8613904719001"
COMMITTEE = "+8613904719002"
HOOK_SECRET = "community-hook-secret"
ROBOT_SECRET = "SEC-police-robot-secret"

CASE_ACCEPTED = "SMS_000001"
CASE_REPLIED = "SMS_000002"
CALLBACK = "SMS_000003"
DISPATCHED = "SMS_000004"


def registry(webhook_base: str) -> ContactRegistry:
    return ContactRegistry(
        units={
            COMMUNITY: UnitContacts(
                COMMUNITY,
                "白云路街道社区工作办公室",
                contact=(COMMUNITY_CONTACT,),
                head=(COMMUNITY_HEAD,),
                webhook=Webhook(f"{webhook_base}/hooks/community", HOOK_SECRET),
            ),
            POLICE: UnitContacts(
                POLICE,
                "白云路派出所",
                contact=(POLICE_CONTACT,),
                webhook=Webhook(
                    f"{webhook_base}/robot/send?access_token=police", ROBOT_SECRET, style="dingtalk"
                ),
            ),
        },
        escalation={"centre_leader": (CENTRE_LEADER,), "political_legal_committee": (COMMITTEE,)},
    )


@dataclass
class NotificationHub:
    settings: HubSettings
    apps: dict[str, RunningApp]
    out: list[Event] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.apps["notification"].url

    @property
    def runtime(self) -> ServiceRuntime:
        rt: ServiceRuntime = self.apps["notification"].app.state.runtime
        return rt

    @property
    def sender(self) -> Sender:
        sender: Sender = self.apps["notification"].app.state.sender
        return sender

    def sim(self, name: str = "sms") -> str:
        return self.apps[name].url

    async def publish(self, event: Event) -> None:
        connection = await connect(self.settings)
        try:
            publisher = Publisher(connection, self.settings)
            await publisher.start()
            await publisher.publish(event.to_json(), event.type, message_id=event.id)
        finally:
            await connection.close()

    async def sms(self, name: str = "sms", case_no: str | None = None) -> list[dict[str, Any]]:
        async with http_client() as client:
            items: list[dict[str, Any]] = (await client.get(f"{self.sim(name)}/_sim/received")).json()[
                "items"
            ]
        return [m for m in items if case_no is None or case_no in m["text"]]

    async def webhooks(self) -> dict[str, Any]:
        async with http_client() as client:
            doc: dict[str, Any] = (await client.get(f"{self.sim('webhook')}/_sim/received")).json()
            return doc

    async def post(self, app: str, path: str, **kwargs: Any) -> httpx.Response:
        """A direct call; to notification with the credential the gateway would send (the SMS
        adapter's for the provider's pushes)."""
        if app == "notification" and "headers" not in kwargs:
            pushed = path.startswith("/internal/v1/sms/")
            kwargs["headers"] = sms_adapter() if pushed else as_actor("notification")
        async with http_client() as client:
            return await client.post(f"{self.apps[app].url}{path}", timeout=30, **kwargs)

    async def rows(self, case_no: str | None = None) -> list[Any]:
        async with self.runtime.db.sessions() as session:
            query = select(deliveries).order_by(deliveries.c.created_at)
            if case_no is not None:
                query = query.where(deliveries.c.case_no == case_no)
            return list(await session.execute(query))

    def events(self, type_: str, case_no: str | None = None) -> list[Event]:
        return [e for e in self.out if e.type == type_ and (case_no is None or e.subject == case_no)]

    async def quiescent(self, timeout: float = 30) -> None:
        """No delivery pending or sending, no outbox row unpublished (twice, a moment apart)."""

        async def at_rest() -> bool:
            rows = await self.rows()
            async with self.runtime.db.sessions() as session:
                outbox = self.runtime.kit.outbox
                unpublished = list(
                    await session.execute(select(outbox.c.id).where(outbox.c.published_at.is_(None)))
                )
            return not unpublished and all(r.status not in ("pending", "sending") for r in rows)

        for _ in range(2):
            await eventually(at_rest, what="notification at rest", timeout=timeout, interval=0.1)
            await asyncio.sleep(0.3)


def provider_factory(
    primary: str, secondary: str
) -> Callable[[NotificationSettings, httpx.AsyncClient], list[SmsProvider]]:
    def build(settings: NotificationSettings, client: httpx.AsyncClient) -> list[SmsProvider]:
        return [
            AliyunSms(client, primary, settings.sms_access_key_id, settings.sms_access_key_secret),
            AliyunSms(
                client, secondary, settings.sms_access_key_id, settings.sms_access_key_secret, name="aliyun-b"
            ),
        ]

    return build


@contextlib.asynccontextmanager
async def notification_hub(
    backend: str, tmp_path: Path, settings_update: dict[str, Any] | None = None, **bootstrap_kwargs: Any
) -> AsyncIterator[NotificationHub]:
    """`providers=None` in `bootstrap_kwargs` builds them from settings (HUB_SMS_PROVIDERS) as in
    production; by default they are the two Aliyun simulators, primary then "aliyun-b"."""
    async with isolated_backends(backend) as (amqp_url, db_url):
        settings = make_settings(tmp_path, amqp_url, db_url).model_copy(update=settings_update or {})
        await asyncio.to_thread(migrate, settings)
        apps: dict[str, RunningApp] = {}
        hub = NotificationHub(settings, apps)
        consumer_conn = None
        try:
            secret, sign = settings.sms_access_key_secret, {settings.sms_sign_name}
            apps["sms"] = await _serve(create_sms_simulator(secret, sign))
            apps["sms_b"] = await _serve(create_sms_simulator(secret, sign))
            apps["webhook"] = await _serve(
                create_webhook_simulator({"community": HOOK_SECRET, "police": ROBOT_SECRET})
            )
            sock = bound_socket()
            port = sock.getsockname()[1]
            url = f"http://127.0.0.1:{port}"
            settings = settings.model_copy(update={"sms_url": apps["sms"].url, "notification_url": url})
            hub.settings = settings
            app = bootstrap(
                settings,
                providers=bootstrap_kwargs.pop(
                    "providers", provider_factory(apps["sms"].url, apps["sms_b"].url)
                ),
                contacts=bootstrap_kwargs.pop("contacts", registry(apps["webhook"].url)),
                **bootstrap_kwargs,
            )
            apps["notification"] = await _serve(app, sock)
            apps["sms_adapter"] = await _serve(create_sms_adapter(settings, url))
            await eventually(functools.partial(_ready, hub.runtime), what="notification broker", timeout=30)
            consumer_conn = await aio_pika.connect(amqp_url)
            channel = await consumer_conn.channel()
            queue = await channel.declare_queue(f"test.out.{uuid.uuid4().hex[:8]}", auto_delete=True)
            await queue.bind(settings.exchange, routing_key="#")

            async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                async with message.process():
                    hub.out.append(parse_event(message.body))

            await queue.consume(collect)
            async with http_client() as client:
                for name in ("sms", "sms_b"):
                    await client.post(
                        f"{apps[name].url}/_sim/config",
                        # Through the gateway's SMS adapter, as the provider pushes in production.
                        json=push_urls(apps["sms_adapter"].url, settings.sms_webhook_token),
                    )
            yield hub
        finally:
            for running in reversed(list(apps.values())):
                running.server.should_exit = True
            for running in apps.values():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(running.task, timeout=15)
            if consumer_conn is not None:
                await consumer_conn.close()


async def _ready(rt: ServiceRuntime) -> bool:
    return rt.broker_ready.is_set()


# --- events as intake and referral say them -------------------------------------------------------


def registered(
    hub: NotificationHub, case_no: str, phone: str | None = CITIZEN, colour: str = "blue"
) -> Event:
    cipher = hub.runtime.cipher
    data = CaseRegisteredV1(
        case_no=case_no,
        channel="window",
        request_type="complaint",
        category="noise",
        title="夜间施工噪声扰民",
        colour=colour,
        response_level="immediate",
        registered_at=datetime.now(UTC),
        reporter=ReporterContact(
            anonymous=phone is None,
            phone_enc=cipher.encrypt(phone, aad=reporter_phone_aad(case_no)) if phone else None,
            phone_hash=keyed_hash(hub.settings.hash_key, phone) if phone else None,
            sms_capable=phone is not None,
        ),
    )
    return Event(type=data.TYPE, source="hub/intake", subject=case_no, data=data.model_dump(mode="json"))


def dispatched(case_no: str, department: str = COMMUNITY, role: str = "lead", colour: str = "blue") -> Event:
    now = datetime.now(UTC)
    data = ReferralDispatchedV1(
        referral_id=str(uuid.uuid4()),
        case_no=case_no,
        department=department,
        department_name=department,
        role=role,
        colour=colour,
        category="noise",
        ack_due_at=now + timedelta(days=1),
        due_at=now + timedelta(days=3),
    )
    return Event(type=data.TYPE, source="hub/referral", subject=case_no, data=data.model_dump(mode="json"))


def referral_event(type_: str, case_no: str, data: dict[str, Any]) -> Event:
    return Event(type=type_, source="hub/referral", subject=case_no, data=data)


def case_no(n: int) -> str:
    return f"ZZ-20261122-{700000 + n:06d}"
