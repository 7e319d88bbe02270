"""The MP4 check: a stored video's boxes against what was paid for, without decoding anything.

The emulator's own videos (every size, every length) must pass with no problem; each
defect it can serve, and files crafted box by box, must be named for what they are.
"""

from __future__ import annotations

import io
import struct

import pytest

from prefect_sora._durable.verify import Expected, Mp4Info, parse_mp4, problems
from prefect_sora._models import Video, VideoRequest
from prefect_sora._pricing import TIER_SIZES
from prefect_sora.emulator._directives import DEFECTS
from prefect_sora.emulator._media import parse_size, render_defective, render_mp4, synthetic_head

ALL_SIZES = [size for sizes in TIER_SIZES.values() for size in sizes]


def info_of(data: bytes) -> Mp4Info:
    return parse_mp4(io.BytesIO(data), len(data))


# 18 clips, about 3 s of rendering on one core in all: every one is checked, no sample.
@pytest.mark.parametrize("seconds", [4, 8, 12])
@pytest.mark.parametrize("size", ALL_SIZES)
def test_every_sound_emulator_video_passes_with_no_problem(size: str, seconds: int) -> None:
    width, height = parse_size(size)
    data = render_mp4(width, height, seconds, seed=seconds)

    info = info_of(data)

    assert problems(info, Expected(seconds=seconds, size=size)) == []
    video = info.video
    assert video is not None and video.codec == "avc1"
    assert (video.width, video.height, video.entry_width, video.entry_height) == (width, height, width, height)
    assert video.seconds == info.seconds == seconds
    assert video.samples == 24 * seconds and video.overrun is None


@pytest.mark.parametrize(
    ("defect", "problem"),
    [
        ("short", "duration: expected 12 s (within 0.5 s), found 2.00 s"),
        ("small", "size: expected 720x1280, found 640x360"),
        ("no_video", "video track: expected one, found none (no tracks)"),
        ("truncated_mdat", "samples: expected every vide sample inside the file's"),
    ],
)
def test_each_defect_the_emulator_serves_is_named_with_what_was_expected_and_found(defect: str, problem: str) -> None:
    data = render_defective(720, 1280, 12, defect, seed=1)

    found = problems(info_of(data), Expected(seconds=12, size="720x1280"))

    assert len(found) == 1 and found[0].startswith(problem), found
    assert set(DEFECTS) == {"short", "small", "no_video", "truncated_mdat"}


def test_a_truncated_file_names_the_first_sample_past_its_end() -> None:
    data = render_mp4(1280, 720, 4, seed=2)
    info = info_of(data[: len(data) - 1])

    (found,) = problems(info, Expected(seconds=4, size="1280x720"))

    assert f"inside the file's {len(data) - 1:,} bytes" in found
    assert f"found sample 96 of 96 ending at byte {len(data):,}" in found


def test_the_paid_size_may_be_the_coded_one_and_a_missing_paid_value_is_not_checked() -> None:
    data = render_mp4(1280, 720, 4, seed=3)
    info = info_of(data)

    assert problems(info, Expected()) == []
    assert problems(info, Expected(seconds=4.4, size="1280x720")) == [], "within half a second"
    assert problems(info, Expected(seconds=4.6)) == ["duration: expected 4.6 s (within 0.5 s), found 4.00 s"]
    assert problems(info, Expected(size="720x1280")) == ["size: expected 720x1280, found 1280x720"]


def test_what_was_paid_for_is_read_from_a_request_or_a_video() -> None:
    assert Expected.of(VideoRequest(prompt="p", seconds="12", size="1792x1024")) == Expected(12.0, "1792x1024")
    video = Video.model_validate({"id": "video_1", "status": "completed", "seconds": "8", "size": "720X1280"})
    assert Expected.of(video) == Expected(8.0, "720x1280")
    assert Expected.of(Video.model_validate({"id": "video_2", "status": "completed"})) == Expected(None, None)


def test_a_synthetic_benchmark_body_passes_and_one_too_small_for_its_boxes_has_none() -> None:
    head = synthetic_head(3_000_000, 1080, 1920, 12.0)
    assert head is not None
    data = head + bytes(3_000_000 - len(head))

    assert problems(info_of(data), Expected(seconds=12, size="1080x1920")) == []
    assert synthetic_head(len(head) - 1, 1080, 1920, 12.0) is None


