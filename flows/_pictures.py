"""Pictures of the videos in the Prefect UI: thumbnails, a batch's contact sheet, links that open.

A run's artifacts show what was made, not only what it cost. After a video is
stored its thumbnail is fetched (one request, free), scaled down and shown as an
image artifact; a batch gets one contact sheet; a single video's summary shows
its spritesheet. Where the storage can sign a URL (S3, GCS, Azure through fsspec's
``sign``) the pictures and links are signed https URLs valid for
``link_expiry_seconds``; elsewhere the pictures are ``data:`` URIs and the link
artifact says where the file is in words, since a browser cannot open a
``file://`` path on the worker. None of this may fail a run or cost money: every
failure here is one WARNING, and a gateway that serves no pictures is skipped.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import fsspec
from prefect.artifacts import acreate_image_artifact

from prefect_sora._durable.storage import safe_stem
from prefect_sora._errors import InvalidParameter
from prefect_sora._models import VideoVariant
from prefect_sora._transport.client import SoraClient
from prefect_sora._validation import litellm_route
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.flows import _drawing as drawing
from prefect_sora.flows._artifacts import Report, in_flow_run, link_stored
from prefect_sora.flows._results import VideoResult
from prefect_sora.tasks._common import run_logger

#: How long a signed link stays valid unless the flow is told otherwise: 7 days, the most S3 allows.
DEFAULT_LINK_EXPIRY = 7 * 24 * 3600
MAX_LINK_EXPIRY = 7 * 24 * 3600
#: Where a signing storage keeps the pictures, beside the journal, out of the videos' folder.
PICTURES_FOLDER = ".prefect-sora/pictures"
#: The most read of a thumbnail or spritesheet; a bigger body is not a picture for the UI.
MAX_PICTURE_BYTES = 8_000_000
#: The largest contact sheet shown as a ``data:`` URI (48 tiles are about 100 KB).
MAX_SHEET_BYTES = 300_000
MEDIA_NOTE = "Install `prefect-sora[media]` (Pillow) to see a contact sheet of the batch here."


def check_link_expiry(seconds: float) -> int:
    """The expiry of signed links in whole seconds, refused (before any request) outside 1 s .. 7 days."""
    if not 1 <= seconds <= MAX_LINK_EXPIRY:
        raise InvalidParameter("link_expiry_seconds", seconds, f"must be 1 to {MAX_LINK_EXPIRY} seconds (7 days)")
    return int(seconds)


def sign(url: str, storage_options: dict[str, Any] | None, expiry: int) -> str | None:
    """A browser URL of ``url`` valid for ``expiry`` seconds, or None where the storage cannot sign (blocking)."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    try:
        signed = fs.sign(path, expiration=expiry)
    except NotImplementedError:  # local files, memory: fsspec's default
        return None
    return signed if isinstance(signed, str) and signed.startswith(("https://", "http://")) else None


def where(url: str) -> str:
    """Where a stored file is, in words, for storage no browser can open."""
    protocol, path = fsspec.core.split_protocol(url)
    if protocol in (None, "file", "local"):
        return f"on the disk of the machine that ran the flow, at `{path}`"
    if protocol == "memory":
        return f"in the memory of the process that ran the flow, at `{path}`"
    return f"at `{url}` (this storage cannot sign a browser link)"


async def fetch_picture(client: SoraClient, video_id: str, variant: VideoVariant) -> tuple[bytes, str] | None:
    """One variant's body and content type, or None when the gateway serves no picture for it.

    A LiteLLM proxy ignores ``variant`` and sends the whole MP4, so its ids are not asked
    at all; any other answer that is not an image is closed unread.
    """
    if litellm_route(video_id) is not None:
        return None
    async with client.stream_content(video_id, variant) as content:
        if not content.content_type.startswith("image/"):
            return None
        body = bytearray()
        async for chunk in content.response.aiter_bytes():
            body += chunk
            if len(body) > MAX_PICTURE_BYTES:
                return None
    return bytes(body), content.content_type


