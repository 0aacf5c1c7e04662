"""With HUB_OTLP_ENDPOINT set, every service process exports its spans over OTLP/HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.integration.test_walking_skeleton import CASE
from tests.kit.http import http_client
from tests.kit.infra import free_port, isolated_backends
from tests.kit.inprocess import make_settings
from tests.kit.processes import process_hub
from tests.kit.waiting import eventually


class Collector:
    """A loopback OTLP/HTTP receiver: keeps (service.name, trace id) of every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str]] = []
        self.app = FastAPI()

        @self.app.post("/v1/traces")
        async def traces(request: Request) -> Response:
            export = ExportTraceServiceRequest()
            export.ParseFromString(await request.body())
            for resource_spans in export.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        self.spans.append((attrs.get("service.name", ""), span.trace_id.hex()))
            return Response(b"", media_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    coll = Collector()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(coll.app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _started(server), what="collector start")
    yield coll, f"http://127.0.0.1:{port}/v1/traces"
    server.should_exit = True
    await task


async def _started(server: uvicorn.Server) -> bool:
    return server.started


async def _spans(coll: Collector) -> list[tuple[str, str]]:
    return coll.spans


async def test_spans_of_one_case_reach_the_collector_from_all_four_services(
    collector: tuple[Collector, str], tmp_path: Path
) -> None:
    coll, endpoint = collector
    async with (
        isolated_backends("sqlite") as (amqp_url, _),
        process_hub(
            make_settings(tmp_path, amqp_url, None, otlp_endpoint=endpoint), tmp_path / "logs"
        ) as hub,
    ):
        async with http_client() as client:
            response = await client.post(f"{hub.gateway}/api/v1/cases", json=CASE, timeout=30)
        trace_id = response.json()["trace_id"]
        services = {"hub-gateway", "hub-intake", "hub-referral", "hub-notification"}
        got = await eventually(
            lambda: _spans(coll),
            until=lambda spans: {s for s, t in spans if t == trace_id} >= services,
            what="spans of the case's trace from every service",
            timeout=30,
        )
        assert {s for s, t in got if t == trace_id} >= services
