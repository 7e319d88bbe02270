"""The test card every emulated video shows, laid out on the 16x16 macroblock grid.

The H.264 encoder can only paint whole macroblocks (I_PCM) and copy them
unchanged (P_Skip), so the picture is described per macroblock: colour bars,
a grey ramp, a progress bar that fills with time and a square that bounces
across the bars. The thumbnail and spritesheet rasterise the same description,
so the still images show exactly what the video does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RGB = tuple[int, int, int]

MB = 16  # luma samples per macroblock side

# 75% colour bars (white, yellow, cyan, green, magenta, red, blue), as on a SMPTE card.
_BARS: tuple[RGB, ...] = (
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
)
# Block colours chosen to stand out against every bar.
_BLOCKS: tuple[RGB, ...] = ((255, 128, 0), (0, 0, 0), (96, 0, 160), (255, 255, 255))
_TRACK: RGB = (40, 40, 40)
_FILL: RGB = (235, 235, 235)
_BLACK: RGB = (0, 0, 0)


def _bounce(step: int, span: int) -> int:
    """Position after `step` moves of one cell, reflecting off both ends of [0, span]."""
    if span <= 0:
        return 0
    phase = step % (2 * span)
    return phase if phase <= span else 2 * span - phase


@dataclass(frozen=True)
class Scene:
    """The card for one clip: its grid in macroblocks, its length in frames, its seed."""

    width: int
    height: int
    frames: int
    seed: int
    fps: int

    @property
    def mb_cols(self) -> int:
        return -(-self.width // MB)

    @property
    def mb_rows(self) -> int:
        return -(-self.height // MB)

    @property
    def bar_rows(self) -> int:
        return max(1, self.mb_rows * 2 // 3)

    @property
    def progress_row(self) -> int:
        # Second-to-last row: the last one is partly cropped away at 1080 lines.
        return max(0, self.mb_rows - 2)

    @property
    def block_size(self) -> int:
        return max(1, min(self.mb_cols, self.bar_rows) // 8)

    def _choices(self) -> tuple[tuple[RGB, ...], RGB, int, int]:
        rng = random.Random(self.seed)
        shift = rng.randrange(len(_BARS))
        bars = _BARS[shift:] + _BARS[:shift]
        span_x = self.mb_cols - self.block_size
        span_y = self.bar_rows - self.block_size
        start_x = rng.randrange(2 * span_x) if span_x > 0 else 0
        start_y = rng.randrange(2 * span_y) if span_y > 0 else 0
        return bars, rng.choice(_BLOCKS), start_x, start_y

    def block_origin(self, frame: int) -> tuple[int, int]:
        """Top-left macroblock of the bouncing square in `frame`."""
        _, _, start_x, start_y = self._choices()
        # One macroblock per step, twelve steps a second: smooth enough to read as
        # motion while keeping the intra-coded macroblocks per P frame few.
        step = frame // max(1, round(self.fps / 12))
        return (
            _bounce(start_x + step, self.mb_cols - self.block_size),
            _bounce(start_y + step, self.bar_rows - self.block_size),
        )

    def filled(self, frame: int) -> int:
        """Progress-bar macroblocks lit in `frame`: none in the first, all in the last."""
        if self.frames <= 1:
            return 0
        return frame * self.mb_cols // (self.frames - 1)

    def painter(self, frame: int) -> Painter:
        """A colour lookup for every macroblock of `frame`."""
        bars, block, _, _ = self._choices()
        bx, by = self.block_origin(frame)
        return Painter(self, frame, bars, block, bx, by, self.filled(frame))

    def changed(self, frame: int) -> list[tuple[int, int, RGB]]:
        """Macroblocks (x, y, colour) that differ from the previous frame, in raster order."""
        before, after = self.painter(frame - 1), self.painter(frame)
        cells = set(before.block_cells()) | set(after.block_cells())
        cells.update((x, self.progress_row) for x in range(before.lit, after.lit))
        out = [(x, y, after.colour(x, y)) for x, y in cells]
        return sorted(
            (c for c in out if c[2] != before.colour(c[0], c[1])),
            key=lambda c: (c[1], c[0]),
        )


@dataclass(frozen=True)
class Painter:
    """The colour of each macroblock in one frame of a scene."""

    scene: Scene
    frame: int
    bars: tuple[RGB, ...]
    block: RGB
    block_x: int
    block_y: int
    lit: int

    def block_cells(self) -> list[tuple[int, int]]:
        size = self.scene.block_size
        return [(self.block_x + dx, self.block_y + dy) for dy in range(size) for dx in range(size)]

    def colour(self, x: int, y: int) -> RGB:
        scene = self.scene
        size = scene.block_size
        if self.block_x <= x < self.block_x + size and self.block_y <= y < self.block_y + size:
            return self.block
        if y == scene.progress_row:
            return _FILL if x < self.lit else _TRACK
        if y > scene.progress_row:
            return _BLACK
        if y < scene.bar_rows:
            return self.bars[x * len(self.bars) // scene.mb_cols]
        grey = 255 * x // max(1, scene.mb_cols - 1)
        return (grey, grey, grey)


def to_ycbcr(rgb: RGB) -> tuple[int, int, int]:
    """BT.709 limited-range Y'CbCr, clamped to 16..235 so no sample is ever 0x00."""
    r, g, b = rgb
    y = 16 + (46.742 * r + 157.243 * g + 15.874 * b) / 256
    cb = 128 + (-25.765 * r - 86.674 * g + 112.439 * b) / 256
    cr = 128 + (112.439 * r - 102.129 * g - 10.310 * b) / 256
    return _clamp(y), _clamp(cb), _clamp(cr)


def _clamp(value: float) -> int:
    return min(235, max(16, round(value)))
