"""The citizen form's QR code (码上监督) for a centre, printable from the console: segno (a maintained,
dependency-free QR encoder) makes SVG for print and PNG for download. Error correction M (15%): a
poster on a wall survives some dirt; the URL stays short enough for a small symbol."""

from __future__ import annotations

import functools
import io

import segno


@functools.lru_cache(maxsize=256)
def qr_svg(url: str, title: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", scale=10, border=4, title=title, xmldecl=True, nl=True
    )
    return out.getvalue()


@functools.lru_cache(maxsize=256)
def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=12, border=4)
    return out.getvalue()


def report_url(public_base: str, centre_code: str) -> str:
    return f"{public_base.rstrip('/')}/report/{centre_code}"