@dataclass
class Pictures:
    """The pictures and links of one flow run's stored videos.

    Attributes:
        storage_options: fsspec options of the outputs, to sign and store pictures.
        link_expiry_seconds: How long signed links and pictures stay valid.
        client: The run's client, for the thumbnails (bound by whoever opens it).
        thumbnails: Each stored item's small thumbnail, kept for the batch's contact sheet.
    """

    storage_options: dict[str, Any] | None = None
    link_expiry_seconds: int = DEFAULT_LINK_EXPIRY
    client: SoraClient | None = None
    thumbnails: dict[int, bytes] = field(default_factory=dict)

    async def on_stored(self, result: VideoResult) -> None:
        """A link artifact (signed, or the file's place in words) and a thumbnail artifact; never raises."""
        if not in_flow_run() or not result.url:
            return
        logger = run_logger(__name__)
        try:
            signed = await asyncio.to_thread(sign, result.url, self.storage_options, self.link_expiry_seconds)
        except Exception as exc:  # no credentials to sign with, say: the link says where the file is instead
            logger.warning("Item %d: no signed link (%s: %s)", result.index, type(exc).__name__, exc)
            signed = None
        try:
            await link_stored(result, link=signed, where=None if signed else where(result.url))
            if self.client is not None and result.video_id:
                await self._thumbnail(self.client, result, signs=signed is not None)
        except Exception as exc:  # pictures are a courtesy: never a failed run
            logger.warning("Item %d: no picture in the UI (%s: %s)", result.index, type(exc).__name__, exc)

    async def _thumbnail(self, client: SoraClient, result: VideoResult, *, signs: bool) -> None:
        assert result.video_id is not None and result.url is not None
        picture = await fetch_picture(client, result.video_id, "thumbnail")
        small = drawing.small_thumbnail(*picture) if picture else None
        if small is None:
            return
        self.thumbnails[result.index] = small[0]
        url = await self.image_url(result.url, _thumbnail_name(result.video_id), *small, signs=signs)
        if url is not None:
            await acreate_image_artifact(image_url=url, description=f"Item {result.index}: thumbnail")

    def _kept_thumbnail(self, result: VideoResult) -> bytes | None:
        """The thumbnail a run (a shard's, an earlier one) kept in signing storage, without a request (blocking)."""
        if not result.ok or not result.url or not result.video_id:
            return None
        kept = posixpath.join(posixpath.dirname(result.url), PICTURES_FOLDER, _thumbnail_name(result.video_id))
        try:
            fs, path = fsspec.core.url_to_fs(kept, **(self.storage_options or {}))
            if type(fs).sign is fsspec.AbstractFileSystem.sign:  # kept only where the storage signs
                return None
            return bytes(fs.cat_file(path))
        except (OSError, ValueError):  # not kept (FileNotFoundError), or unreadable: fetch it
            return None

    async def image_url(
        self,
        near: str,
        name: str,
        image: bytes,
        content_type: str,
        *,
        signs: bool,
        max_bytes: int = drawing.MAX_DATA_URI_BYTES,
    ) -> str | None:
        """A signed URL of the image stored beside ``near`` where the storage signs, else a small ``data:`` URI."""
        if signs:
            target = posixpath.join(posixpath.dirname(near), PICTURES_FOLDER, name)

            def store() -> str | None:
                fs, path = fsspec.core.url_to_fs(target, **(self.storage_options or {}))
                fs.pipe_file(path, image)
                return sign(target, self.storage_options, self.link_expiry_seconds)

            return await asyncio.to_thread(store)
        return drawing.data_uri(image, content_type) if len(image) <= max_bytes else None

    async def spritesheet(self, result: VideoResult) -> str:
        """Markdown showing a single video's spritesheet, or "" when the gateway serves none; never raises."""
        if self.client is None or not result.ok or not result.video_id or not result.url:
            return ""
        try:
            picture = await fetch_picture(self.client, result.video_id, "spritesheet")
            if picture is None:
                return ""
            signs = await asyncio.to_thread(sign, result.url, self.storage_options, 1) is not None
            name = f"{safe_stem(result.video_id)}.spritesheet.jpg"
            image = picture if signs else drawing.small_thumbnail(*picture)
            url = await self.image_url(result.url, name, *image, signs=signs) if image else None
        except Exception as exc:
            run_logger(__name__).warning("No spritesheet in the summary (%s: %s)", type(exc).__name__, exc)
            return ""
        return f"\n\n## Spritesheet\n\n![Spritesheet of {result.video_id}]({url})" if url else ""

    async def contact_sheet(
        self, report: Report, results: Sequence[VideoResult], *, folder: str, run: str, credentials: SoraCredentials
    ) -> str:
        """One image artifact of the batch's first 48 items; the summary's note when there is none.

        Stored items whose thumbnail this run did not fetch (resumed, or stored by a
        shard run) are read from the storage where a run kept them, else fetched now,
        one request each. Never raises.
        """
        if not in_flow_run():
            return ""
        if drawing.pillow() is None:
            return f"\n\n{MEDIA_NOTE}"
        try:
            shown = list(results)[: drawing.MAX_TILES]
            for result in shown:
                if result.index not in self.thumbnails:
                    kept = await asyncio.to_thread(self._kept_thumbnail, result)
                    if kept is not None:
                        self.thumbnails[result.index] = kept
            missing = [r for r in shown if r.ok and r.video_id and r.index not in self.thumbnails]
            if missing:
                async with credentials.get_client() as client:
                    for result in missing:
                        assert result.video_id is not None
                        picture = await fetch_picture(client, result.video_id, "thumbnail")
                        small = drawing.small_thumbnail(*picture) if picture else None
                        if small is not None:
                            self.thumbnails[result.index] = small[0]
            tiles = [drawing.Tile(r.index, r.status, self.thumbnails.get(r.index)) for r in shown]
            sheet = await asyncio.to_thread(drawing.contact_sheet, tiles)
            if sheet is None:
                return ""
            anchor = posixpath.join(folder, "contact-sheet.jpg")
            signs = await asyncio.to_thread(sign, anchor, self.storage_options, 1) is not None
            name = f"contact-sheet-{safe_stem(run)}.jpg"
            url = await self.image_url(anchor, name, sheet, "image/jpeg", signs=signs, max_bytes=MAX_SHEET_BYTES)
            if url is None:
                return "\n\nThe contact sheet was too large to show here."
            more = f" (the first {len(shown)} of {len(results)})" if len(results) > len(shown) else ""
            await acreate_image_artifact(
                image_url=url, key=f"{report.key}-contact-sheet", description=f"{report.title}: contact sheet{more}"
            )
        except Exception as exc:  # a courtesy, as above
            run_logger(__name__).warning("No contact sheet (%s: %s)", type(exc).__name__, exc)
        return ""


def _thumbnail_name(video_id: str) -> str:
    return f"{safe_stem(video_id)}.thumbnail.jpg"
