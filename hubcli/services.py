"""The four services as the command line runs them: each one's migrations and the module whose
`bootstrap(settings)` builds its application. The kit knows none of them; this table names them."""

from __future__ import annotations

from collections.abc import Callable

from gateway import migrations as gateway_migrations
from hub.config import SERVICES, ServiceName, Settings
from services.intake import migrations as intake_migrations
from services.notification import migrations as notification_migrations
from services.referral import migrations as referral_migrations

MIGRATIONS: dict[ServiceName, Callable[[Settings], None]] = {
    "gateway": gateway_migrations.migrate,
    "intake": intake_migrations.migrate,
    "referral": referral_migrations.migrate,
    "notification": notification_migrations.migrate,
}

# Imported only when a service is served: each pulls in its whole application.
BOOTSTRAPS: dict[ServiceName, str] = {
    "gateway": "gateway.main",
    "intake": "services.intake.main",
    "referral": "services.referral.main",
    "notification": "services.notification.main",
}


def migrate_all(settings: Settings) -> None:
    """Every service's migrations, in SERVICES order (idempotent)."""
    for service in SERVICES:
        MIGRATIONS[service](settings)
