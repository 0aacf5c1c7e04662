"""Attachments of grid reports (photos): checked before anything is stored, then kept with the case.

Every check runs on the whole report before the case is registered, so a refused attachment leaves
nothing behind (no case, no file):
- at most `HUB_INTAKE_ATTACHMENT_MAX_COUNT` files (422 `attachment-count`);
- valid base64 (422 `attachment-encoding`);
- at most `HUB_INTAKE_ATTACHMENT_MAX_BYTES` decoded bytes each (413 `attachment-too-large`);
- the type read from the content's magic bytes (the `filetype` library; never the name or the declared
  type alone) is one of `HUB_INTAKE_ATTACHMENT_TYPES` and is the type declared (415 `attachment-type`);
- the virus-scan hook (`Scanner`) says clean (422 `attachment-rejected`).
Problems name the attachment by its position (`attachments[1]`), never by its file name; neither names
nor contents reach logs, spans or events.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Protocol

import filetype

from hub.contracts.http.grid import AttachmentIn
from hub.problems import Problem
from services.intake.settings import IntakeSettings

# The EICAR anti-virus test file's signature (https://www.eicar.org): every scanner reports it.
EICAR_SIGNATURE = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"


class Scanner(Protocol):
    """The virus-scan hook: a deployment plugs its scanner in here (ClamAV's clamd, a vendor's API)."""

    async def infected(self, content: bytes) -> bool: ...

    @property
    def name(self) -> str: ...


class NoScan:
    """The default: no scanner configured, every file counts as clean."""

    name = "none"

    async def infected(self, content: bytes) -> bool:
        return False


class EicarScanner:
    """Refuses the EICAR test signature: proves the hook is wired (a deployment's smoke test, the tests)."""

    name = "eicar"

    async def infected(self, content: bytes) -> bool:
        return EICAR_SIGNATURE in content


def scanner_of(settings: IntakeSettings) -> Scanner:
    return EicarScanner() if settings.intake_attachment_scanner == "eicar" else NoScan()


@dataclass(frozen=True)
class CheckedAttachment:
    file_name: str
    content_type: str
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def _refuse(status: int, type_: str, title: str, detail: str, field: str) -> Problem:
    return Problem(status, title, detail, type_=type_, errors=[{"field": field, "message": detail}])


async def check_attachments(
    given: list[AttachmentIn], settings: IntakeSettings, scanner: Scanner
) -> list[CheckedAttachment]:
    """All of a report's attachments decoded and checked, or the first problem (nothing stored)."""
    limit = settings.intake_attachment_max_count
    if len(given) > limit:
        raise _refuse(
            422,
            "attachment-count",
            "附件过多",
            f"每次上报最多 {limit} 个附件，收到 {len(given)} 个",
            "attachments",
        )
    allowed = set(settings.intake_attachment_types)
    max_bytes = settings.intake_attachment_max_bytes
    checked: list[CheckedAttachment] = []
    for i, item in enumerate(given):
        field = f"attachments[{i}]"
        if len(item.content_base64) > 4 * (max_bytes // 3 + 1) + 4:  # too large before decoding it
            raise _too_large(field, max_bytes)
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise _refuse(
                422, "attachment-encoding", "附件编码错误", f"第 {i + 1} 个附件不是有效的 base64 内容", field
            ) from None
        if len(content) > max_bytes:
            raise _too_large(field, max_bytes)
        if not content:
            raise _refuse(422, "attachment-encoding", "附件为空", f"第 {i + 1} 个附件没有内容", field)
        sniffed = filetype.guess_mime(content)
        declared = item.content_type.lower()
        if sniffed not in allowed or declared != sniffed:
            kinds = "、".join(sorted(allowed))
            raise _refuse(
                415,
                "attachment-type",
                "附件类型不支持",
                f"第 {i + 1} 个附件的内容不是允许的类型（允许: {kinds}；声明的类型须与内容一致）",
                field,
            )
        if await scanner.infected(content):
            raise _refuse(
                422,
                "attachment-rejected",
                "附件未通过病毒扫描",
                f"第 {i + 1} 个附件被病毒扫描拒绝，未保存",
                field,
            )
        checked.append(
            CheckedAttachment(item.file_name, sniffed, content, hashlib.sha256(content).hexdigest())
        )
    return checked


def _too_large(field: str, max_bytes: int) -> Problem:
    return _refuse(
        413,
        "attachment-too-large",
        "附件过大",
        f"单个附件不能超过 {max_bytes // 1024} KiB（{max_bytes} 字节）",
        field,
    )
