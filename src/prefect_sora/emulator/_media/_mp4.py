"""A minimal ISO BMFF (MP4) muxer for one H.264 video track.

Just the boxes a player needs (ftyp, moov, mdat) with the moov first, so a
client streaming the download can start before the last byte arrives. The
timing is exact: the durations in mvhd, tkhd and mdhd are the requested
seconds times one shared timescale, with a shorter last frame when the
seconds are not a whole number of frames.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from ._h264 import H264Stream

_UNITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_MAX_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Timing:
    """How many frames a clip has and how long each lasts, in ticks of `timescale`."""

    timescale: int
    frames: int
    delta: int
    last_delta: int

    @property
    def duration(self) -> int:
        return (self.frames - 1) * self.delta + self.last_delta


def frame_timing(seconds: float, fps: int) -> Timing:
    """Frames at `fps` covering exactly `seconds`, the last one cut short if need be.

    Raises:
        ValueError: if seconds is not a positive finite number or fps is not positive.
    """
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    # A millisecond-fine clock that is also a whole number of ticks per frame.
    delta = 1000
    timescale = fps * delta
    ticks = max(1, round(seconds * timescale))
    if ticks > _MAX_U32:
        raise ValueError(f"{seconds} s is too long for a 32-bit MP4 duration")
    frames = -(-ticks // delta)
    return Timing(timescale, frames, delta, ticks - (frames - 1) * delta)


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _avcc(stream: H264Stream) -> bytes:
    sps, pps = stream.sps, stream.pps
    return _box(
        b"avcC",
        bytes((1, sps[1], sps[2], sps[3], 0xFC | 3, 0xE0 | 1)),  # 4-byte NAL lengths, 1 SPS
        struct.pack(">H", len(sps)),
        sps,
        bytes((1,)),
        struct.pack(">H", len(pps)),
        pps,
    )


def _sample_entry(stream: H264Stream, width: int, height: int) -> bytes:
    name = b"prefect-sora emulator"
    return _box(
        b"avc1",
        bytes(6),  # reserved
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),  # pre_defined, reserved
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x480000, 0x480000),  # 72 dpi
        bytes(4),
        struct.pack(">H", 1),  # frame_count per sample
        bytes((len(name),)) + name.ljust(31, b"\x00"),
        struct.pack(">Hh", 0x18, -1),  # depth, pre_defined
        _avcc(stream),
    )


def _sample_table(stream: H264Stream, timing: Timing, sizes: list[int], width: int, height: int, offset: int) -> bytes:
    runs = [(timing.frames - 1, timing.delta), (1, timing.last_delta)]
    if timing.last_delta == timing.delta:
        runs = [(timing.frames, timing.delta)]
    runs = [run for run in runs if run[0]]
    return _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(stream, width, height)),
        _full_box(
            b"stts",
            0,
            0,
            struct.pack(">I", len(runs)),
            *(struct.pack(">II", count, delta) for count, delta in runs),
        ),
        _full_box(b"stss", 0, 0, struct.pack(">II", 1, 1)),  # only the IDR is a sync sample
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(sizes), 1)),  # one chunk
        _full_box(b"stsz", 0, 0, struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes)),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, offset)),
    )


def _moov(stream: H264Stream, timing: Timing, sizes: list[int], width: int, height: int, offset: int) -> bytes:
    scale, duration = timing.timescale, timing.duration
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIIIIH", 0, 0, scale, duration, 0x10000, 0x100),
        bytes(10),
        _UNITY_MATRIX,
        bytes(24),
        struct.pack(">I", 2),  # next_track_ID
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,  # enabled, in movie
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate_group, volume, reserved
        _UNITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    # 0x55C4 packs the language code "und" (undetermined) as three 5-bit letters.
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, scale, duration, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    minf = _box(
        b"minf",
        _full_box(b"vmhd", 0, 1, bytes(8)),
        _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))),
        _sample_table(stream, timing, sizes, width, height, offset),
    )
    return _box(b"moov", mvhd, _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf)))


def mux(stream: H264Stream, timing: Timing, width: int, height: int) -> bytes:
    """One MP4 file: ftyp, moov, then every frame length-prefixed in a single mdat chunk."""
    if len(stream.frames) != timing.frames:
        raise ValueError("one encoded frame per timed sample is required")
    samples = [struct.pack(">I", len(nal)) + nal for nal in stream.frames]
    return head(stream, timing, width, height, [len(sample) for sample in samples]) + b"".join(samples)


_FTYP = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")


def header_size(stream: H264Stream, timing: Timing, width: int, height: int) -> int:
    """The bytes before the first sample: ftyp, moov and the mdat header (the sizes' values do not matter)."""
    return len(_FTYP) + len(_moov(stream, timing, [0] * timing.frames, width, height, 0)) + 8


def head(stream: H264Stream, timing: Timing, width: int, height: int, sizes: list[int]) -> bytes:
    """ftyp, moov and the mdat header of a file whose samples, of ``sizes`` bytes, follow in one chunk."""
    # The chunk offset sits inside moov, but moov's size does not depend on its value.
    offset = header_size(stream, timing, width, height)
    if offset + sum(sizes) > _MAX_U32:
        raise ValueError("video too large for 32-bit chunk offsets")
    moov = _moov(stream, timing, sizes, width, height, offset)
    return b"".join([_FTYP, moov, struct.pack(">I", 8 + sum(sizes)), b"mdat"])
