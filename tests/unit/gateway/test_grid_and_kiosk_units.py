"""Grid workers' accounts and kiosks at the edge, without a hub: a grid worker is bound to a grid under
a community; a kiosk (adapter system kiosk) files only on channel kiosk and names its terminal."""

from __future__ import annotations

import json

import pytest

from gateway.accounts.store import AccountError, validate_user_fields
from gateway.auth import Identity
from gateway.auth.roles import SYSTEM_CHANNELS, USER_ROLES
from gateway.auth.scoping import wrong_channel
from gateway.routes.table import ROUTES

COMMUNITY, GRID = "150203001001", "150203001001001"


def test_a_grid_worker_needs_a_grid_under_a_community() -> None:
    assert "grid_worker" in USER_ROLES
    validate_user_fields("zhang.grid", "grid_worker", COMMUNITY, None, "张网格", GRID)
    with pytest.raises(AccountError, match="--grid"):
        validate_user_fields("zhang.grid", "grid_worker", COMMUNITY, None, None)
    with pytest.raises(AccountError, match="community"):
        validate_user_fields("zhang.grid", "grid_worker", "150203", None, None, GRID)
    with pytest.raises(AccountError, match="only for role grid_worker"):
        validate_user_fields("wang.centre", "centre", COMMUNITY, None, None, GRID)
    with pytest.raises(AccountError):
        validate_user_fields("zhang.grid", "grid_worker", COMMUNITY, None, None, "no spaces allowed")


def test_the_grid_routes_are_the_grid_workers_alone() -> None:
    rows = {r.path: r for r in ROUTES if r.path.startswith("/api/v1/grid/")}
    assert set(rows) == {
        "/api/v1/grid/reports",
        "/api/v1/grid/tasks",
        "/api/v1/grid/tasks/{task_id}",
        "/api/v1/grid/tasks/{task_id}/visit",
    }
    assert all(r.roles == {"grid_worker"} for r in rows.values())
    assert not any("grid_worker" in r.roles for r in ROUTES if r.path.startswith("/api/v1/cases"))


def kiosk_body(**fields: object) -> bytes:
    return json.dumps({"channel": "kiosk", "source_ref": "KDL-COURT-01/000123", **fields}).encode()


def test_a_kiosk_files_on_its_channel_naming_its_terminal() -> None:
    kiosk = Identity(client_id="adapter-kiosk", role="adapter", system="kiosk")
    assert SYSTEM_CHANNELS["kiosk"] == "kiosk"
    assert wrong_channel(kiosk, kiosk_body()) is None
    other = wrong_channel(kiosk, kiosk_body(channel="window"))
    assert other is not None and other.status_code == 403
    for source in (None, "", "KDL-COURT-01", "/000123", "KDL COURT/1"):
        refused = wrong_channel(kiosk, kiosk_body(source_ref=source))
        assert refused is not None and refused.status_code == 422, source
        assert json.loads(refused.body)["title"] == "缺少终端编号"
    # Other adapters keep their rules (no terminal asked of them).
    court = Identity(client_id="adapter-court", role="adapter", system="court")
    assert wrong_channel(court, json.dumps({"channel": "court"}).encode()) is None
