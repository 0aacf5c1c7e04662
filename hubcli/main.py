"""The `hub` command (API.md "Command line"): `app`, the console script's entry point."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.settings import GatewaySettings
from hub.config import SERVICES, Settings
from hub.serving import run_server
from hubcli import audit, calendar, clients, dlq, keys, ops, setup, sync, users
from hubcli.ports import Endpoint, PortPlan, PortUnavailable
from hubcli.supervisor import ProcessSpec, Supervisor, python_argv
from hubcli.terminal import console, read_settings

if TYPE_CHECKING:
    from hubcli.services import HubSettings

app = typer.Typer(help="综治中心事项流转平台 — the referral hub.", no_args_is_help=True, add_completion=False)
sim_app = typer.Typer(help="Loopback simulators of external systems.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(audit.app)  # `hub audit verify`, `hub pii rotate`
app.add_typer(clients.app, name="clients")  # `hub clients create`
app.add_typer(users.app, name="users")  # `hub users create USERNAME --role … --centre …`
app.add_typer(sync.app, name="sync")  # `hub sync reconcile|backfill`
app.add_typer(calendar.app, name="calendar")  # `hub calendar load FILE`
app.add_typer(keys.app, name="keys")  # `hub keys internal`
app.add_typer(setup.app, name="setup")  # `hub setup postgres-roles|rabbitmq-users`
app.add_typer(dlq.app, name="dlq")  # `hub dlq list|show|replay|resolve`
FD_HELP = "Serve on this inherited, already listening socket instead of binding a port (socket activation)"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), stream=sys.stdout, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def migrate() -> None:
    """Apply every service's database migrations (idempotent)."""
    from hubcli.services import MIGRATIONS

    settings = read_settings(Settings)
    for service in SERVICES:
        MIGRATIONS[service](settings)
        console().print(f"migrated [bold]{service}[/bold]")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="gateway | intake | referral | notification")],
    port: Annotated[int | None, typer.Option(help="Listen port (default from settings)")] = None,
    fd: Annotated[int | None, typer.Option(help=FD_HELP)] = None,
) -> None:
    """Run one service in this process (what `hub up` starts for each service)."""
    from hubcli.services import BOOTSTRAPS, SETTINGS

    if service not in BOOTSTRAPS:
        console().print(f"[red]unknown service {service!r}; choose one of {', '.join(SERVICES)}[/red]")
        raise typer.Exit(2)
    settings = read_settings(SETTINGS[service])
    _configure_logging(settings.log_level)
    fastapi_app = importlib.import_module(BOOTSTRAPS[service]).bootstrap(settings)
    run_server(
        fastapi_app,
        fd=fd,
        host=settings.host,
        port=port or settings.port_of(service),
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )


@sim_app.command("sms")
def sim_sms(
    port: Annotated[int | None, typer.Option(help="Default HUB_SIM_SMS_PORT")] = None,
    fd: Annotated[int | None, typer.Option(help=FD_HELP)] = None,
) -> None:
    """Alibaba Cloud SMS simulator on loopback; it pushes receipts and replies to the gateway."""
    from gateway.adapters.simkit import hub_url_of
    from gateway.adapters.sms import push_url
    from hubcli.services import HubSettings
    from services.notification.sms.simulator import create_app

    settings = read_settings(HubSettings)
    port = port or settings.sim_sms_port
    hub_url = hub_url_of(settings)
    console().print(f"SMS simulator (Aliyun Dysms) on http://127.0.0.1:{port}  — received: /_sim/received")
    run_server(
        create_app(
            settings.sms_access_key_secret,
            {settings.sms_sign_name},
            # The provider pushes to the public edge, which forwards to notification as the SMS adapter.
            receipt_url=push_url(hub_url, "receipts", settings.sms_webhook_token),
            inbound_url=push_url(hub_url, "inbound", settings.sms_webhook_token),
        ),
        fd=fd,
        host="127.0.0.1",
        port=port,
    )


