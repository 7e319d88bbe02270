"""A small write-ahead journal that makes reruns resume instead of paying again.

One JSON record per request item under ``{root}/{idempotency_key}/``, written
through fsspec (so it can sit beside the videos on S3 as well as on disk).
An item moves through these stages, each by one method of its entry:

* ``new``: nothing sent yet (``to_new`` also starts over after a failed or expired job).
* ``submitting`` (``to_submitting``): written *before* the create is sent, with the
  time, so a process killed mid-request leaves a trace. A rerun looks the job up
  with ``GET /videos`` instead of blindly creating it again.
* ``submitted`` (``to_submitted``): the job id is known; a rerun waits on it and never creates.
* ``failed`` (``to_failed``): the job failed (not billed); resubmitted only under an explicit policy.
* ``stored`` (``to_stored``): the content is stored; a rerun checks the file and skips the item.

Each item's record is written only by the coroutine handling that item, and
each write replaces the whole record atomically, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import posixpath
import time
from typing import Any, Literal

from fsspec import AbstractFileSystem
from pydantic import AliasChoices, BaseModel, Field

from prefect_sora._durable.atomic import fresh_filesystem, sweep_partials, write_bytes
from prefect_sora._errors import InvalidParameter
from prefect_sora._models import StoredVideo
from prefect_sora._validation import check_idempotency_key

Stage = Literal["new", "submitting", "submitted", "failed", "stored"]


class JournalEntry(BaseModel):
    """What is known about one request item of a run, and the moves between its stages."""

    index: int
    fingerprint: str
    # Records written before 0.2 call it "state"; they still load.
    stage: Stage = Field(default="new", validation_alias=AliasChoices("stage", "state"))
    video_id: str | None = None
    submitting_since: float | None = None
    failed_ids: list[str] = Field(default_factory=list)
    failure_code: str | None = None
    failure: str | None = None
    stored: StoredVideo | None = None
    # The item's result as the flows report it, kept by a shard run of a sharded
    # batch so that the parent, on another machine, can gather it.
    outcome: dict[str, Any] | None = None
    outcome_run: str | None = None  # the parent flow run it was recorded for
    updated_at: float | None = None

    def to_new(self) -> JournalEntry:
        """Start over: the next step is a new create (after a failed job, or expired content)."""
        self.stage, self.video_id = "new", None
        return self

    def to_submitting(self, since: float) -> JournalEntry:
        """A create is about to be sent; a rerun looks for a job made since ``since``."""
        self.stage, self.submitting_since = "submitting", since
        return self

    def to_submitted(self, video_id: str) -> JournalEntry:
        """The job exists: wait on it, never create it again."""
        self.stage, self.video_id = "submitted", video_id
        return self

    def to_failed(self, video_id: str | None, *, code: str | None, message: str) -> JournalEntry:
        """The job ``video_id`` failed (not billed); it counts against the resubmit policy."""
        self.failed_ids.append(video_id or self.video_id or "")
        self.stage, self.video_id = "failed", None
        self.failure_code, self.failure = code, message
        return self

    def to_stored(self, stored: StoredVideo) -> JournalEntry:
        """The content is stored at ``stored.url``."""
        self.stage, self.stored = "stored", stored
        return self


def fingerprint(fields: dict[str, Any]) -> str:
    """A stable digest of a request, so a reused key with a different request is caught."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:32]


class Journal:
    """The records of one idempotency key, under a root fsspec URL."""

    def __init__(self, root: str, key: str, storage_options: dict[str, Any] | None = None) -> None:
        self.key = check_idempotency_key(key)
        # Listed afresh: other processes (a sharded batch's) write here too.
        fs, path = fresh_filesystem(root, storage_options)
        self.fs: AbstractFileSystem = fs
        self.folder = posixpath.join(path.rstrip("/"), self.key)
        self.url = fs.unstrip_protocol(self.folder)
        self._folder_made = False

    async def load(self, index: int, print_: str) -> JournalEntry:
        """The record of item ``index``, or a new one; refuses a different request under the same key."""
        entry = await asyncio.to_thread(self._read, index)
        if entry is None:
            return JournalEntry(index=index, fingerprint=print_)
        if entry.fingerprint != print_:
            raise InvalidParameter(
                "idempotency_key",
                self.key,
                f"was used for a different request at item {index}; use a new key for a new batch",
            )
        return entry

    async def save(self, entry: JournalEntry) -> None:
        """Replace the record of ``entry.index`` atomically."""
        entry.updated_at = time.time()
        await asyncio.to_thread(self._write, entry)

    async def sweep(self) -> None:
        """Remove half-written records a killed process left behind (once, at the start of a run)."""
        await asyncio.to_thread(self._sweep)

    async def entries(self) -> list[JournalEntry]:
        """Every record of this key, in no particular order."""
        return await asyncio.to_thread(self._read_all)

    async def known_ids(self) -> frozenset[str]:
        """Every job id any record of this key holds, so a lookup never adopts a sibling's job."""
        entries = await self.entries()
        ids = {e.video_id for e in entries if e.video_id}
        ids.update(i for e in entries for i in e.failed_ids)
        return frozenset(ids)

    def _path(self, index: int) -> str:
        return posixpath.join(self.folder, f"{index:06d}.json")

    def _read(self, index: int) -> JournalEntry | None:
        # One whole-object read: on object stores a record replaced between an open
        # and its first read would otherwise fail the read (s3fs's FileExpired).
        try:
            return JournalEntry.model_validate_json(self.fs.cat_file(self._path(index)))
        except FileNotFoundError:
            return None

    def _read_all(self) -> list[JournalEntry]:
        try:
            paths = self.fs.glob(posixpath.join(self.folder, "*.json"))
        except FileNotFoundError:
            return []
        entries = []
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                entries.append(JournalEntry.model_validate_json(self.fs.cat_file(path)))
        return entries

    def _sweep(self) -> None:
        sweep_partials(self.fs, self.folder)

    def _write(self, entry: JournalEntry) -> None:
        if not self._folder_made:  # once per journal, not once per record (a stat each on object stores)
            self.fs.makedirs(self.folder, exist_ok=True)
            self._folder_made = True
        write_bytes(self.fs, self._path(entry.index), entry.model_dump_json().encode())
