"""Shared fixtures: in-memory span capture, fresh RabbitMQ vhosts and PostgreSQL databases per hub."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub.tracing import SecretsIdGenerator
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub

ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))
# Under pytest-xdist each worker is its own process: it writes its own log and span files, and only
# the controller clears the artifacts before the run and scans them after every worker has finished.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.fixture(scope="session", autouse=True)
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span of the in-process hubs, also written to a file for the personal-data scan.

    Autouse: OpenTelemetry takes the first global tracer provider only, so this one must be set before any
    test bootstraps a service (which would set its own) — whatever order a worker runs the tests in."""
    from hub.tracing import JsonLinesSpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "hub-tests"}), id_generator=SecretsIdGenerator()
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(
        SimpleSpanProcessor(JsonLinesSpanExporter(ARTIFACTS / f"spans-{WORKER}.jsonl"))
    )
    trace.set_tracer_provider(provider)
    yield exporter


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def hub(spans: InMemorySpanExporter, backend: str, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url)) as running,
    ):
        yield running


@pytest.fixture(scope="session", autouse=True)
def log_file() -> Iterator[Path]:
    """Every log record of the test process goes to a file the personal-data scan reads."""
    import logging

    path = ARTIFACTS / "logs" / f"pytest-process-{WORKER}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # As in the services (hubcli/main.py): httpx's INFO line is every request's full URL, and the
    # tests' own requests carry personal data where a test checks that the hub keeps it out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    yield path
    root.removeHandler(handler)
    handler.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    import shutil

    if _is_xdist_worker(session.config):
        return
    shutil.rmtree(ARTIFACTS / "logs", ignore_errors=True)
    for spans_file in ARTIFACTS.glob("spans*.jsonl"):
        spans_file.unlink()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Reliability target 6: no phone, ID number or reporter name in any log or exported span."""
    from tests.kit.pii_scan import scan_artifacts

    if _is_xdist_worker(session.config):
        return
    findings = scan_artifacts(ARTIFACTS)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"personal-data scan of {ARTIFACTS}/: {len(findings)} finding(s)")
        for f in findings[:20]:
            reporter.write_line(f"  {f.path}:{f.line_no} [{f.kind}] {f.excerpt}", red=True)
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
