"""Edge limits (issue 14): every integer query parameter of every list and page — the gateway's public
API and the services' internal ones — has an upper bound, so a huge `page` or `limit` is a 422 and never
reaches the database (a `page` past SQLite's integers was a 500, found by fuzzing /api/v1/referrals).

The apps are built as `main.bootstrap` builds them, not started: nothing connects anywhere."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.kit.inprocess import BOOTSTRAPS, make_settings

PAGING = {"limit", "page", "page_size"}


def _integer_query_parameters(spec: dict[str, Any]) -> list[tuple[str, str, str, list[Any]]]:
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                integers = [s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "integer"]
                if parameter["in"] == "query" and integers:
                    found.append(
                        (method.upper(), path, parameter["name"], [s.get("maximum") for s in integers])
                    )
    return found


@pytest.mark.parametrize("service", sorted(BOOTSTRAPS))
def test_every_integer_query_parameter_has_a_maximum(service: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "amqp://guest:guest@127.0.0.1:5672/unused", None)
    app = importlib.import_module(BOOTSTRAPS[service]).bootstrap(settings)
    parameters = _integer_query_parameters(app.openapi())
    print(f"\n{service}: " + ", ".join(f"{m} {p} {n}≤{mx[0]}" for m, p, n, mx in parameters))
    unbounded = [(m, p, n) for m, p, n, maxima in parameters if None in maxima]
    assert unbounded == []
    names = {name for _m, _p, name, _x in parameters}
    # The walk did find the lists (a schema shape it cannot read would pass vacuously).
    if service == "gateway":
        assert names >= PAGING
    if service == "referral":
        assert {"page", "page_size"} <= names
