"""Edge limits, bodies (issue 14): the gateway refuses a body over its path's limit before reading it
whole — a declared Content-Length at once, a streamed body as soon as it passes the limit — with 413
problem details, and closes the connection instead of reading the rest.

The gateway runs alone here (a real uvicorn server on loopback, its own database and vhost): nothing in
these tests reaches a service.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.adapters.hotline12345.simulator import work_order
from gateway.adapters.security import signed_headers
from gateway.adapters.simkit import SimState
from gateway.main import bootstrap
from gateway.settings import GatewaySettings
from hubcli.services import HubSettings, migrate_all
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import _serve, make_settings

pytestmark = pytest.mark.integration

MIB = 1 << 20
CHUNK = 64 * 1024
WEBHOOK = "/adapters/hotline12345/work-orders"


@asynccontextmanager
async def gateway_alone(tmp_path: Path, **extra: Any) -> AsyncIterator[tuple[str, GatewaySettings]]:
    async with isolated_backends("sqlite") as (amqp_url, db_url):
        # Validated as a whole, so production's checks run on production settings.
        settings = HubSettings(**{**make_settings(tmp_path, amqp_url, db_url).model_dump(), **extra})
        await asyncio.to_thread(migrate_all, settings)
        running = await _serve(bootstrap(settings))
        try:
            yield running.url, settings
        finally:
            running.server.should_exit = True
            await asyncio.wait_for(running.task, timeout=15)


def _is_413_problem(response: httpx.Response, limit: int) -> dict[str, Any]:
    assert response.status_code == 413, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["connection"] == "close"
    problem: dict[str, Any] = response.json()
    assert problem["title"] == "请求体过大"
    assert problem["type"].endswith("/payload-too-large")
    assert problem["status"] == 413 and problem["limit"] == limit
    assert str(limit) in problem["detail"]
    return problem


async def _read_answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def _stream_until_answered(gateway: str, body: AsyncIterator[bytes]) -> tuple[bytes, int]:
    """POST `body` chunked, reading the answer while sending (as curl and browsers do): stop sending
    when the answer comes. The answer's bytes and how many body bytes were sent before it."""
    host, port = gateway.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST {WEBHOOK} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    answer = asyncio.create_task(_read_answer(reader))
    sent = 0
    try:
        async for chunk in body:
            if answer.done():
                break
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()  # waits while the server is not reading
            # The server shares this event loop: yield to it after each chunk, as a client in its own
            # process would run alongside (drain() alone yields only once the socket buffers are full).
            await asyncio.sleep(0)
            sent += len(chunk)
    except ConnectionError:
        pass  # the server closed the connection under the upload
    raw = await asyncio.wait_for(answer, timeout=10)
    writer.close()
    return raw, sent


