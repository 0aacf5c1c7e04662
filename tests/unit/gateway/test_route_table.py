"""The gateway's route table (gateway/routes/table.py): one row per public route, from which the
routes and their permissions are both built. A broken row would open, hide or misroute an endpoint."""

from __future__ import annotations

from collections import Counter

from gateway.authorization import ROLES, Permissions, permissions
from gateway.routes.table import ROUTES


def test_each_route_is_declared_once_with_a_unique_operation_name() -> None:
    assert not [k for k, n in Counter((r.method, r.path) for r in ROUTES).items() if n > 1]
    assert not [k for k, n in Counter(r.name for r in ROUTES).items() if n > 1]
    assert all(r.path.startswith("/api/v1/") for r in ROUTES)


def test_each_row_names_known_roles_and_either_a_service_or_a_handler() -> None:
    for route in ROUTES:
        assert route.roles and route.roles <= set(ROLES), route.path
        assert (route.service is None) != (route.handler is None), route.path
        if route.service:
            # Every public parameter reaches the service's path, and nothing else is left to fill.
            target = route.internal_path
            assert target.startswith("/internal/v1/"), route.path
            assert sorted(route.parameters) == sorted(
                seg[1:-1] for seg in target.split("/") if seg.startswith("{")
            ), route.path


def test_a_path_matches_its_template_and_an_unknown_path_matches_nothing() -> None:
    table = permissions()
    found = table.match("/api/v1/cases/ZZ-20260101-000001/notes", "POST")
    assert found.template == "/api/v1/cases/{case_no}/notes"
    assert found.params == {"case_no": "ZZ-20260101-000001"}
    assert found.route is not None and found.route.own == "adapter_case"
    wrong_method = table.match("/api/v1/cases/ZZ-1/notes", "DELETE")
    assert wrong_method.template is not None and wrong_method.route is None  # 405, not 404
    assert table.match("/api/v1/cases/ZZ-1/notes/extra", "POST").template is None
    assert table.match("/api/v1/nothing-here", "GET").template is None


def test_roles_come_from_the_rows() -> None:
    table = Permissions(ROUTES)
    assert table.decide("POST", "/api/v1/cases/{case_no}/personal-data", "centre").allowed
    assert not table.decide("POST", "/api/v1/cases/{case_no}/personal-data", "ops").allowed
    assert table.decide("HEAD", "/api/v1/cases/{case_no}", "ops").allowed  # HEAD reads like GET
    assert not table.decide("GET", "/api/v1/not-a-route", "centre").allowed
