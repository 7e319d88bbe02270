"""Thumbnail and spritesheet images of the emulated clip.

The official API serves a WebP thumbnail and a JPEG spritesheet; Pillow (the
optional `media` extra) writes those. Without it the emulator still serves a
real image, a PNG written with zlib and struct, and says so in the content type.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from functools import lru_cache
from typing import Literal

from ._mp4 import frame_timing
from ._scene import MB, Scene

DEFAULT_FPS = 24
_CELL_LONG_SIDE = 160  # spritesheet cells: small, like the API's
_SHEET_COLUMNS = 4
_MAX_CELLS = 60


@lru_cache(maxsize=1)
def _pillow_importable() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def pillow_available() -> bool:
    """Whether Pillow can be imported, so WebP and JPEG can be written."""
    return _pillow_importable()


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")


def rasterize(scene: Scene, frame: int, width: int, height: int) -> list[bytes]:
    """Rows of packed RGB for `frame` scaled to width x height (nearest macroblock)."""
    paint = scene.painter(frame)
    # Runs of output columns that fall in the same macroblock column.
    runs: list[tuple[int, int]] = []
    for x in range(width):
        mb_x = x * scene.width // width // MB
        if runs and runs[-1][0] == mb_x:
            runs[-1] = (mb_x, runs[-1][1] + 1)
        else:
            runs.append((mb_x, 1))
    by_mb_row: dict[int, bytes] = {}
    rows = []
    for y in range(height):
        mb_y = y * scene.height // height // MB
        row = by_mb_row.get(mb_y)
        if row is None:
            row = b"".join(bytes(paint.colour(mb_x, mb_y)) * n for mb_x, n in runs)
            by_mb_row[mb_y] = row
        rows.append(row)
    return rows


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from packed rows, each given filter type 0 (None)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + row for row in rows), 6)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _encode(width: int, height: int, rows: list[bytes], pillow_format: Literal["WEBP", "JPEG"]) -> tuple[bytes, str]:
    if not pillow_available():
        return png(width, height, rows), "image/png"
    from PIL import Image  # optional extra, imported only when asked for

    image = Image.frombytes("RGB", (width, height), b"".join(rows))
    out = io.BytesIO()
    if pillow_format == "WEBP":
        image.save(out, format="WEBP", quality=80, method=0)  # the fastest effort: a third of the default's CPU
        return out.getvalue(), "image/webp"
    image.save(out, format="JPEG", quality=85)
    return out.getvalue(), "image/jpeg"


def render_thumbnail(width: int, height: int, *, seed: int = 0) -> tuple[bytes, str]:
    """The clip's first frame at width x height.

    Returns:
        The image body and its content type: "image/webp" with Pillow, else "image/png".
    """
    _check_size(width, height)
    scene = Scene(width, height, 1, seed, DEFAULT_FPS)
    return _encode(width, height, rasterize(scene, 0, width, height), "WEBP")


def spritesheet_layout(width: int, height: int, seconds: float) -> tuple[int, int, int, int, int]:
    """(cells, columns, rows, cell width, cell height): one cell per started second."""
    cells = max(1, min(_MAX_CELLS, math.ceil(seconds)))
    columns = min(cells, _SHEET_COLUMNS)
    scale = _CELL_LONG_SIDE / max(width, height)
    cell_w, cell_h = max(1, round(width * scale)), max(1, round(height * scale))
    return cells, columns, -(-cells // columns), cell_w, cell_h


def render_spritesheet(width: int, height: int, seconds: float, *, seed: int = 0) -> tuple[bytes, str]:
    """A grid of small frames sampled evenly across the clip, row by row.

    Returns:
        The image body and its content type: "image/jpeg" with Pillow, else "image/png".
    """
    _check_size(width, height)
    timing = frame_timing(seconds, DEFAULT_FPS)
    scene = Scene(width, height, timing.frames, seed, DEFAULT_FPS)
    cells, columns, rows, cell_w, cell_h = spritesheet_layout(width, height, seconds)
    blank = [bytes(3 * cell_w)] * cell_h
    images = [
        rasterize(
            scene,
            min(timing.frames - 1, (2 * i + 1) * timing.frames // (2 * cells)),
            cell_w,
            cell_h,
        )
        for i in range(cells)
    ]
    images += [blank] * (rows * columns - cells)
    sheet: list[bytes] = []
    for r in range(rows):
        band = images[r * columns : (r + 1) * columns]
        sheet.extend(b"".join(cell[y] for cell in band) for y in range(cell_h))
    return _encode(cell_w * columns, cell_h * rows, sheet, "JPEG")
