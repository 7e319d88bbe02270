"""The bytes behind `GET /videos/{id}/content`: real media, or a synthetic body of any size.

The video variant is a playable H.264 MP4 of the job's size and duration, thumbnails and
spritesheets are real images, all rendered by `prefect_sora.emulator._media` (imported
lazily: only downloads and image checks need it). Rendering is CPU work,
so it runs on a worker thread and never stalls the polls sharing the event loop.

For download benchmarks, `synthetic_content_bytes` (or the `[emulator:content_bytes=N]`
directive) serves the video variant as N bytes streamed from one repeated chunk, in
constant memory whatever N is (1 GiB included), with the full Content-Length announced.
It opens with a real `moov` of the job's size and length whose samples are the filler,
so a client that verifies what it stored accepts it (nothing in it decodes).

`[emulator:defect=KIND]` serves a video that is not the one paid for (see `_directives`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from prefect_sora._images import image_info as _image_info
from prefect_sora.emulator._state import ContentTarget

_CHUNK_BYTES = 1 << 20
_CHUNK = bytes(range(256)) * (_CHUNK_BYTES // 256)
# A synthetic body still opens like an MP4 (an `ftyp` box), since clients rightly
# refuse to store a "video" that does not; the rest is filler.
_FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomavc1"
_FIRST_CHUNK = _FTYP + _CHUNK[len(_FTYP) :]


def _media() -> ModuleType:
    # Lazy: rendering code (and Pillow behind it) is only needed by downloads and image
    # checks, not by the poll path or by importing the emulator.
    from prefect_sora.emulator import _media as media

    return media


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) of an image, None if `data` is not a recognised image."""
    info = _image_info(data)  # a header sniff: no media code, no Pillow
    if info is None:
        return None
    return str(info.format), int(info.width), int(info.height)


async def _repeat(total: int, first: bytes = _FIRST_CHUNK) -> AsyncIterator[bytes]:
    chunk = first + _CHUNK[len(first) :] if len(first) < _CHUNK_BYTES else first
    left = total
    while left > 0:
        step = min(left, _CHUNK_BYTES)
        yield chunk[:step] if step < _CHUNK_BYTES else chunk
        chunk = _CHUNK
        left -= step


def synthetic_response(total: int, target: ContentTarget | None = None) -> Response:
    """`total` bytes of stand-in video, streamed, with the Content-Length announced.

    With the job's `target`, the bytes open with boxes that make them an MP4 of its size
    and length (when `total` is large enough to hold them).
    """
    first = _FIRST_CHUNK
    if target is not None:
        media = _media()
        width, height = media.parse_size(target.size)
        first = media.synthetic_head(total, width, height, float(target.seconds)) or first
    return StreamingResponse(
        _repeat(total, first),
        media_type="video/mp4",
        headers={"content-length": str(total)},
    )


async def content_response(target: ContentTarget) -> Response:
    """The response body for one download of `target`."""
    if target.synthetic_bytes is not None:
        return synthetic_response(target.synthetic_bytes, target)
    media = _media()
    width, height = media.parse_size(target.size)
    if target.defect is not None:
        spoiled: bytes = await run_in_threadpool(
            media.render_defective, width, height, float(target.seconds), target.defect, seed=target.media_seed
        )
        return Response(content=spoiled, media_type="video/mp4")
    if target.variant == "video":
        body: bytes = await run_in_threadpool(
            media.render_mp4, width, height, float(target.seconds), seed=target.media_seed
        )
        return Response(content=body, media_type="video/mp4")
    render = media.render_thumbnail if target.variant == "thumbnail" else media.render_spritesheet
    if target.variant == "thumbnail":
        image, content_type = await run_in_threadpool(render, width, height, seed=target.media_seed)
    else:
        image, content_type = await run_in_threadpool(
            render, width, height, float(target.seconds), seed=target.media_seed
        )
    return Response(content=image, media_type=content_type)
