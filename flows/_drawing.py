"""Small pictures for the Prefect UI, drawn with Pillow when it is installed (the ``media`` extra).

Pure functions on bytes: a thumbnail scaled down to fit an artifact, a batch's contact
sheet (a grid of numbered thumbnails, failed items a grey tile with a red X and their
status), and ``data:`` URIs. Without Pillow each says so by returning None; nothing
here raises for a missing Pillow or an image it cannot read.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

#: The largest image put in an artifact as a ``data:`` URI (Prefect stores it in its database).
MAX_DATA_URI_BYTES = 64_000
#: A thumbnail's longer side once scaled down; portrait stays portrait.
THUMB_LONG_SIDE = 320
#: At most this many tiles on one contact sheet (8 columns by 6 rows).
MAX_TILES = 48
SHEET_COLUMNS = 8
TILE = 128
_LABEL = 18


@dataclass(frozen=True)
class Tile:
    """One item on a contact sheet: its number, its status, and its thumbnail if it has one."""

    index: int
    status: str
    image: bytes | None = None


def pillow() -> ModuleType | None:
    """``PIL.Image`` if Pillow is installed (the ``media`` extra), else None."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def small_thumbnail(image: bytes, content_type: str) -> tuple[bytes, str] | None:
    """The image scaled to fit ``THUMB_LONG_SIDE`` as JPEG, or as given if small enough and Pillow is missing.

    None when the result would not fit ``MAX_DATA_URI_BYTES`` or the bytes are not an image.
    """
    pil = pillow()
    if pil is None:
        return (image, content_type) if len(image) <= MAX_DATA_URI_BYTES else None
    try:
        with pil.open(io.BytesIO(image)) as opened:
            picture = opened.convert("RGB")
    except (OSError, ValueError, SyntaxError):  # Pillow's ways of saying "not an image I can read"
        return None
    picture.thumbnail((THUMB_LONG_SIDE, THUMB_LONG_SIDE))  # keeps the aspect ratio
    for quality in (80, 60, 40):
        body = _jpeg(picture, quality)
        if len(body) <= MAX_DATA_URI_BYTES:
            return body, "image/jpeg"
    return None


def contact_sheet(tiles: Sequence[Tile]) -> bytes | None:
    """A JPEG grid of the first ``MAX_TILES`` tiles, each numbered; None without Pillow.

    A stored item shows its thumbnail fitted into its square; any other item a grey
    tile crossed in red with its status, so a failure stands out at a glance.
    """
    pil = pillow()
    if pil is None or not tiles:
        return None
    from PIL import ImageDraw

    shown = list(tiles)[:MAX_TILES]
    columns = min(SHEET_COLUMNS, len(shown))
    rows = math.ceil(len(shown) / columns)
    sheet = pil.new("RGB", (columns * TILE, rows * TILE), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for position, tile in enumerate(shown):
        left, top = (position % columns) * TILE, (position // columns) * TILE
        picture = _open(pil, tile.image) if tile.status == "stored" else None
        if picture is not None:
            picture.thumbnail((TILE - 4, TILE - 4))
            sheet.paste(picture, (left + (TILE - picture.width) // 2, top + (TILE - picture.height) // 2))
        else:
            draw.rectangle((left + 2, top + 2, left + TILE - 3, top + TILE - 3), fill=(128, 128, 128))
            if tile.status != "stored":  # a stored item whose thumbnail is missing is grey, not crossed
                red = (220, 30, 30)
                draw.line((left + 12, top + 12, left + TILE - 13, top + TILE - 13), fill=red, width=6)
                draw.line((left + 12, top + TILE - 13, left + TILE - 13, top + 12), fill=red, width=6)
            draw.text((left + 6, top + TILE - _LABEL - 2), tile.status, fill=(255, 255, 255))
        draw.rectangle((left, top, left + 8 * len(str(tile.index)) + 8, top + _LABEL), fill=(0, 0, 0))
        draw.text((left + 4, top + 3), str(tile.index), fill=(255, 255, 255))
    return _jpeg(sheet, 75)


def data_uri(image: bytes, content_type: str) -> str:
    """``data:image/...;base64,...``, which Prefect's image artifacts render."""
    return f"data:{content_type};base64,{base64.b64encode(image).decode('ascii')}"


def _open(pil: ModuleType, image: bytes | None) -> Any:
    if not image:
        return None
    try:
        with pil.open(io.BytesIO(image)) as opened:
            return opened.convert("RGB")
    except (OSError, ValueError, SyntaxError):
        return None


def _jpeg(picture: Any, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
