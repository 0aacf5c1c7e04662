"""A request failing while the service's database does not answer is a 503 with Retry-After (try again),
not a 500; the same error with the database answering is the handler's own fault: 500 as before."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from hub.database_away import AnswerWhileDatabaseAway
from hub.problems import install_problem_handlers
from tests.kit.http import http_client


def app_with_database(answers: bool) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    async def database_answers() -> bool:
        return answers

    app.add_middleware(AnswerWhileDatabaseAway, database_answers=database_answers)

    @app.post("/cases")
    async def register() -> dict[str, str]:
        raise ConnectionRefusedError(111, "Connection refused")  # what asyncpg raises, server stopped

    @app.post("/bug")
    async def bug() -> dict[str, str]:
        raise ValueError("a fault of the handler")

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def call(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with http_client(transport=transport, base_url="http://hub") as client:
        return await client.get(path) if path == "/ok" else await client.post(path)


@pytest.mark.parametrize(
    ("path", "answers"),
    [("/cases", True), ("/cases", False), ("/bug", False)],
    ids=["connection refused", "connection refused, database away", "any error, database away"],
)
async def test_an_error_of_the_database_connection_or_with_it_away_is_a_503_saying_when_to_retry(
    path: str, answers: bool
) -> None:
    answer = await call(app_with_database(answers=answers), path)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith("/database-unavailable")


async def test_a_request_that_succeeds_is_untouched_and_a_fault_with_the_database_up_stays_a_500() -> None:
    app = app_with_database(answers=True)
    assert (await call(app, "/ok")).json() == {"status": "ok"}
    assert (await call(app, "/bug")).status_code == 500


def test_connection_errors_are_told_from_the_work_s_own() -> None:
    import asyncpg
    import httpx as client
    from sqlalchemy import exc as sa_exc

    from hub.db import is_connection_error

    starting = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    wrapped = sa_exc.DBAPIError("SELECT 1", None, Exception("adapter"))
    wrapped.__cause__ = starting
    assert is_connection_error(ConnectionRefusedError(111, "Connection refused"))
    assert is_connection_error(starting)
    assert is_connection_error(sa_exc.TimeoutError("QueuePool limit reached"))
    assert is_connection_error(sa_exc.DBAPIError("SELECT 1", None, Exception(), connection_invalidated=True))
    assert not is_connection_error(sa_exc.IntegrityError("INSERT", None, Exception("duplicate key")))
    assert not is_connection_error(ValueError("a bug"))
    other_service = client.ConnectError("refused")
    other_service.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert not is_connection_error(other_service)
