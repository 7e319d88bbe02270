"""What the emulator reads from an uploaded source video: its frame size and duration, from the MP4 boxes.

An edit or extension may upload its source instead of naming a completed job (the official
SDK's `videos.edit` / `videos.extend` only manage uploads), and the new job takes that
video's size and length. Only the ISO media header is read (``moov/mvhd`` for the
duration, the first video ``trak/tkhd`` for the size), so any MP4 or MOV works, the
emulator's own among them; the rest of the file is never decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from prefect_sora.emulator._errors import APIError, invalid

_CONTAINERS = (b"moov", b"trak")


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """An uploaded video's frame size (``WxH``) and duration in seconds."""

    size: str
    seconds: float


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in `data[start:end]`."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1 and offset + 16 <= end:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _find(data: bytes, start: int, end: int, path: tuple[bytes, ...]) -> Iterator[tuple[int, int]]:
    for kind, payload, stop in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                yield payload, stop
            elif kind in _CONTAINERS:
                yield from _find(data, payload, stop, path[1:])


def read_video(data: bytes) -> VideoInfo | None:
    """The size and duration of an MP4/MOV, None when its header cannot be read."""
    if data[4:8] != b"ftyp":
        return None
    try:
        mvhd = next(_find(data, 0, len(data), (b"moov", b"mvhd")), None)
        if mvhd is None:
            return None
        start = mvhd[0]
        if data[start] == 1:
            scale, duration = struct.unpack_from(">IQ", data, start + 20)
        else:
            scale, duration = struct.unpack_from(">II", data, start + 12)
        for _, stop in _find(data, 0, len(data), (b"moov", b"trak", b"tkhd")):
            width, height = struct.unpack_from(">II", data, stop - 8)
            if width and height and scale:
                return VideoInfo(size=f"{width >> 16}x{height >> 16}", seconds=duration / scale)
    except (struct.error, IndexError):
        return None
    return None


def source_of_upload(data: bytes, sizes: dict[str, tuple[str, ...]]) -> tuple[str, str, str]:
    """(model, size, seconds) of a job derived from an uploaded video, per the profile's `sizes`.

    Raises:
        APIError: 400 when the file is not a readable video of a size the API makes.
    """
    info = read_video(data)
    if info is None:
        raise invalid(
            "Invalid 'video': the file must be an MP4 or MOV video.", param="video", code="invalid_video_format"
        )
    for model in ("sora-2", "sora-2-pro"):
        if info.size in sizes.get(model, ()):
            return model, info.size, str(max(1, round(info.seconds)))
    raise APIError(
        400,
        f"Invalid 'video': its frame size {info.size} is not one the API generates.",
        param="video",
        code="invalid_video_size",
    )
