"""Read the format and size of an image from its header alone.

The API accepts an ``input_reference`` only as JPEG, PNG or WebP at exactly the
requested video size. The client checks that before any request, and the
emulator checks it as the service would; neither needs Pillow for it, so this
reads the few header bytes that carry the dimensions in each format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

ImageFormat = Literal["png", "jpeg", "webp"]
CONTENT_TYPES: dict[ImageFormat, Literal["image/png", "image/jpeg", "image/webp"]] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length field after them: TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says: its format and its size in pixels."""

    format: ImageFormat
    width: int
    height: int

    @property
    def size(self) -> str:
        """``WIDTHxHEIGHT``, as the API spells sizes."""
        return f"{self.width}x{self.height}"


def image_info(data: bytes) -> ImageInfo | None:
    """Format and size of a PNG, JPEG or WebP image; None for anything else or if truncated."""
    if data.startswith(_PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _sized(fmt: ImageFormat, width: int, height: int) -> ImageInfo | None:
    return ImageInfo(fmt, width, height) if width > 0 and height > 0 else None


def _png(data: bytes) -> ImageInfo | None:
    # The IHDR chunk must come first: length, "IHDR", width, height.
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return _sized("png", width, height)


def _jpeg(data: bytes) -> ImageInfo | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return _sized("jpeg", width, height)
        pos += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    kind, body = data[12:16], data[20:30]
    if kind == b"VP8 ":
        # Frame tag (3 bytes), start code, then 14-bit width and height.
        if len(body) < 10 or body[3:6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", body[6:10])
        return _sized("webp", width & 0x3FFF, height & 0x3FFF)
    if kind == b"VP8L":
        if len(body) < 5 or body[0] != 0x2F:
            return None
        bits = int.from_bytes(body[1:5], "little")
        return _sized("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if kind == b"VP8X":
        if len(body) < 10:
            return None
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return _sized("webp", width, height)
    return None
