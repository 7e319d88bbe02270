"""The one way this package replaces a file on any fsspec filesystem: write a hidden partial, then move it.

Downloads (:mod:`~prefect_sora._durable.storage`), journal records and leases all
write through :class:`Partial`: the bytes go to a hidden sibling
(``.NAME.partial-XXXXXXXXXXXX``) and are moved over ``NAME`` only once complete,
and the partial is removed on any failure, so a reader never sees half a file
under the final name. A partial left by a killed process is swept by the next
writer. Everything here is sync I/O: async callers run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import uuid
from collections.abc import Mapping
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

_PARTIAL = ".partial-"
_ANY_PARTIAL = re.compile(r"\..+\.partial-[0-9a-f]{12}")


def fresh_filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[AbstractFileSystem, str]:
    """The filesystem and path of ``url``, listing afresh on every call (no listings cache).

    For every file this package writes (videos, journal records, leases): on object
    stores a listing cached while another writer (another process, or another item of the
    same batch in this one) was adding to the folder makes a file written since look
    missing, and s3fs's move of a fresh partial then fails with FileNotFoundError. A
    loaded CI run of the sharded batch on S3 lost an item's download that way.
    """
    fs, path = fsspec.core.url_to_fs(url, **{**(storage_options or {}), "use_listings_cache": False})
    return fs, path


class Partial:
    """A hidden sibling of ``path`` being written: ``commit`` moves it into place, ``discard`` removes it."""

    def __init__(self, fs: AbstractFileSystem, path: str) -> None:
        self.fs = fs
        self.target = path
        parent, name = posixpath.split(path)
        self.path = posixpath.join(parent, f".{name}{_PARTIAL}{uuid.uuid4().hex[:12]}")

    def commit(self) -> None:
        """Move the finished partial over the target (a rename where the filesystem has one)."""
        store = getattr(self.fs, "store", None)
        if "memory" in _protocols(self.fs) and isinstance(store, dict):
            # fsspec's memory mv copies the whole buffer, then deletes the old one: twice
            # the file in RAM at once. Renaming its entry in the store is all a move needs.
            source, target = self.fs._strip_protocol(self.path), self.fs._strip_protocol(self.target)
            try:
                moved = store.pop(source)
            except KeyError:
                raise FileNotFoundError(self.path) from None
            moved.path = target
            store[target] = moved
            return
        self.fs.mv(self.path, self.target)

    def discard(self) -> None:
        """Remove the partial if it is there; never raises for a partial already gone."""
        remove_quietly(self.fs, self.path)


def write_bytes(fs: AbstractFileSystem, path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (the parent folder must exist)."""
    partial = Partial(fs, path)
    try:
        with fs.open(partial.path, "wb") as handle:
            handle.write(data)
        partial.commit()
    except BaseException:
        partial.discard()
        raise


def sweep_partials(fs: AbstractFileSystem, folder: str, name: str | None = None) -> None:
    """Remove the partials a killed writer left in ``folder``: those of file ``name``, or all of them."""
    try:
        # Names only: fs.glob stats every entry of the folder, which made each write
        # cost O(folder) stats, and a 1,000-video batch a million of them.
        entries = fs.ls(folder, detail=False)
    except (OSError, ValueError):
        return
    prefix = None if name is None else f".{name}{_PARTIAL}"
    for entry in entries:
        base = posixpath.basename(str(entry).rstrip("/"))
        if base.startswith(prefix) if prefix is not None else _ANY_PARTIAL.fullmatch(base):
            remove_quietly(fs, entry)


def remove_quietly(fs: AbstractFileSystem, path: str) -> None:
    """Remove ``path`` if it exists; a failure to clean up must not hide the error being raised."""
    with contextlib.suppress(OSError, ValueError):
        if fs.exists(path):
            fs.rm(path)


def _protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
