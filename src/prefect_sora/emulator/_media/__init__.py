"""Real media for the Sora API emulator, made with the standard library alone.

Clients of the emulator download what they would from the real API: an MP4
that plays at the job's size and for its exact duration, a thumbnail and a
spritesheet. There is no ffmpeg here and the emulator takes no third-party
dependency, so the video is a hand-built H.264 stream (`_h264`) in a hand-built
MP4 (`_mp4`) showing a moving test card (`_scene`). Pillow is used for WebP and
JPEG when installed and never imported until an image is asked for.

Example:
    >>> from prefect_sora.emulator._media import parse_size, render_mp4
    >>> width, height = parse_size("1280x720")
    >>> mp4 = render_mp4(width, height, 4, seed=7)
    >>> mp4[4:8]
    b'ftyp'
"""

from __future__ import annotations

from functools import lru_cache

from ._defects import spoil, synthetic_head
from ._h264 import encode, pick_level
from ._images import DEFAULT_FPS, pillow_available, render_spritesheet, render_thumbnail
from ._mp4 import frame_timing, mux
from ._scene import MB, Scene

__all__ = [
    "parse_size",
    "pillow_available",
    "render_defective",
    "render_mp4",
    "render_spritesheet",
    "render_thumbnail",
    "synthetic_head",
]


def parse_size(size: str) -> tuple[int, int]:
    """Split an API size such as "1280x720" into (width, height).

    Raises:
        ValueError: if the text is not two positive integers joined by "x".
    """
    width, sep, height = size.strip().lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()) or not int(width) or not int(height):
        raise ValueError(f"size must look like '1280x720', got {size!r}")
    return int(width), int(height)


def render_mp4(width: int, height: int, seconds: float, *, seed: int = 0, fps: int = DEFAULT_FPS) -> bytes:
    """A playable H.264 MP4 of width x height lasting exactly `seconds`.

    The result is cached per argument set: the emulator serves the same few sizes
    over and over, and a 1920x1080 clip is a few megabytes of work.

    Args:
        width: Display width in pixels; must be even (4:2:0 chroma).
        height: Display height in pixels; must be even.
        seconds: Duration; any positive number (the API uses 4, 8 or 12).
        seed: Varies the colours and motion so that different jobs differ.
        fps: Frame rate.

    Returns:
        The MP4 file.

    Raises:
        ValueError: for odd or non-positive sizes, a frame too large for H.264,
            or a non-positive duration or frame rate.
    """
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"width and height must be positive and even, got {width}x{height}")
    pick_level(-(-width // MB) * -(-height // MB), fps)  # refuse a frame too large before painting it
    return _render_mp4(width, height, float(seconds), seed, fps)


def render_defective(width: int, height: int, seconds: float, defect: str, *, seed: int = 0) -> bytes:
    """The MP4 of a job whose prompt says ``[emulator:defect=KIND]``: not the video paid for.

    ``short`` lasts 2 s, ``small`` is 640x360, ``no_video`` has no video track and
    ``truncated_mdat`` is cut off halfway through its media data.

    Raises:
        ValueError: an unknown defect, or the sizes and durations `render_mp4` refuses.
    """
    return spoil(defect, width, height, float(seconds), lambda w, h, s: render_mp4(w, h, s, seed=seed))


@lru_cache(maxsize=16)
def _render_mp4(width: int, height: int, seconds: float, seed: int, fps: int) -> bytes:
    timing = frame_timing(seconds, fps)
    scene = Scene(width, height, timing.frames, seed, fps)
    return mux(encode(scene), timing, width, height)
