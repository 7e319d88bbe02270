"""The emulator's media: MP4s that FFmpeg (through PyAV) plays, real images, header probing.

The video is checked with an independent decoder, not with our own reading of
it: PyAV ships FFmpeg, which must open every size and duration the API offers,
decode every frame without a single warning and show a picture that moves.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.logging
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageChops

from prefect_sora._images import ImageInfo, image_info
from prefect_sora.emulator import _media as media
from prefect_sora.emulator._media import (
    _h264,
    _images,
    _scene,
    parse_size,
    pillow_available,
    render_mp4,
    render_spritesheet,
    render_thumbnail,
)

PACKAGE = Path(media.__file__).parent
SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"]
FPS = 24


@contextmanager
def ffmpeg_warnings() -> Iterator[list[tuple[int, str, str]]]:
    """Collect FFmpeg's warnings and errors from every thread (a concealed error is one)."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture(False) as logs:
            yield logs
    finally:
        av.logging.set_level(previous)


def luma(frame: av.VideoFrame) -> bytes:
    """The visible Y plane of a decoded frame, without the row padding."""
    plane = frame.planes[0]
    data = bytes(plane)
    return b"".join(data[row * plane.line_size : row * plane.line_size + frame.width] for row in range(frame.height))


def decode(data: bytes) -> tuple[av.VideoStream, float, list[av.VideoFrame]]:
    with ffmpeg_warnings() as logs, av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        duration = (container.duration or 0) / av.time_base
    assert logs == [], f"FFmpeg complained: {logs[:3]}"
    return stream, duration, frames


