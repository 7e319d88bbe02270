"""Check that a stored MP4 is the video that was paid for, from its boxes alone.

A download can be the right type and length and still not be the video paid
for: a 2-second file for a 12-second job, 640x360 for 720x1280, no video track,
or samples that point past the end of a file cut short upstream. This module
reads only the file's size and its ``moov`` box (never the media data, nothing
is decoded) and compares what it finds with what was paid for. The parser and
the checks are pure functions over a file-like object; ``check_stored`` is the
one place that opens a stored file through fsspec.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import fsspec

from prefect_sora._errors import VideoDefective
from prefect_sora._models import StoredVideo

#: How far the duration found may be from the seconds paid.
DURATION_TOLERANCE_S = 0.5
#: A moov bigger than this is not read: a real one is kilobytes, a hostile size would exhaust memory.
MAX_MOOV_BYTES = 64 << 20
#: More samples than a day of 120 fps video is a corrupt count, not a table to expand.
MAX_SAMPLES = 10_000_000


class _Malformed(ValueError):
    """The box structure cannot be read any further."""


@dataclass(frozen=True)
class Track:
    """What one ``trak`` says about itself; None where a box was missing."""

    handler: str
    codec: str | None = None
    width: int | None = None  # tkhd, the display size
    height: int | None = None
    entry_width: int | None = None  # the sample entry, the coded size
    entry_height: int | None = None
    seconds: float | None = None  # mdhd duration / timescale
    samples: int = 0
    #: The first sample (1-based) that ends past the file, and where it ends; None if all fit.
    overrun: tuple[int, int] | None = None


@dataclass(frozen=True)
class Mp4Info:
    """What the moov of one file says, and what could not be read."""

    file_size: int
    seconds: float | None = None  # mvhd
    tracks: tuple[Track, ...] = ()
    fragmented: bool = False
    broken: str | None = None

    @property
    def video(self) -> Track | None:
        """The first video track (handler ``vide``), if any."""
        return next((track for track in self.tracks if track.handler == "vide"), None)


@dataclass(frozen=True)
class Expected:
    """What was paid for: seconds and ``WIDTHxHEIGHT``; a None is not checked."""

    seconds: float | None = None
    size: str | None = None

    @classmethod
    def of(cls, paid: Any) -> Expected:
        """From anything with ``seconds`` and ``size``: a ``VideoRequest``, or a ``Video`` as the gateway reports it."""
        seconds, size = getattr(paid, "seconds", None), getattr(paid, "size", None)
        try:
            number = float(seconds) if seconds not in (None, "") else None
        except (TypeError, ValueError):
            number = None
        return cls(seconds=number, size=str(size).lower() if size else None)


def parse_mp4(handle: BinaryIO, file_size: int) -> Mp4Info:
    """Read the top-level boxes (headers only) and the whole ``moov`` of a file of ``file_size`` bytes."""
    try:
        moov = _read_moov(handle, file_size)
        if moov is None:
            return Mp4Info(file_size, broken="no moov box")
        return _movie(moov, file_size)
    except _Malformed as exc:
        return Mp4Info(file_size, broken=str(exc))
    except struct.error:
        return Mp4Info(file_size, broken="a box too short for its fields")


def problems(info: Mp4Info, expected: Expected) -> list[str]:
    """Each way the file differs from what was paid for, naming what was expected and what was found."""
    if info.broken is not None:
        return [f"MP4 structure: expected readable boxes with a moov, found {info.broken}"]
    video = info.video
    if video is None:
        handlers = ", ".join(track.handler for track in info.tracks) or "no tracks"
        return [f"video track: expected one, found none ({handlers})"]
    found = [*_duration(info, video, expected.seconds), *_size(video, expected.size)]
    if video.codec is None:
        found.append("codec: expected a sample entry in the video track, found none")
    if info.fragmented:
        return found  # the samples are in moof boxes, which are not read
    if video.samples == 0:
        found.append("samples: expected at least one video sample, found none")
    for track in info.tracks:
        if track.overrun is not None:
            number, end = track.overrun
            found.append(
                f"samples: expected every {track.handler} sample inside the file's {info.file_size:,} bytes, "
                f"found sample {number} of {track.samples} ending at byte {end:,}"
            )
    return found


def _duration(info: Mp4Info, video: Track, paid: float | None) -> list[str]:
    # The video track's own length first: the movie's may include other tracks.
    seconds = video.seconds or info.seconds
    if paid is None:
        return []
    if seconds is None:
        return [f"duration: expected {paid:g} s, found no duration"]
    if abs(seconds - paid) > DURATION_TOLERANCE_S:
        return [f"duration: expected {paid:g} s (within {DURATION_TOLERANCE_S} s), found {seconds:.2f} s"]
    return []


def _size(video: Track, paid: str | None) -> list[str]:
    # Either the display size (tkhd) or the coded size (sample entry) may carry the paid one.
    pairs = ((video.width, video.height), (video.entry_width, video.entry_height))
    sizes = [f"{width}x{height}" for width, height in pairs if width and height]
    if paid is None or paid in sizes:
        return []
    return [f"size: expected {paid}, found {sizes[0] if sizes else 'no size'}"]


async def check_stored(stored: StoredVideo, expected: Expected, storage_options: Mapping[str, Any] | None) -> None:
    """Read a stored video back through fsspec (its size and moov only) and compare it with what was paid for.

    Raises:
        VideoDefective: the video is not the one paid for; the file stays where it is.
    """
    found = await asyncio.to_thread(_read_back, stored.url, expected, storage_options)
    if found:
        raise VideoDefective(
            f"Stored video at {stored.url} is not what was paid for: {'; '.join(found)}",
            result=stored,
            problems=found,
            video_id=stored.video_id,
        )


def _read_back(url: str, expected: Expected, storage_options: Mapping[str, Any] | None) -> list[str]:
    fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    file_size = int(fs.size(path))
    with fs.open(path, "rb") as handle:
        return problems(parse_mp4(handle, file_size), expected)


def _read_moov(handle: BinaryIO, file_size: int) -> bytes | None:
    position = 0
    while position + 8 <= file_size:
        handle.seek(position)
        header = handle.read(16)
        size, kind = struct.unpack(">I4s", header[:8])
        start = 8
        if size == 1:
            size, start = struct.unpack(">Q", header[8:16])[0], 16
        elif size == 0:
            size = file_size - position
        if size < start:
            raise _Malformed(f"a {kind!r} box of {size} bytes at byte {position}")
        if kind == b"moov":
            if position + size > file_size:
                raise _Malformed(f"a moov box of {size:,} bytes at byte {position:,}, past the end of the file")
            if size > MAX_MOOV_BYTES:
                raise _Malformed(f"a moov box of {size:,} bytes, more than {MAX_MOOV_BYTES:,}")
            handle.seek(position + start)
            return handle.read(size - start)
        position += size
    return None


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each box in ``data[start:end]``."""
    end = len(data) if end is None else end
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise _Malformed(f"a {kind.decode('latin-1')!r} box of {size} bytes at moov offset {position}")
        yield kind, data[position + header : position + size]
        position += size


