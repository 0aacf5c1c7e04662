"""A grid report's attachments are checked whole before anything is stored (services/intake/attachments.py):
count, encoding, size, the type read from the content (not the name or the declared type), and the
virus-scan hook. Refusals are problem details in Chinese naming the attachment by position, never by
its file name."""

from __future__ import annotations

import base64
import hashlib

import pytest

from hub.contracts.http.grid import AttachmentIn
from hub.problems import Problem
from services.intake.attachments import EICAR_SIGNATURE, EicarScanner, NoScan, check_attachments, scanner_of
from services.intake.settings import IntakeSettings
from tests.kit.images import png

FILE_NAME = "王女士家门口漏水.png"  # a name that must never reach a problem, a log or a span


def item(content: bytes, content_type: str = "image/png") -> AttachmentIn:
    return AttachmentIn(
        file_name=FILE_NAME, content_type=content_type, content_base64=base64.b64encode(content).decode()
    )


def settings(**values: object) -> IntakeSettings:
    return IntakeSettings(env="test", **values)  # type: ignore[arg-type]


async def refused(given: list[AttachmentIn], status: int, type_: str, **values: object) -> Problem:
    scanner = EicarScanner() if values.pop("eicar", False) else NoScan()
    with pytest.raises(Problem) as caught:
        await check_attachments(given, settings(**values), scanner)
    problem = caught.value
    assert problem.status == status and problem.type.endswith(type_), problem.body()
    assert FILE_NAME not in repr(problem.body())  # by position, never by name
    return problem


async def test_a_photo_within_the_limits_is_taken_with_its_digest() -> None:
    content = png()
    [checked] = await check_attachments([item(content)], settings(), NoScan())
    assert checked.content == content and checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest() and checked.content_type == "image/png"


async def test_an_oversize_attachment_is_413_in_chinese() -> None:
    big = png(b"x" * 4096)
    problem = await refused(
        [item(png()), item(big)], 413, "/attachment-too-large", intake_attachment_max_bytes=2048
    )
    assert problem.title == "附件过大" and "2 KiB" in problem.detail
    assert problem.extra["errors"][0]["field"] == "attachments[1]"


async def test_the_type_is_read_from_the_content_not_the_declared_type() -> None:
    problem = await refused([item(b"just text, named .png")], 415, "/attachment-type")
    assert problem.title == "附件类型不支持"
    await refused([item(png(), "image/jpeg")], 415, "/attachment-type")  # declared ≠ content
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    await refused([item(gif, "image/gif")], 415, "/attachment-type")  # a type not configured


async def test_the_virus_scan_hook_refuses_the_eicar_signature() -> None:
    infected = png(EICAR_SIGNATURE)
    problem = await refused([item(infected)], 422, "/attachment-rejected", eicar=True)
    assert problem.title == "附件未通过病毒扫描"
    # No scanner configured: the hook says clean.
    assert await check_attachments([item(infected)], settings(), NoScan())
    assert isinstance(scanner_of(settings(intake_attachment_scanner="eicar")), EicarScanner)
    assert isinstance(scanner_of(settings()), NoScan)


async def test_too_many_attachments_and_bad_base64_are_422() -> None:
    await refused([item(png())] * 3, 422, "/attachment-count", intake_attachment_max_count=2)
    broken = AttachmentIn(file_name=FILE_NAME, content_type="image/png", content_base64="not base64!")
    await refused([broken], 422, "/attachment-encoding")