@pytest.mark.parametrize("seconds", [4, 8, 12])
@pytest.mark.parametrize("size", SIZES)
def test_every_api_size_and_duration_plays_in_ffmpeg(size: str, seconds: int) -> None:
    width, height = parse_size(size)
    stream, duration, frames = decode(render_mp4(width, height, seconds, seed=seconds))

    assert stream.codec_context.name == "h264"
    assert (stream.width, stream.height) == (width, height)
    assert duration == pytest.approx(seconds, abs=1 / FPS)
    assert stream.duration is not None and stream.time_base is not None
    assert float(stream.duration * stream.time_base) == pytest.approx(seconds, abs=1 / FPS)
    assert len(frames) == seconds * FPS
    assert all((f.width, f.height) == (width, height) for f in frames)

    first, middle, last = (luma(frames[i]) for i in (0, len(frames) // 2, -1))
    assert len(set(first)) >= 8, "the first frame should show bars and a ramp, not one flat colour"
    assert first != middle != last, "the picture should move over time"


def expected_planes(scene: _scene.Scene, frame: int) -> tuple[bytes, bytes]:
    """The Y and Cb planes the scene paints for `frame`, cropped to the picture size."""
    paint = scene.painter(frame)
    y_rows, cb_rows = [], []
    for mb_y in range(scene.mb_rows):
        colours = [_scene.to_ycbcr(paint.colour(x, mb_y)) for x in range(scene.mb_cols)]
        y_rows += [b"".join(bytes((c[0],)) * 16 for c in colours)[: scene.width]] * 16
        cb_rows += [b"".join(bytes((c[1],)) * 8 for c in colours)[: scene.width // 2]] * 8
    return b"".join(y_rows[: scene.height]), b"".join(cb_rows[: scene.height // 2])


def test_every_decoded_frame_is_exactly_the_painted_card() -> None:
    # I_PCM is lossless and P_Skip copies exactly, so after any drift (a wrong
    # skip run, a misplaced macroblock) the decoded samples would differ.
    width, height, seconds = 1080, 1920, 2
    scene = _scene.Scene(width, height, seconds * FPS, 5, FPS)
    _, _, frames = decode(render_mp4(width, height, seconds, seed=5))
    assert len(frames) == scene.frames
    for index, frame in enumerate(frames):
        expected_y, expected_cb = expected_planes(scene, index)
        assert luma(frame) == expected_y, f"frame {index} differs"
    cb = frames[-1].planes[1]
    cb_bytes = bytes(cb)
    visible_cb = b"".join(cb_bytes[r * cb.line_size : r * cb.line_size + width // 2] for r in range(height // 2))
    assert visible_cb == expected_cb


@pytest.mark.parametrize(("seconds", "frames"), [(0.5, 12), (0.3, 8), (1, 24), (2.51, 61)])
def test_fractional_durations_are_exact(seconds: float, frames: int) -> None:
    stream, duration, decoded = decode(render_mp4(1280, 720, seconds))
    assert duration == pytest.approx(seconds, abs=1e-6)
    assert stream.duration is not None and stream.time_base is not None
    assert float(stream.duration * stream.time_base) == pytest.approx(seconds, abs=1e-6)
    assert len(decoded) == frames


def test_seeds_change_the_picture_and_renders_are_cached() -> None:
    one, two = render_mp4(1280, 720, 4, seed=1), render_mp4(1280, 720, 4, seed=2)
    assert one != two
    assert luma(decode(one)[2][0]) != luma(decode(two)[2][0])
    assert render_mp4(1280, 720, 4, seed=1) is one
    assert render_mp4(1280, 720, 4.0, seed=1) is one


@pytest.mark.parametrize(
    ("width", "height", "seconds"),
    [(1279, 720, 4), (1280, 0, 4), (-2, 720, 4), (1280, 720, 0), (1280, 720, -1)],
)
def test_impossible_videos_are_refused(width: int, height: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        render_mp4(width, height, seconds)


def test_a_frame_too_large_for_h264_is_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        render_mp4(8192, 8192, 1)


def test_parse_size() -> None:
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size("1024x1792") == (1024, 1792)
    for bad in ("", "1280", "1280x", "x720", "1280*720", "0x720", "-1x720", "axb"):
        with pytest.raises(ValueError):
            parse_size(bad)


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=3))
def test_emulation_prevention_hides_start_codes_and_round_trips(body: bytes, zeros: int) -> None:
    # RBSPs end in a stop bit (0x80) then, for CABAC, possibly zero words.
    rbsp = body + b"\x80" + b"\x00\x00" * zeros
    nal = _h264.nal_unit(1, 5, rbsp)
    payload = nal[1:]
    assert nal[0] == 0x25
    for start_code_like in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert start_code_like not in payload
    assert not payload.endswith(b"\x00")
    assert re.sub(b"\x00\x00\x03", b"\x00\x00", payload) == rbsp


def test_emulation_prevention_known_answer() -> None:
    rbsp = bytes.fromhex("0000000000010000030080")
    assert _h264.nal_unit(0, 1, rbsp)[1:] == bytes.fromhex("00000300000300010000030300 80".replace(" ", ""))


def test_pillow_is_the_default_when_installed() -> None:
    assert pillow_available()


@pytest.mark.parametrize("size", SIZES)
def test_thumbnail_is_a_webp_of_the_video_size(size: str) -> None:
    width, height = parse_size(size)
    body, content_type = render_thumbnail(width, height, seed=3)
    image = Image.open(io.BytesIO(body))
    assert (content_type, image.format, image.size) == ("image/webp", "WEBP", (width, height))
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or ()) > 8


@pytest.mark.parametrize(
    ("size", "seconds", "sheet"),
    [("1280x720", 12, (640, 270)), ("720x1280", 4, (360, 160)), ("1920x1080", 8, (640, 180))],
)
def test_spritesheet_is_a_jpeg_grid_of_moving_frames(size: str, seconds: int, sheet: tuple[int, int]) -> None:
    width, height = parse_size(size)
    body, content_type = render_spritesheet(width, height, seconds, seed=4)
    image = Image.open(io.BytesIO(body))
    assert (content_type, image.format, image.size) == ("image/jpeg", "JPEG", sheet)
    cell_w, cell_h = sheet[0] // 4, sheet[1] // -(-seconds // 4)
    first, second = (image.crop((x, 0, x + cell_w, cell_h)) for x in (0, cell_w))
    assert ImageChops.difference(first, second).getbbox() is not None


def test_without_pillow_both_images_are_valid_pngs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_images, "pillow_available", lambda: False)
    thumb, thumb_type = render_thumbnail(1080, 1920, seed=1)
    sheet, sheet_type = render_spritesheet(1080, 1920, 12, seed=1)
    assert (thumb_type, sheet_type) == ("image/png", "image/png")
    thumb_image, sheet_image = Image.open(io.BytesIO(thumb)), Image.open(io.BytesIO(sheet))
    thumb_image.load()
    sheet_image.load()
    assert (thumb_image.format, thumb_image.size, thumb_image.mode) == ("PNG", (1080, 1920), "RGB")
    assert (sheet_image.format, sheet_image.size) == ("PNG", (360, 480))
    # Lossless and full size, so each pixel is exactly the colour painted on its macroblock.
    paint = _scene.Scene(1080, 1920, 1, 1, FPS).painter(0)
    for x, y in [(0, 0), (539, 100), (1079, 700), (300, 1500), (1000, 1919)]:
        assert thumb_image.getpixel((x, y)) == paint.colour(x // 16, y // 16), (x, y)
    assert image_info(thumb) == ImageInfo("png", 1080, 1920)


def test_media_needs_only_the_standard_library() -> None:
    # A fresh interpreter where Pillow, Prefect and FastAPI cannot be imported. The
    # parent packages are stubbed so that only the media package's own imports run.
    script = """
import sys, types
for name in ("PIL", "prefect", "fastapi"):
    sys.modules[name] = None  # `import name` now raises ImportError
for name, path in [("prefect_sora", sys.argv[1]), ("prefect_sora.emulator", sys.argv[2])]:
    stub = types.ModuleType(name)
    stub.__path__ = [path]
    sys.modules[name] = stub
from prefect_sora.emulator import _media as media
assert not media.pillow_available()
media.render_mp4(320, 240, 1)
body, content_type = media.render_spritesheet(1280, 720, 4, seed=2)
assert content_type == "image/png", content_type
sys.stdout.buffer.write(body)
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(PACKAGE.parent.parent), str(PACKAGE.parent)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    image = Image.open(io.BytesIO(result.stdout))
    assert (image.format, image.size) == ("PNG", (640, 90))


# --- image_info on real images ------------------------------------------------------

IMAGE_SIZES = [(1, 1), (17, 33), (1280, 720), (720, 1280), (1920, 1080)]


def encoded(size: tuple[int, int], fmt: str, mode: str = "RGB", **options: object) -> bytes:
    image = Image.new(mode, size, (200, 30, 90, 128)[: len(mode)])
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_image_info_reads_pillow_pngs(size: tuple[int, int]) -> None:
    for mode in ("RGB", "RGBA", "L"):
        assert image_info(encoded(size, "PNG", mode)) == ImageInfo("png", *size)


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_image_info_reads_pillow_jpegs(size: tuple[int, int]) -> None:
    exif = Image.Exif()
    exif[0x010E] = "an APP1 segment before the frame header"
    for options in ({}, {"progressive": True}, {"exif": exif.tobytes()}):
        assert image_info(encoded(size, "JPEG", **options)) == ImageInfo("jpeg", *size)


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_image_info_reads_every_webp_flavour(size: tuple[int, int]) -> None:
    flavours = {
        b"VP8 ": encoded(size, "WEBP", quality=80),
        b"VP8L": encoded(size, "WEBP", lossless=True),
        b"VP8X": encoded(size, "WEBP", "RGBA", quality=80),
    }
    for chunk, body in flavours.items():
        assert body[12:16] == chunk
        assert image_info(body) == ImageInfo("webp", *size)


def test_image_info_reads_our_own_images() -> None:
    assert image_info(render_thumbnail(720, 1280)[0]) == ImageInfo("webp", 720, 1280)
    assert image_info(render_spritesheet(720, 1280, 8)[0]) == ImageInfo("jpeg", 360, 320)


def _sof(jpeg: bytes) -> int:
    return min(p for p in (jpeg.find(b"\xff\xc0"), jpeg.find(b"\xff\xc2")) if p > 0)


def test_image_info_refuses_truncated_headers() -> None:
    png, jpeg = encoded((64, 48), "PNG"), encoded((64, 48), "JPEG")
    lossy, lossless = encoded((64, 48), "WEBP"), encoded((64, 48), "WEBP", lossless=True)
    extended = encoded((64, 48), "WEBP", "RGBA")
    # Each cut stops one byte short of the last byte of the dimensions.
    cuts = [(png, 23), (jpeg, _sof(jpeg) + 8), (lossy, 29), (lossless, 24), (extended, 29)]
    for body, cut in cuts:
        assert image_info(body[: cut + 1]) is not None
        for length in range(cut + 1):
            assert image_info(body[:length]) is None, (body[:16], length)


def test_image_info_refuses_other_and_broken_data() -> None:
    gif, bmp = encoded((8, 8), "GIF", "L"), encoded((8, 8), "BMP")
    png = encoded((8, 8), "PNG")
    zero_width_png = png[:16] + b"\x00\x00\x00\x00" + png[20:]
    jpeg = encoded((8, 8), "JPEG")
    no_frame_jpeg = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02"
    broken_marker_jpeg = jpeg[:2] + b"\x00" + jpeg[3:]
    unknown_webp = b"RIFF\x20\x00\x00\x00WEBPABCD" + bytes(24)
    for body in (
        b"",
        b"\x00" * 64,
        b"not an image at all, just words",
        gif,
        bmp,
        zero_width_png,
        no_frame_jpeg,
        broken_marker_jpeg,
        unknown_webp,
        render_mp4(64, 64, 0.1),
    ):
        assert image_info(body) is None, body[:16]


def test_public_api_is_what_the_emulator_imports() -> None:
    assert set(media.__all__) >= {
        "parse_size",
        "pillow_available",
        "render_mp4",
        "render_spritesheet",
        "render_thumbnail",
    }