def _find(data: bytes, *path: bytes) -> bytes | None:
    for kind, payload in _boxes(data):
        if kind == path[0]:
            return payload if len(path) == 1 else _find(payload, *path[1:])
    return None


def _scaled(payload: bytes, offset_v0: int, offset_v1: int) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd payload, version 0 or 1."""
    if payload[0] == 1:
        return struct.unpack_from(">IQ", payload, offset_v1)
    return struct.unpack_from(">II", payload, offset_v0)


def _seconds(payload: bytes | None) -> float | None:
    if payload is None:
        return None
    timescale, duration = _scaled(payload, 12, 20)
    return duration / timescale if timescale else None


def _movie(moov: bytes, file_size: int) -> Mp4Info:
    tracks = tuple(_track(payload, file_size) for kind, payload in _boxes(moov) if kind == b"trak")
    fragmented = _find(moov, b"mvex") is not None
    return Mp4Info(file_size, seconds=_seconds(_find(moov, b"mvhd")), tracks=tracks, fragmented=fragmented)


def _track(trak: bytes, file_size: int) -> Track:
    hdlr = _find(trak, b"mdia", b"hdlr")
    handler = hdlr[8:12].decode("latin-1") if hdlr is not None and len(hdlr) >= 12 else "none"
    width = height = None
    tkhd = _find(trak, b"tkhd")
    if tkhd is not None:
        at = 88 if tkhd[0] == 1 else 76
        fixed_w, fixed_h = struct.unpack_from(">II", tkhd, at)
        width, height = fixed_w >> 16, fixed_h >> 16
    stbl = _find(trak, b"mdia", b"minf", b"stbl") or b""
    codec = entry_width = entry_height = None
    stsd = _find(stbl, b"stsd")
    if stsd is not None and len(stsd) >= 16:
        kind, entry = next(_boxes(stsd, 8), (None, b""))
        if kind is not None:
            codec = kind.decode("latin-1")
            if handler == "vide" and len(entry) >= 28:
                entry_width, entry_height = struct.unpack_from(">HH", entry, 24)
    sizes = _sample_sizes(stbl)
    return Track(
        handler=handler,
        codec=codec,
        width=width,
        height=height,
        entry_width=entry_width,
        entry_height=entry_height,
        seconds=_seconds(_find(trak, b"mdia", b"mdhd")),
        samples=len(sizes),
        overrun=_overrun(stbl, sizes, file_size),
    )


def _sample_sizes(stbl: bytes) -> list[int]:
    stsz = _find(stbl, b"stsz")
    if stsz is not None:
        fixed, count = struct.unpack_from(">II", stsz, 4)
        if count > MAX_SAMPLES:
            raise _Malformed(f"a sample count of {count:,}")
        return [fixed] * count if fixed else list(struct.unpack_from(f">{count}I", stsz, 12))
    stz2 = _find(stbl, b"stz2")
    if stz2 is None:
        return []
    field, count = stz2[7], struct.unpack_from(">I", stz2, 8)[0]
    if field == 16:
        return list(struct.unpack_from(f">{count}H", stz2, 12))
    if field == 8:
        return list(stz2[12 : 12 + count])
    if field != 4:
        raise _Malformed(f"an stz2 field size of {field} bits")
    nibbles = [n for byte in stz2[12 : 12 + (count + 1) // 2] for n in (byte >> 4, byte & 15)]
    return nibbles[:count]


def _overrun(stbl: bytes, sizes: list[int], file_size: int) -> tuple[int, int] | None:
    """The first sample that ends past the file (via stco/co64 and stsc), or None."""
    stco, co64 = _find(stbl, b"stco"), _find(stbl, b"co64")
    if stco is not None:
        offsets = list(struct.unpack_from(f">{struct.unpack_from('>I', stco, 4)[0]}I", stco, 8))
    elif co64 is not None:
        offsets = list(struct.unpack_from(f">{struct.unpack_from('>I', co64, 4)[0]}Q", co64, 8))
    else:
        offsets = []
    if not sizes:
        return None
    if not offsets:
        raise _Malformed("a track with samples and no chunk offsets")
    stsc = _find(stbl, b"stsc") or b"\x00" * 8
    runs = [struct.unpack_from(">III", stsc, 8 + 12 * i)[:2] for i in range(struct.unpack_from(">I", stsc, 4)[0])]
    if not runs:
        raise _Malformed("a track with samples and no sample-to-chunk table")
    sample = 0
    for run, (first_chunk, per_chunk) in enumerate(runs):
        last_chunk = runs[run + 1][0] - 1 if run + 1 < len(runs) else len(offsets)
        for chunk in range(first_chunk, last_chunk + 1):
            if chunk > len(offsets):
                raise _Malformed(f"the sample-to-chunk table names chunk {chunk} of {len(offsets)}")
            end = offsets[chunk - 1]
            for _ in range(per_chunk):
                if sample == len(sizes):
                    return None
                end += sizes[sample]
                sample += 1
                if end > file_size:
                    return sample, end
    if sample < len(sizes):
        raise _Malformed(f"the chunks hold {sample} samples, the size table {len(sizes)}")
    return None