@app.command()
def up(
    simulators: Annotated[bool, typer.Option("--simulators", help="Also run loopback simulators")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Where embedded data lives (HUB_DATA_DIR)")] = None,
    port: Annotated[int | None, typer.Option(help="Gateway port (HUB_GATEWAY_PORT)")] = None,
    replicas: Annotated[int, typer.Option(min=1, max=8, help="Processes per service")] = 1,
) -> None:
    """Run gateway, intake, referral and notification as separate processes (migrations first)."""
    from gateway.adapters.registry import SIMULATORS
    from hub.broker import ensure_broker
    from hubcli.services import HubSettings, migrate_all

    settings = read_settings(HubSettings, data_dir=data_dir, gateway_port=port)
    try:
        plan = plan_ports(settings, replicas, simulators)
    except PortUnavailable as exc:
        console().print(f"[bold red]cannot start:[/bold red] {exc}")
        raise typer.Exit(2) from None
    problem = ensure_broker(settings.amqp_url)
    if problem:
        plan.close()
        console().print(f"[bold red]RabbitMQ:[/bold red] {problem}")
        raise typer.Exit(1)
    migrate_all(settings)
    instance = settings.instance()
    env = {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_GATEWAY_PORT": str(settings.gateway_port),
        "HUB_INSTANCE_ID": instance,  # every process names this hub alike; another hub's are refused
    }
    specs: list[ProcessSpec] = []
    at = plan.endpoints
    if simulators:
        env["HUB_SMS_URL"] = at["sim-sms"].url
        specs.append(_served("sim-sms", ["sim", "sms"], at["sim-sms"], {}))
    # External systems' simulators (gateway/adapters/<system>/simulator.py); the adapters point at them.
    adapter_sims = SIMULATORS if simulators else ()
    for name, module, _port_setting in adapter_sims:
        endpoint = at[f"sim-{name}"]
        env[f"HUB_{name.upper()}_URL"] = endpoint.url
        argv = [sys.executable, "-m", module, "--port", str(endpoint.port), "--fd", str(endpoint.fd)]
        specs.append(ProcessSpec(f"sim-{name}", argv, dict(env), pass_fds=(endpoint.fd,)))
    for i in range(replicas):
        # Each gateway replica calls its own replica of each service; consumers of all replicas
        # compete on the same queues.
        replica = {s: at[_replica(s, i, replicas)] for s in SERVICES}
        urls = {f"HUB_{s.upper()}_URL": replica[s].url for s in SERVICES}
        for service in SERVICES:
            name = _replica(service, i, replicas)
            specs.append(_served(name, ["serve", service], replica[service], {**env, **urls}))
    console().print(
        f"[bold]综治中心事项流转平台[/bold] gateway http://{settings.host}:{settings.gateway_port}  "
        f"data {settings.data_dir.resolve()}  database {'PostgreSQL' if settings.database_url else 'SQLite'}  "
        f"instance {instance}"
    )
    console().print(
        "ports: " + "  ".join(f"{n} {e.port}" for n, e in at.items() if not n.startswith("gateway"))
    )
    if simulators:
        console().print(f"SMS simulator {at['sim-sms'].url}/_sim/received")
        for name, _module, _port_setting in adapter_sims:
            console().print(f"{name} simulator {at[f'sim-{name}'].url}/_sim/received")
    try:
        asyncio.run(Supervisor(specs, console()).run())
    finally:
        plan.close()


def _replica(service: str, i: int, replicas: int) -> str:
    return service if replicas == 1 else f"{service}-{i + 1}"


def _served(name: str, command: list[str], endpoint: Endpoint, env: dict[str, str]) -> ProcessSpec:
    """A `hub …` process serving on the socket `hub up` holds for it."""
    argv = python_argv(*command, "--port", str(endpoint.port), "--fd", str(endpoint.fd))
    return ProcessSpec(name, argv, env, pass_fds=(endpoint.fd,))


def plan_ports(settings: HubSettings, replicas: int, simulators: bool) -> PortPlan:
    """Bind every port of this hub before anything starts (hubcli/ports.py says which may move)."""
    from gateway.adapters.registry import SIMULATORS

    plan = PortPlan()
    fixed = settings.model_fields_set
    for i in range(replicas):
        for service in SERVICES:
            field = f"{service}_port"
            # The gateway's is the hub's address: always as set. Replica i is 1000 ports above the first.
            plan.bind(
                _replica(service, i, replicas),
                settings.host,
                settings.port_of(service) + 1000 * i,
                setting=f"HUB_{field.upper()}" + (" or --port" if service == "gateway" else ""),
                fixed=service == "gateway" or field in fixed,
            )
    if simulators:
        plan.bind(
            "sim-sms",
            "127.0.0.1",
            settings.sim_sms_port,
            setting="HUB_SIM_SMS_PORT",
            fixed="sim_sms_port" in fixed,
        )
        for name, _module, port_setting in SIMULATORS:
            plan.bind(
                f"sim-{name}",
                "127.0.0.1",
                getattr(settings, port_setting),
                setting=f"HUB_{port_setting.upper()}",
                fixed=port_setting in fixed,
            )
    return plan


@app.command()
def demo() -> None:
    """Feed the ten worked cases of the seed reports through the hub and show what happened."""
    from hubcli.demo import run_demo
    from services.notification.settings import NotificationSettings

    raise typer.Exit(run_demo(read_settings(NotificationSettings), console()))


@app.command()
def trace(
    case_no: str,
    gateway: Annotated[str | None, typer.Option(help="Gateway base URL")] = None,
    token: Annotated[str | None, typer.Option(envvar="HUB_API_TOKEN", help="Bearer token")] = None,
) -> None:
    """Print a case's timeline: every handoff with its wait, actor, service, trace id and span id."""
    ops.trace(read_settings(GatewaySettings), case_no, gateway, token)


@app.command()
def stalled(
    department: Annotated[str | None, typer.Option(help="Unit code or department type")] = None,
    colour: Annotated[str | None, typer.Option(help="red | orange | yellow | blue")] = None,
    street: Annotated[str | None, typer.Option(help="Street code (or its prefix)")] = None,
    min_overdue_minutes: Annotated[int | None, typer.Option(help="Only stalls at least this late")] = None,
    kind: Annotated[
        str | None, typer.Option(help="deadline | idle | outbox | dead_letter | adapter_delivery | sms")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
    gateway: Annotated[str | None, typer.Option(help="Gateway base URL")] = None,
    token: Annotated[str | None, typer.Option(envvar="HUB_API_TOKEN", help="Bearer token")] = None,
) -> None:
    """Stalled cases and referrals, worst first (GET /api/v1/ops/stalled)."""
    ops.stalled(
        read_settings(GatewaySettings),
        department=department,
        colour=colour,
        street=street,
        min_overdue_minutes=min_overdue_minutes,
        kind=kind,
        as_json=as_json,
        gateway=gateway,
        token=token,
    )


@app.command()
def bench(
    cases: Annotated[int, typer.Option(help="Cases to push end to end per run")] = 2000,
    runs: Annotated[int, typer.Option(help="Repetitions (medians are reported)")] = 3,
    record: Annotated[bool, typer.Option(help="Append the figures to benchmarks/RESULTS.md")] = True,
    database: Annotated[
        str, typer.Option(help="sqlite (files in a temporary directory) or postgresql (a fresh database)")
    ] = "sqlite",
    what: Annotated[str, typer.Option(help="A note for the recorded row (e.g. the setting tried)")] = "",
    latency_rate: Annotated[
        float | None,
        typer.Option(help="Paced rate for the latency run (default 150/s or half the throughput)"),
    ] = None,
    sustained: Annotated[
        bool,
        typer.Option(help="Also measure latency paced at the measured throughput (the highest sustained)"),
    ] = False,
) -> None:
    """End-to-end cases/s vs the raw 3-hop aio-pika pipeline with OTel, measured in the same run."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "e2e.py").exists():
        console().print("[red]hub bench runs from a source checkout (benchmarks/ is not installed)[/red]")
        raise typer.Exit(2)
    argv = [sys.executable, "-m", "benchmarks.e2e", "--cases", str(cases), "--runs", str(runs)]
    argv += ["--database", database, *(["--what", what] if what else [])]
    argv += ["--latency-rate", str(latency_rate)] if latency_rate is not None else []
    argv += ["--sustained"] if sustained else []
    raise typer.Exit(subprocess.call([*argv, *([] if record else ["--no-record"])], cwd=root))


def main() -> None:  # pragma: no cover - console entry
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    app()
