"""Stream a download to any fsspec URL atomically, in constant memory.

The bytes go to a hidden partial (:class:`~prefect_sora._durable.atomic.Partial`)
and are moved into place only once complete and checked (type, length, leading
bytes); on any failure the partial is removed, so nothing half-written is ever
visible under the final name. A partial left by a killed process is swept by the
next write of the same file. Writes through fsspec's sync filesystems run in a
worker thread so the event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fsspec import AbstractFileSystem

from prefect_sora._durable.atomic import Partial, fresh_filesystem, sweep_partials
from prefect_sora._errors import InvalidContent, InvalidParameter
from prefect_sora._models import StoredVideo, VideoVariant

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")
_READABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}")
_EXTENSIONS = {
    "video/mp4": ".mp4",
    "image/webp": ".webp",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}
_DEFAULT_EXTENSION: Mapping[VideoVariant, str] = {
    "video": ".mp4",
    "thumbnail": ".webp",
    "spritesheet": ".jpg",
}
_HEAD = 16  # bytes sniffed to tell an MP4 or an image from an error page


def safe_stem(video_id: str) -> str:
    """A file-name stem from a server-issued id that cannot leave its folder, nor meet another id's.

    A readable id (letters, digits, ``_``, ``-``; at most 128) is the stem as it
    is. Any other (LiteLLM's base64 with ``/+=``, ids with ``:`` or ``.``, a
    hostile ``../x``) keeps its safe characters and gets a dot and 16 hex digits
    of its SHA-256: a readable stem has no dot, so the two kinds never meet, and
    two different ids never share a name.
    """
    if _READABLE.fullmatch(video_id):
        return video_id
    readable = _UNSAFE.sub("_", video_id).strip("_")[:64] or "video"
    return f"{readable}.{hashlib.sha256(video_id.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def file_name(video_id: str, variant: VideoVariant, content_type: str) -> str:
    """``{id}.mp4``, ``{id}.thumbnail.webp`` ...: the name a variant is stored under in a folder."""
    extension = _EXTENSIONS.get(content_type, _DEFAULT_EXTENSION[variant])
    suffix = "" if variant == "video" else f".{variant}"
    return f"{safe_stem(video_id)}{suffix}{extension}"


def resolve_destination(
    destination: str, name: str, storage_options: Mapping[str, Any] | None = None
) -> tuple[AbstractFileSystem, str]:
    """The filesystem and path to write: ``destination`` itself, or ``name`` inside it when it is a folder.

    A destination is a folder when it ends with ``/`` or already is a directory.
    """
    fs, path = fresh_filesystem(destination, storage_options)
    if destination.endswith(("/", "\\")) or fs.isdir(path):
        return fs, posixpath.join(path.rstrip("/"), name) if path else name
    return fs, path


#: Option names that hold a secret, wherever they sit in a set of fsspec options (s3fs,
#: gcsfs, adlfs, sftp, http ...): compared lowercased, ``-`` read as ``_``.
SECRET_OPTION_NAMES = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "passwd",
        "auth",
        "credentials",
        "access_key",
        "access_key_id",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "session_token",
        "client_secret",
        "account_key",
        "sas_token",
        "connection_string",
        "private_key",
        "api_key",
        "access_token",
        "refresh_token",
    }
)
#: ... and any option whose name contains one of these.
SECRET_NAME_PARTS = ("secret", "password", "token", "credential", "private_key", "account_key", "connection_string")


def secret_option_paths(options: Mapping[str, Any] | None, prefix: str = "") -> list[str]:
    """The dotted names of options that hold a secret: ``["secret", "client_kwargs.aws_session_token"]``.

    Only names are returned, never a value, so the answer can go into an error message.
    """
    found: list[str] = []
    for name, value in (options or {}).items():
        normalized = str(name).lower().replace("-", "_")
        path = f"{prefix}{name}"
        if normalized in SECRET_OPTION_NAMES or any(part in normalized for part in SECRET_NAME_PARTS):
            found.append(path)
        elif isinstance(value, Mapping):
            found += secret_option_paths(value, f"{path}.")
    return found


def merge_options(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """fsspec options laid over each other, later layers winning; nested dicts (``client_kwargs``) merged too."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
                merged[name] = merge_options(merged[name], value)
            else:
                merged[name] = dict(value) if isinstance(value, Mapping) else value
    return merged


