"""Download a video's content to any fsspec URL: the checks, then the atomic write.

The one place that decides whether a body may be stored: the Content-Type must
fit the variant, the length must match what was announced and the first bytes
must be an MP4 or an image. Used by the ``fetch_video`` task, the flows and
the command line alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from prefect_sora._durable.storage import file_name, resolve_destination, stored, write_atomic
from prefect_sora._durable.verify import Expected, check_stored
from prefect_sora._errors import InvalidContent, TransportError
from prefect_sora._models import StoredVideo, VideoVariant
from prefect_sora._transport.client import ContentStream, SoraClient
from prefect_sora._validation import check_video_id

_OCTET = ("application/octet-stream", "binary/octet-stream")
ACCEPTED_TYPES: Mapping[VideoVariant, tuple[str, ...]] = {
    "video": ("video/", *_OCTET),
    "thumbnail": ("image/", *_OCTET),
    "spritesheet": ("image/", *_OCTET),
}


async def download(
    client: SoraClient,
    video_id: str,
    destination: str,
    *,
    variant: VideoVariant = "video",
    storage_options: Mapping[str, Any] | None = None,
    expect: Expected | None = None,
) -> StoredVideo:
    """Stream one variant of a video to ``destination`` (a folder or a file URL).

    With ``expect`` (what was paid for), a stored video is then read back and verified against it.

    Raises:
        InvalidContent: wrong type, wrong length or wrong leading bytes; nothing stored.
        TransportError: the body was cut short; nothing stored.
        VideoDefective: stored, but not the video paid for; the file is kept.
        ContentExpired, ContentNotReady, VideoNotFound: as the service answers.
    """
    check_video_id(video_id)
    async with client.stream_content(video_id, variant) as content:
        if not content.content_type.startswith(ACCEPTED_TYPES[variant]):
            raise InvalidContent(
                f"Expected {variant} content, got {content.content_type or 'no content type'}; nothing stored",
                video_id=video_id,
                request_id=content.request_id,
            )
        # Resolving may ask the filesystem (is it a folder?): a network call on S3, so off the loop.
        fs, path = await asyncio.to_thread(
            resolve_destination, destination, file_name(video_id, variant, content.content_type), storage_options
        )
        try:
            size, sha256 = await write_atomic(
                fs, path, _body(content), variant=variant, expected_length=content.content_length
            )
        except InvalidContent as exc:
            exc.video_id, exc.request_id = video_id, content.request_id
            raise
    result = stored(
        fs, path, video_id=video_id, variant=variant, bytes=size, sha256=sha256, content_type=content.content_type
    )
    if expect is not None and variant == "video":
        await check_stored(result, expect, storage_options)
    return result


async def _body(content: ContentStream) -> AsyncIterator[bytes]:
    try:
        # As the socket delivers them: re-chunking to a fixed size (iter_bytes) copies
        # every byte twice more and halves the throughput; write_atomic batches anyway.
        async for chunk in content.response.aiter_bytes():
            yield chunk
    except httpx.TransportError as exc:
        raise TransportError(
            f"Download of {content.variant} cut short: {type(exc).__name__}",
            video_id=content.video_id,
            request_id=content.request_id,
        ) from exc
