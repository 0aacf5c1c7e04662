"""The monthly report (月度报表) as CSV or XLSX, with Chinese column headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

HEADERS = ("统计维度", "名称", "受理数", "派发数", "调解数", "办结数", "超期数", "办结率", "满意率")
DIMENSION_ZH = {"category": "按类别", "department": "按牵头部门", "street": "按街道", "total": "合计"}
_FIELDS = ("received", "dispatched", "mediated", "closed", "overdue")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def report_rows(sections: Sequence[tuple[str, list[dict[str, Any]]]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for dimension, items in sections:
        for item in items:
            rows.append(
                [DIMENSION_ZH.get(dimension, dimension), item["key"]]
                + [item[f] for f in _FIELDS]
                + [_percent(item["closure_rate"]), _percent(item["satisfaction_rate"])]
            )
    return rows


def to_csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 CSV correctly


def to_xlsx(rows: list[list[Any]], month: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = f"{month} 月度报表"
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
