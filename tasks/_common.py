"""What the atomic tasks share: the run logger, and reading an input image."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import fsspec
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from prefect_sora._errors import InvalidParameter
from prefect_sora._images import CONTENT_TYPES, image_info
from prefect_sora._models import ImageReference, ImageUpload
from prefect_sora._validation import check_image_reference

InputReference = bytes | str | Path | ImageReference | ImageUpload


def run_logger(fallback: str) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a run (so lines reach the UI), else a module logger."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(fallback)


async def load_input_reference(
    reference: InputReference | None, size: str, storage_options: dict[str, object] | None = None
) -> ImageUpload | ImageReference | None:
    """Turn an ``input_reference`` into what the client sends, refusing a bad image before any request.

    Bytes and paths or fsspec URLs are read and must be a JPEG, PNG or WebP image of
    exactly ``size``; an :class:`ImageReference` (``image_url`` / ``file_id``) is passed on.
    """
    if isinstance(reference, ImageUpload):
        if (info := image_info(reference.content)) is None or info.size != size:
            raise InvalidParameter("input_reference", reference.filename, f"must be a JPEG, PNG or WebP of size {size}")
        return reference
    if reference is None or isinstance(reference, ImageReference):
        if reference is not None:
            check_image_reference(reference.image_url, reference.file_id)
            if reference.image_url is not None and reference.image_url.startswith("data:"):
                # A data URL carries the image itself: check it as an upload would be.
                _check_data_url(reference.image_url, size)
            # A URL or a file id is fetched by the gateway: its size cannot be checked here.
        return reference
    if isinstance(reference, (str, Path)):
        name = Path(str(reference)).name or "input_reference"
        content = await asyncio.to_thread(_read, str(reference), storage_options or {})
    elif isinstance(reference, (bytes, bytearray)):
        name, content = "input_reference", bytes(reference)
    else:
        raise InvalidParameter(
            "input_reference", type(reference).__name__, "give bytes, a path or URL, or an ImageReference"
        )
    info = image_info(content)
    if info is None:
        raise InvalidParameter("input_reference", name, "must be a JPEG, PNG or WebP image")
    if info.size != size:
        raise InvalidParameter("input_reference", name, f"is {info.size}; it must match size={size}")
    extension = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[info.format]
    filename = name if name.lower().endswith(extension) else f"input_reference{extension}"
    return ImageUpload(content=content, filename=filename, content_type=CONTENT_TYPES[info.format])


def _check_data_url(url: str, size: str) -> None:
    try:
        content = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (ValueError, IndexError) as exc:
        raise InvalidParameter("input_reference.image_url", url, "the data URL is not valid base64") from exc
    info = image_info(content)
    if info is None or info.size != size:
        shown = "not a JPEG, PNG or WebP image" if info is None else f"{info.size}"
        raise InvalidParameter("input_reference.image_url", url, f"is {shown}; it must be an image of size={size}")


def _read(url: str, storage_options: dict[str, object]) -> bytes:
    try:
        with fsspec.open(url, "rb", **storage_options) as handle:
            data: bytes = handle.read(64 << 20)
            return data
    except (OSError, ValueError) as exc:
        raise InvalidParameter("input_reference", url, f"could not be read: {type(exc).__name__}") from exc