async def test_a_10_mib_streamed_webhook_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    async with gateway_alone(tmp_path) as (gateway, settings):
        limit = settings.adapter_max_body_bytes
        yielded = 0

        async def ten_mib() -> AsyncIterator[bytes]:
            nonlocal yielded
            chunk = b" " * CHUNK  # one buffer, yielded again and again: the client holds 64 KiB
            for _ in range(10 * MIB // CHUNK):
                yielded += len(chunk)
                yield chunk

        tracemalloc.start()
        try:
            raw, sent = await _stream_until_answered(gateway, ten_mib())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        head, _, body = raw.partition(b"\r\n\r\n")
        print(
            f"\nstreamed 10 MiB webhook: 413 after {yielded} bytes yielded ({sent} sent); peak {peak} bytes traced"
        )
        assert head.startswith(b"HTTP/1.1 413"), raw[:200]
        assert b"connection: close" in head.lower()
        problem = json.loads(body)
        assert problem["title"] == "请求体过大" and problem["limit"] == limit
        assert problem["type"].endswith("/payload-too-large")
        # The server read a little past the limit and answered: the upload stopped far below 10 MiB
        # (what was sent beyond the limit sat in loopback socket buffers, never read).
        assert yielded < 2 * MIB, yielded
        # Memory stays flat: the whole process (the gateway and this client) never held the body.
        assert peak < 3 * MIB, peak


async def test_an_httpx_upload_of_10_mib_is_cut_short(tmp_path: Path) -> None:
    """httpx sends the whole body before it reads any answer, so it cannot see the early 413: the
    server's closing the connection ends its upload with a transport error, far below 10 MiB."""
    async with gateway_alone(tmp_path) as (gateway, _settings):
        yielded = 0

        async def ten_mib() -> AsyncIterator[bytes]:
            nonlocal yielded
            chunk = b" " * CHUNK
            for _ in range(10 * MIB // CHUNK):
                yielded += len(chunk)
                yield chunk

        async with http_client() as client:
            try:
                response = await client.post(
                    gateway + WEBHOOK, content=ten_mib(), headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError:
                pass
            else:
                assert response.status_code == 413, response.text
        print(f"\nhttpx: {yielded} bytes yielded of 10 MiB")
        assert yielded < 8 * MIB, yielded


async def test_a_declared_10_mib_body_is_refused_with_nothing_read(tmp_path: Path) -> None:
    async with gateway_alone(tmp_path) as (gateway, settings):
        host, port = gateway.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        # Headers only: not one byte of the announced 10 MiB is ever sent, and the answer still comes.
        writer.write(
            f"POST {WEBHOOK} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * MIB}\r\n\r\n".encode()
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)  # until the server closes
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"connection: close" in head.lower()
        problem = json.loads(body)
        assert problem["title"] == "请求体过大" and problem["limit"] == settings.adapter_max_body_bytes


async def test_a_legitimate_push_of_the_largest_kind_is_within_the_webhook_limit(tmp_path: Path) -> None:
    """The largest fields of a 12345 work order, in escaped JSON: far below 256 KiB, and not refused."""
    async with gateway_alone(tmp_path) as (gateway, settings):
        order = work_order(SimState("tests", "unused"))
        order.update(content="很" * 5000, title="题" * 200, address="址" * 300)
        body = json.dumps(order).encode()  # ensure_ascii: six bytes a character
        assert len(body) < settings.adapter_max_body_bytes // 4
        headers = signed_headers(settings.hotline12345_webhook_secret, body)
        async with http_client() as client:
            response = await client.post(gateway + WEBHOOK, content=body, headers=headers)
        assert response.status_code != 413, response.text


@pytest.mark.parametrize(
    ("path", "content_type", "setting"),
    [
        ("/api/v1/auth/token", "application/x-www-form-urlencoded", "auth_max_body_bytes"),
        ("/open311/v2/requests.json", "application/x-www-form-urlencoded", "open311_max_body_bytes"),
        ("/api/v1/cases", "application/json", "max_body_bytes"),
    ],
)
async def test_oversized_token_open311_and_api_bodies_get_413_problem_details(
    tmp_path: Path, path: str, content_type: str, setting: str
) -> None:
    async with gateway_alone(tmp_path) as (gateway, settings):
        limit: int = getattr(settings, setting)
        over = b"a=" + b"b" * limit
        async with http_client() as client:
            declared = await client.post(gateway + path, content=over, headers={"Content-Type": content_type})
            _is_413_problem(declared, limit)

            async def streamed() -> AsyncIterator[bytes]:
                for i in range(0, len(over), 4096):
                    yield over[i : i + 4096]

            chunked = await client.post(
                gateway + path, content=streamed(), headers={"Content-Type": content_type}
            )
            _is_413_problem(chunked, limit)
            # Just within the limit the same path answers as usual (whatever its verdict on the content).
            within = await client.post(
                gateway + path, content=over[:limit], headers={"Content-Type": content_type}
            )
            assert within.status_code != 413, within.text
