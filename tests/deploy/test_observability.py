"""deploy/prometheus (alert rules) and deploy/grafana (dashboard): they parse, are wired into the
Prometheus config and compose, and every query uses only metrics the hub services export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.kit.metrics_catalogue import exported_names, family_of

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = sorted((DEPLOY / "prometheus").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana").glob("*.json"))
METRIC = re.compile(r"\b(hub_[a-z0-9_]+)\b")


def metrics_in(expr: str) -> set[str]:
    return {family_of(m) for m in METRIC.findall(expr)}


def _known(name: str) -> bool:
    return name in exported_names() or f"{name}_total" in exported_names()


def _rules() -> list[dict[str, Any]]:
    found = []
    for path in RULES:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(doc, dict) and isinstance(doc.get("groups"), list), path
        for group in doc["groups"]:
            assert group["name"] and isinstance(group["rules"], list), path
            found.extend(group["rules"])
    return found


def test_there_are_alert_rules_and_a_dashboard() -> None:
    assert RULES and DASHBOARDS


def test_every_alert_rule_is_complete_and_uses_exported_metrics() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = metrics_in(rule["expr"])
        assert used, f"{rule['alert']} uses no hub metric"
        unknown = sorted(m for m in used if not _known(m))
        assert unknown == [], f"{rule['alert']}: {unknown} are not exported by any service"
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_the_rules_cover_what_issue_7_asks_to_watch() -> None:
    used = set().union(*(metrics_in(r["expr"]) for r in _rules()))
    for metric in (
        "hub_referrals_overdue",
        "hub_outbox_lag_seconds",
        "hub_dead_letter_depth",
        "hub_adapter_deliveries",
        "hub_notification_failed",
    ):
        assert metric in used, metric


def test_prometheus_loads_the_rules_compose_mounts() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    assert "/etc/prometheus/rules/*.yml" in config["rule_files"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert "./prometheus:/etc/prometheus/rules:ro" in compose["services"]["prometheus"]["volumes"]


def test_the_dashboard_parses_and_queries_only_exported_metrics() -> None:
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["title"] and dashboard["uid"] and dashboard["panels"]
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                used = metrics_in(target["expr"])
                assert used and all(_known(m) for m in used), (panel["title"], target["expr"])


def test_the_checker_catches_an_unknown_metric() -> None:
    assert not _known(next(iter(metrics_in("sum(hub_no_such_metric) > 0"))))
    assert metrics_in('hub_referral_time_in_state_seconds_bucket{le="1"}') == {
        "hub_referral_time_in_state_seconds"
    }