def test_an_ffmpeg_file_with_its_moov_at_the_end_passes() -> None:
    av = pytest.importorskip("av")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(96):
            for packet in stream.encode(av.VideoFrame(320, 240, "yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = buffer.getvalue()
    assert data.index(b"moov") > data.index(b"mdat"), "FFmpeg writes the moov last"

    info = info_of(data)

    assert problems(info, Expected(seconds=4, size="320x240")) == []
    assert problems(info_of(data[:-200]), Expected(seconds=4))[0].startswith("MP4 structure: expected readable boxes")


# -- files crafted box by box ---------------------------------------------------------------


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full(kind: bytes, *payload: bytes, version: int = 0) -> bytes:
    return box(kind, struct.pack(">I", version << 24), *payload)


def track(
    *,
    handler: bytes = b"vide",
    size: tuple[int, int] = (640, 480),
    sizes: list[int],
    offsets: list[int],
    runs: list[tuple[int, int]],
    wide: bool = False,
) -> bytes:
    width, height = size
    tkhd = full(b"tkhd", bytes(72), struct.pack(">II", width << 16, height << 16))
    mdhd = full(b"mdhd", bytes(16), struct.pack(">IQ", 1000, 4000), bytes(4), version=1)  # 4 s, 64-bit times
    entry = box(b"hvc1", bytes(24), struct.pack(">HH", width, height), bytes(50))
    chunk_offsets = (
        full(b"co64", struct.pack(f">I{len(offsets)}Q", len(offsets), *offsets))
        if wide
        else full(b"stco", struct.pack(f">I{len(offsets)}I", len(offsets), *offsets))
    )
    stbl = box(
        b"stbl",
        full(b"stsd", struct.pack(">I", 1), entry),
        full(b"stsz", struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes)),
        full(b"stsc", struct.pack(">I", len(runs)), *(struct.pack(">III", f, n, 1) for f, n in runs)),
        chunk_offsets,
    )
    mdia = box(b"mdia", mdhd, full(b"hdlr", bytes(4), handler, bytes(12)), box(b"minf", stbl))
    return box(b"trak", tkhd, mdia)


def movie(*tracks: bytes, media: int = 10_000) -> bytes:
    """ftyp, then a 64-bit-sized mdat of ``media`` bytes, then the moov: samples start at byte 32."""
    mvhd = full(b"mvhd", struct.pack(">IIII", 0, 0, 600, 2400), bytes(80))
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + media) + bytes(media)
    return box(b"ftyp", b"isom", bytes(4)) + mdat + box(b"moov", mvhd, *tracks)


def test_a_crafted_file_with_64_bit_boxes_and_offsets_and_several_chunk_runs_is_read_whole() -> None:
    # 6 samples in 3 chunks: chunk 1 holds 2, chunks 2 and 3 hold 2 each (one stsc run from chunk 2).
    sizes = [1000] * 6
    data = movie(track(sizes=sizes, offsets=[32, 3000, 6000], runs=[(1, 2), (2, 2)], wide=True))

    info = info_of(data)

    video = info.video
    assert video is not None and (video.codec, video.width, video.height, video.samples) == ("hvc1", 640, 480, 6)
    assert video.seconds == 4.0 and info.seconds == 4.0 and video.overrun is None
    assert problems(info, Expected(seconds=4, size="640x480")) == []


def test_a_chunk_that_runs_past_the_end_is_found_at_its_sample() -> None:
    data = movie(track(sizes=[1000] * 6, offsets=[32, 3000, 10_000], runs=[(1, 2)]))
    info = info_of(data)

    assert 10_000 < len(data) < 11_000
    assert info.video is not None and info.video.overrun == (5, 11_000)
    (found,) = problems(info, Expected())
    assert found.startswith("samples: expected every vide sample inside") and "found sample 5 of 6" in found


def test_a_file_with_only_a_sound_track_has_no_video_track() -> None:
    data = movie(track(handler=b"soun", sizes=[10], offsets=[32], runs=[(1, 1)]))

    assert problems(info_of(data), Expected(seconds=4)) == ["video track: expected one, found none (soun)"]


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"", "no moov box"),
        (box(b"ftyp", b"isom") + box(b"mdat", bytes(100)), "no moov box"),
        (box(b"ftyp", b"isom") + struct.pack(">I4s", 4, b"free"), "a b'free' box of 4 bytes at byte 12"),
        (box(b"moov", bytes(40))[:30], "a moov box of 48 bytes at byte 0, past the end of the file"),
        (box(b"moov", struct.pack(">I4s", 999, b"trak")), "a 'trak' box of 999 bytes at moov offset 0"),
        (box(b"moov", box(b"mvhd", bytes(10))), "a box too short for its fields"),
    ],
)
def test_broken_boxes_are_a_problem_never_an_exception(data: bytes, found: str) -> None:
    info = info_of(data)

    assert info.broken == found
    assert problems(info, Expected()) == [f"MP4 structure: expected readable boxes with a moov, found {found}"]


def test_no_prefix_of_a_real_file_raises() -> None:
    data = render_mp4(64, 48, 1, seed=4)
    for end in range(0, len(data), 7):
        assert problems(info_of(data[:end]), Expected(seconds=1, size="64x48")), end
    assert problems(info_of(data), Expected(seconds=1, size="64x48")) == []
