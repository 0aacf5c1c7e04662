"""The four services as the command line runs them: each one's migrations, its settings class and the
module whose `bootstrap(settings)` builds its application. The kit knows none of them; this table
names them."""

from __future__ import annotations

from collections.abc import Callable

from gateway import migrations as gateway_migrations
from gateway.settings import GatewaySettings
from hub.config import SERVICES, ServiceName, ServiceSettings, Settings
from services.intake import migrations as intake_migrations
from services.intake.settings import IntakeSettings
from services.notification import migrations as notification_migrations
from services.notification.settings import NotificationSettings
from services.referral import migrations as referral_migrations

MIGRATIONS: dict[ServiceName, Callable[[Settings], None]] = {
    "gateway": gateway_migrations.migrate,
    "intake": intake_migrations.migrate,
    "referral": referral_migrations.migrate,
    "notification": notification_migrations.migrate,
}

# What each process reads at start (referral reads its HUB_REFERRAL_* table itself, in bootstrap).
SETTINGS: dict[ServiceName, type[Settings]] = {
    "gateway": GatewaySettings,
    "intake": IntakeSettings,
    "referral": ServiceSettings,
    "notification": NotificationSettings,
}

# Imported only when a service is served: each pulls in its whole application.
BOOTSTRAPS: dict[ServiceName, str] = {
    "gateway": "gateway.main",
    "intake": "services.intake.main",
    "referral": "services.referral.main",
    "notification": "services.notification.main",
}


class HubSettings(GatewaySettings, IntakeSettings, NotificationSettings):
    """Every process's settings at once, validated together: for what runs the whole hub on one
    machine (`hub up`, the test kit); an instance is the settings of each service."""


def migrate_all(settings: Settings) -> None:
    """Every service's migrations, in SERVICES order (idempotent)."""
    for service in SERVICES:
        MIGRATIONS[service](settings)
