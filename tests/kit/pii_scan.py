"""Scan logs and exported spans for personal data: mobile numbers, resident ID numbers, test names.

Run over everything the test session wrote (test-artifacts/); a finding fails the session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Digits not glued to hex/digits on either side, so trace and span ids do not match by accident.
MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# Reporter names the test suite uses; a name in a log line means a reporter leaked. 测试用户甲 is
# tests/browser's; 孙督办 a staff account's display name (tests/integration/test_accounts.py); 张网格员 a
# grid worker's and 现场照片 the file name of a grid report's photo (tests/integration/test_grid_workers.py).
TEST_NAMES = ("王女士", "李先生", "张三", "赵六", "钱七", "测试用户甲", "孙督办", "张网格员", "现场照片")


@dataclass(frozen=True)
class Finding:
    path: Path
    line_no: int
    kind: str
    excerpt: str


def scan_text(path: Path, text: str) -> list[Finding]:
    findings = []
    for no, line in enumerate(text.splitlines(), 1):
        for kind, pattern in (("mobile", MOBILE), ("resident_id", RESIDENT_ID)):
            if pattern.search(line):
                findings.append(Finding(path, no, kind, line[:160]))
        for name in TEST_NAMES:
            if name in line:
                findings.append(Finding(path, no, "name", line[:160]))
    return findings


def scan_artifacts(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    if not root.exists():
        return findings
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and path.suffix in (".log", ".jsonl")
            and "sim-" not in path.name
            and path.stem != "sms"
        ):
            findings.extend(scan_text(path, path.read_text(encoding="utf-8", errors="replace")))
    return findings
