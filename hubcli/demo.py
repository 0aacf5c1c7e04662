"""`hub demo`: the ten worked cases of the seed reports, fed through a running hub, and what happened.

Shows each case's number, category, colour with the rules that fired, the department it was
dispatched to and the acceptance SMS the (simulated) provider received. If no hub answers on the
gateway address, the demo starts one with the simulators in a temporary data directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from services.notification.settings import NotificationSettings

COLOURS = {"red": "bold red", "orange": "dark_orange", "yellow": "yellow", "blue": "blue"}


def worked_cases() -> list[dict[str, Any]]:
    text = resources.files("hubcli.data").joinpath("worked_cases.yaml").read_text(encoding="utf-8")
    cases: list[dict[str, Any]] = yaml.safe_load(text)["cases"]
    return cases


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running_hub(settings: NotificationSettings, console: Console) -> Iterator[str]:
    gateway = f"http://{settings.host}:{settings.gateway_port}"
    if _ready(gateway):
        yield gateway
        return
    console.print("no hub answers at " + gateway + ": starting one with the simulators…")
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as data_dir:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hubcli.main", "up", "--simulators", "--data-dir", data_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not _ready(gateway):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the hub did not start: run `hub up --simulators` to see why")
                time.sleep(0.5)
            yield gateway
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)


def run_demo(settings: NotificationSettings, console: Console) -> int:
    sms_url = f"http://127.0.0.1:{settings.sim_sms_port}/_sim/received"
    table = Table(title="十个典型案例 · ten worked cases from the seed reports", show_lines=True)
    for column in (
        "#",
        "事项编号 case",
        "类别 category",
        "风险 colour",
        "研判依据 rules fired",
        "交办 lead",
        "短信 SMS",
    ):
        table.add_column(column)
    with running_hub(settings, console) as gateway, httpx.Client(timeout=30) as client:
        posted = []
        for case in worked_cases():
            body = {
                **case["payload"],
                "source_ref": case["payload"].get("source_ref") or f"DEMO-{case['id']}",
            }
            response = client.post(f"{gateway}/api/v1/cases", json=body)
            if response.status_code not in (200, 201):
                console.print(f"[red]case {case['id']} refused: {response.text}[/red]")
                continue
            posted.append((case, response.json()))
        deadline = time.monotonic() + 30
        leads: dict[str, str] = {}
        texts: dict[str, str] = {}
        while time.monotonic() < deadline and len(texts) < len(posted):
            for _, registered in posted:
                detail = client.get(f"{gateway}/api/v1/cases/{registered['case_no']}").json()
                lead = next((r for r in detail.get("referrals", []) if r.get("role") == "lead"), None)
                if lead:
                    leads[registered["case_no"]] = lead.get("department_name") or lead["department"]
                elif detail.get("manual_reason"):
                    leads[registered["case_no"]] = "调度员人工分派 (manual queue)"
            with contextlib.suppress(httpx.HTTPError):
                for item in client.get(sms_url).json()["items"]:
                    texts[item["params"]["case_no"]] = item["text"]
            time.sleep(0.5)
        for case, registered in posted:
            case_no = registered["case_no"]
            reasons = "\n".join(
                r.get("description_zh", r.get("rule_id", "")) for r in registered["colour_reasons"]
            )
            colour = registered["colour"]
            table.add_row(
                str(case["id"]),
                case_no,
                registered["category"],
                f"[{COLOURS.get(colour, '')}]{colour}[/]",
                reasons,
                leads.get(case_no, "…"),
                texts.get(case_no, "(无/none)"),
            )
    console.print(table)
    console.print(f"Follow any case across every service: [bold]hub trace CASE_NO[/bold] (gateway {gateway})")
    return 0
