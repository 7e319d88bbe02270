"""MP4 bodies that are not the video paid for, and a synthetic body that still is one.

``[emulator:defect=KIND]`` serves a job's video spoiled in one way, so that a
client's verification of what it stored can be tested: too short, too small,
without a video track, or cut off inside its media data (with a Content-Length
that matches the cut body, so only the boxes tell). ``synthetic_head`` lets the
download benchmarks' N-byte bodies pass that same verification: a real moov
whose samples cover the filler exactly, nothing decodable behind it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ._h264 import H264Stream, picture_parameter_set, sequence_parameter_set
from ._images import DEFAULT_FPS
from ._mp4 import frame_timing, head, header_size
from ._scene import Scene

#: How long a ``short`` video lasts, whatever was paid for.
SHORT_SECONDS = 2.0
#: The size of a ``small`` video (or half of it, when that is the size paid for).
SMALL_SIZE = (640, 360)


def spoil(kind: str, width: int, height: int, seconds: float, render: Callable[[int, int, float], bytes]) -> bytes:
    """The job's video with the defect ``kind``; ``render(width, height, seconds)`` makes a sound one.

    Raises:
        ValueError: an unknown kind.
    """
    if kind == "short":
        return render(width, height, SHORT_SECONDS)
    if kind == "small":
        small = SMALL_SIZE if (width, height) != SMALL_SIZE else (SMALL_SIZE[0] // 2, SMALL_SIZE[1] // 2)
        return render(*small, seconds)
    sound = render(width, height, seconds)
    boxes = dict(_top_level(sound))
    if kind == "no_video":
        # The movie header alone: a moov without any track, the media data left orphaned.
        start, _ = boxes[b"moov"]
        mvhd_size = struct.unpack_from(">I", sound, start + 8)[0]
        moov = struct.pack(">I", 8 + mvhd_size) + b"moov" + sound[start + 8 : start + 8 + mvhd_size]
        before, after = sound[:start], sound[boxes[b"moov"][1] :]
        return before + moov + after
    if kind == "truncated_mdat":
        start, end = boxes[b"mdat"]
        return sound[: start + 8 + (end - start - 8) // 2]  # half the media data, the mdat header unchanged
    raise ValueError(f"unknown defect {kind!r}")


def synthetic_head(total: int, width: int, height: int, seconds: float, fps: int = DEFAULT_FPS) -> bytes | None:
    """The first bytes of a ``total``-byte MP4 of this size and length whose samples are the filler after them.

    None when ``total`` is too small to hold the boxes and one byte per frame.
    """
    timing = frame_timing(seconds, fps)
    # Real parameter sets for this size (cheap: nothing is encoded), no frames.
    sps = sequence_parameter_set(Scene(width, height, timing.frames, 0, fps))
    stream = H264Stream(sps, picture_parameter_set(), [])
    payload = total - header_size(stream, timing, width, height)
    if payload < timing.frames:
        return None
    share = payload // timing.frames
    sizes = [share] * (timing.frames - 1) + [payload - share * (timing.frames - 1)]
    return head(stream, timing, width, height, sizes)


def _top_level(data: bytes) -> list[tuple[bytes, tuple[int, int]]]:
    """(type, (start, end)) of each top-level box of a file this package muxed."""
    boxes, position = [], 0
    while position + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        boxes.append((kind, (position, position + size)))
        position += size
    return boxes
