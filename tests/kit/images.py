"""Small real images for tests of attachments (a grid worker's photos): bytes whose magic numbers and
structure are a valid PNG, optionally carrying a marker (the EICAR signature) in a text chunk."""

from __future__ import annotations

import struct
import zlib


def png(extra: bytes = b"") -> bytes:
    """A 1×1 PNG; with `extra`, a tEXt chunk carrying it (the image stays valid)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    text = chunk(b"tEXt", b"Comment\x00" + extra) if extra else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + text + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
