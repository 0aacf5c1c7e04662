"""The gateway's SMS adapter alone (gateway/adapters/sms.py), for tests that run notification without
the rest of the hub: the SMS simulators push to it and it forwards to notification with the SMS
adapter's internal credential, exactly as the gateway does."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import FastAPI

from gateway.adapters import sms
from gateway.settings import GatewaySettings
from gateway.upstream import PassThrough, Upstream
from hub.credentials import CredentialMinter
from hub.problems import install_problem_handlers
from tests.kit.credentials import gateway_sms_url
from tests.kit.http import http_client


def create_sms_adapter(settings: GatewaySettings, notification_url: str) -> FastAPI:
    client = http_client()
    app = FastAPI(title="the gateway's SMS adapter (test)")
    install_problem_handlers(app)
    app.state.runtime = SimpleNamespace(settings=settings)
    app.state.upstream = Upstream(
        client, {"notification": notification_url}, CredentialMinter(settings.internal_signing_key)
    )
    app.include_router(sms.router)
    app.router.on_shutdown.append(client.aclose)

    @app.exception_handler(PassThrough)
    async def _pass_through(_request: object, exc: PassThrough) -> object:
        return exc.to_response()

    return app


def push_urls(adapter_url: str, token: str) -> dict[str, str]:
    """The SMS simulator's /_sim/config pointing at the adapter."""
    return {
        "receipt_url": gateway_sms_url(adapter_url, "receipts", token),
        "inbound_url": gateway_sms_url(adapter_url, "inbound", token),
    }