def under_base(base_url: str, out: str | None) -> str:
    """``out`` placed under a storage's ``base_url``, as a working directory places a relative path.

    A relative ``out`` (``videos/``, ``2026/trailer.mp4``) is joined to the base;
    empty or ``.`` is the base itself; a full URL or absolute path must already lie
    inside the base (the storage's options are meant for it, and for nothing else).

    Raises:
        InvalidParameter: ``out`` climbs out of the base (``..``) or names another place.
    """
    base = base_url if base_url.endswith("/") else f"{base_url}/"
    target = out or ""
    segments = target.split("/")
    if ".." in segments:
        raise InvalidParameter("out", out, f"must stay inside the storage's base URL {base_url!r} (no '..')")
    if "://" in target or target.startswith("/"):
        if target.startswith("/") and base.startswith("file://"):
            target = f"file://{target}"
        if target.rstrip("/") == base.rstrip("/") or target.startswith(base):
            return target
        raise InvalidParameter(
            "out", out, f"must be a path relative to the storage's base URL {base_url!r}, or a URL inside it"
        )
    kept = [s for s in segments[:-1] if s not in ("", ".")]
    last = "" if segments[-1] == "." else segments[-1]
    return base + "/".join([*kept, last]) if kept else base + last


def looks_like(variant: VideoVariant, head: bytes) -> bool:
    """Whether the first bytes are an MP4 (video) or an image (thumbnail, spritesheet)."""
    if variant == "video":
        return len(head) >= 8 and head[4:8] == b"ftyp"
    return head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


#: Bytes gathered before they go to the worker thread that hashes and writes them: big
#: enough that the hand-offs cost nothing, small enough that memory stays flat.
BATCH_BYTES = 4 << 20


async def write_atomic(
    fs: AbstractFileSystem,
    path: str,
    chunks: AsyncIterator[bytes],
    *,
    variant: VideoVariant,
    expected_length: int | None,
) -> tuple[int, str]:
    """Write ``chunks`` to ``path`` through a hidden partial file; return (bytes, sha256).

    The event loop only receives: chunks are gathered into batches of about
    :data:`BATCH_BYTES`, and a worker thread hashes and writes each batch while
    the next one arrives (at most one batch in the thread, one gathering), so a
    download runs at network speed in constant memory.

    Raises:
        InvalidContent: the bytes are not the variant asked for, or fewer/more than announced.
    """
    parent, name = posixpath.split(path)
    partial = Partial(fs, path)
    if parent:
        await asyncio.to_thread(fs.makedirs, parent, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    head = b""
    handle = await asyncio.to_thread(fs.open, partial.path, "wb")
    loop = asyncio.get_running_loop()
    writing: asyncio.Future[None] | None = None
    batch: list[bytes] = []
    gathered = 0

    def absorb(pieces: list[bytes]) -> None:
        for piece in pieces:
            digest.update(piece)
            handle.write(piece)

    try:
        try:
            async for chunk in chunks:
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                    if len(head) == _HEAD:
                        _check_head(variant, head)
                batch.append(chunk)
                gathered += len(chunk)
                written += len(chunk)
                if gathered >= BATCH_BYTES:
                    if writing is not None:
                        # Shielded: a cancelled wait must not orphan a thread still writing.
                        await asyncio.shield(writing)
                    writing = loop.run_in_executor(None, absorb, batch)
                    batch, gathered = [], 0
            if writing is not None:
                await asyncio.shield(writing)
            writing = loop.run_in_executor(None, absorb, batch)
            await asyncio.shield(writing)
        finally:
            if writing is not None:
                # Failed or cancelled mid-batch: the thread finishes with the handle before it closes.
                await asyncio.wait([writing])
                if not writing.cancelled():
                    writing.exception()  # retrieved: the error that matters is already propagating
            await asyncio.to_thread(handle.close)
        if len(head) < _HEAD:
            _check_head(variant, head)
        if expected_length is not None and written != expected_length:
            raise InvalidContent(
                f"Got {written} bytes of {variant}, the server announced {expected_length}; nothing stored"
            )
        await asyncio.to_thread(_commit, fs, partial)
    except BaseException:
        # Also on cancellation: never leave the partial behind.
        await asyncio.shield(asyncio.to_thread(partial.discard))
        raise
    # Leftovers of a killed writer of the same file go only now, after this commit: a
    # writer still alive (a shard run restarted while the first was only slow) then
    # finds its partial gone and the file already in place (see _commit).
    await asyncio.to_thread(sweep_partials, fs, parent, name)
    return written, digest.hexdigest()


def _commit(fs: AbstractFileSystem, partial: Partial) -> None:
    try:
        partial.commit()
    except FileNotFoundError:
        # Partials are swept only after a commit of the same file, so a partial that
        # vanished means another writer of this very video has already stored it.
        if not fs.exists(partial.target):
            raise


def _check_head(variant: VideoVariant, head: bytes) -> None:
    if not head:
        raise InvalidContent(f"The {variant} body is empty; nothing stored")
    if not looks_like(variant, head):
        raise InvalidContent(f"The {variant} body does not start like one ({head!r}); nothing stored")


def stored(fs: AbstractFileSystem, path: str, **fields: Any) -> StoredVideo:
    """The result record, with the path given back as a full URL."""
    return StoredVideo(url=fs.unstrip_protocol(path), **fields)
