"""Fuzzing the gateway's one OpenAPI document with schemathesis, auth on (TARGETS.md reliability 4):
zero 5xx, and every 4xx is problem details (`application/problem+json` with type, title and the same
status), except Open311's XML format, whose errors are the spec's `<errors>` document.

Bounded and loopback only: HUB_FUZZ_EXAMPLES examples (positive and negative) per operation against
the in-process hub on 127.0.0.1, derandomized unless HUB_FUZZ_RANDOM is set. Each operation is called as a role the route table allows, so the
generated data reaches the handlers (a refused role would stop every example at the 403).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any
from xml.etree import ElementTree as ET

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from gateway.accounts.store import create_user
from gateway.authorization import ROLES, decide
from tests.kit.auth import auth_headers, authed_hub, create_client
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module

EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "12"))
# Same examples every run (a red CI run replays); HUB_FUZZ_RANDOM=1 explores new ones.
DERANDOMIZE = not os.environ.get("HUB_FUZZ_RANDOM")
OPEN311_POST = "/open311/v2/requests.{fmt}"


def _content_type(response: schemathesis.Response) -> str:
    for name, values in response.headers.items():
        if name.lower() == "content-type":
            return str(values[0] if isinstance(values, list) else values)
    return ""


def judge(path: str, response: schemathesis.Response) -> str | None:
    """What is wrong with this answer, if anything."""
    status = response.status_code
    if status >= 500:
        return "server error"
    if status < 400:
        return None
    content_type = _content_type(response)
    if path.startswith("/open311/") and content_type.startswith("text/xml"):
        root = ET.fromstring(response.content)  # noqa: S314 - our own server's answer, in a test
        return None if root.tag == "errors" and root.findtext("error/code") == str(status) else "bad <errors>"
    if not content_type.startswith("application/problem+json"):
        return f"4xx as {content_type or 'no content type'}, not problem+json"
    try:
        problem = response.json()
    except ValueError:
        return "problem+json that is not JSON"
    if not isinstance(problem, dict) or not {"type", "title", "status"} <= problem.keys():
        return "problem details without type, title and status"
    if problem["status"] != status:
        return f"problem status {problem['status']} on a {status} response"
    return None


def fuzz_operation(
    operation: schemathesis.APIOperation,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    api_key: str,
    calls: Counter[str],
) -> list[str]:
    method, path = operation.method.upper(), operation.path
    failures: list[str] = []
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        if path == OPEN311_POST and isinstance(case.body, dict) and case.body:
            case.body["api_key"] = api_key  # a real key, so the rest of the form is what is tested
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        calls[f"{response.status_code // 100}xx"] += 1
        wrong = judge(path, response)
        if wrong:
            sent = f"path={case.path_parameters} query={case.query} body={str(case.body)[:200]}"
            failures.append(
                f"{method} {path} → {response.status_code}: {wrong} ({sent}): {response.text[:300]}"
            )

    run()
    return failures


async def grid_worker(hub: InProcessHub) -> dict[str, str]:
    """A grid worker is a person (a named account bound to a grid), never an API client."""
    password = "fuzz-grid-password"
    await create_user(
        hub.runtime("gateway").db,
        "fuzz.grid",
        role="grid_worker",
        centre="150203001001",
        grid="150203001001001",
        password=password,
    )
    async with http_client(base_url=hub.gateway) as http:
        answer = await http.post("/api/v1/auth/login", json={"username": "fuzz.grid", "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def fuzz(doc: dict[str, Any], base_url: str, tokens: dict[str, dict[str, str]], api_key: str) -> list[str]:
    schema = schemathesis.openapi.from_dict(doc)
    session = requests.Session()
    failures: list[str] = []
    calls: Counter[str] = Counter()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the OpenAPI document has an invalid operation: {result.err()}")
            continue
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        role = next((r for r in ROLES if decide(method, path, r).allowed), "centre")
        failures += fuzz_operation(operation, base_url, session, tokens[role], api_key, calls)
    print(f"\nfuzzed {len(doc['paths'])} paths: {dict(calls)}; {len(failures)} failure(s)")
    return failures


async def test_fuzzing_the_openapi_gives_no_5xx_and_only_problem_details(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    tokens = {
        "centre": await auth_headers(hub, "centre"),
        "department": await auth_headers(hub, "department", department="fuzz@150203001000"),
        "adapter": await auth_headers(hub, "adapter", system="police110"),
        "ops": await auth_headers(hub, "ops"),
        "grid_worker": await grid_worker(hub),
    }
    key = await create_client(hub, "adapter", system="open311")
    async with http_client() as http:
        doc = (await http.get(f"{hub.gateway}/openapi.json")).json()
    assert hub.gateway.startswith("http://127.0.0.1:")  # loopback only
    failures = await asyncio.to_thread(fuzz, doc, hub.gateway, tokens, key.api_key)
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(sorted(set(failures))[:30])
