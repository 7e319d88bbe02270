"""Leases on shared storage: at most one live owner of a share of a batch, across machines.

A shard of a sharded batch runs on whichever worker takes it. If that worker
dies, the flow run that held the shard is never told; something must notice
and hand the shard to another run, and the new run must not work beside an old
one that is merely slow, or both could pay for the same video. A lease is a
small JSON record (``owner``, ``beat_at``) beside the journal, on the same
fsspec URL every worker already reaches:

* the owner rewrites it every ``interval`` seconds (:meth:`Lease.beat`) and
  stops working once it finds another owner's name there;
* a lease not rewritten for ``stale_after`` seconds is stale: its owner is
  taken to be dead, and a new owner may take it over (:meth:`Lease.acquire`);
  a fresh lease held by someone else is waited out, never stolen;
* the owner releases it when done, so a successor need not wait.

Staleness compares ``beat_at`` (the owner's wall clock) with the reader's, so
clocks must agree to well within ``stale_after`` (NTP does); the default of a
minute against a beat every ten seconds leaves room for that and for slow
storage.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fsspec import AbstractFileSystem
from pydantic import BaseModel, ValidationError

from prefect_sora._durable.atomic import fresh_filesystem, write_bytes
from prefect_sora._errors import InvalidParameter

# Leases read and write on threads of their own: on the default executor a beat
# could queue behind a busy run's journal and storage I/O and miss its window.
_IO = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prefect-sora-lease")


class LeaseRecord(BaseModel):
    """What a lease file holds."""

    owner: str
    beat_at: float
    released: bool = False


class LeaseLost(Exception):
    """Another owner took the lease over: this one was taken for dead and must stop."""


class Lease:
    """One lease file at ``url``, seen by the owner ``owner``.

    Args:
        url: fsspec URL of the lease file.
        owner: A name unique to this holder (a flow run id).
        interval: Seconds between beats.
        stale_after: Seconds without a beat after which the lease may be taken over.
        storage_options: fsspec options for ``url``.
    """

    def __init__(
        self,
        url: str,
        owner: str,
        *,
        interval: float = 10.0,
        stale_after: float = 60.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if interval <= 0:
            raise InvalidParameter("interval", interval, "must be a positive number of seconds")
        if stale_after <= 2 * interval:
            raise InvalidParameter("stale_after", stale_after, f"must be more than twice the interval ({interval} s)")
        self.url = url
        self.owner = owner
        self.interval = interval
        self.stale_after = stale_after
        # Listed afresh: the record is rewritten by other processes.
        fs, path = fresh_filesystem(url, storage_options)
        self._fs: AbstractFileSystem = fs
        self._path: str = path

    def is_stale(self, record: LeaseRecord | None, now: float | None = None) -> bool:
        """Whether ``record`` may be taken over: absent, released, or not beaten for ``stale_after``."""
        if record is None or record.released:
            return True
        return (time.time() if now is None else now) - record.beat_at > self.stale_after

    async def read(self) -> LeaseRecord | None:
        """The lease as it stands, or None if there is none (or it is unreadable)."""
        return await asyncio.get_running_loop().run_in_executor(_IO, self._read)

    async def acquire(self, *, timeout: float | None = None) -> None:
        """Take the lease, waiting out a live owner; raises TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = await self.read()
            if record is None or record.owner == self.owner or self.is_stale(record):
                await self._write(released=False)
                # Two successors may take a stale lease at once: the last writer wins,
                # and the other learns it on reading back.
                await asyncio.sleep(min(1.0, self.interval / 4))
                if (mine := await self.read()) is not None and mine.owner == self.owner:
                    return
                continue
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"The lease {self.url} is held by {record.owner}")
            await asyncio.sleep(self.interval)

    async def beat(self) -> None:
        """Renew the lease; raises :class:`LeaseLost` if another owner holds it now."""
        record = await self.read()
        if record is not None and record.owner != self.owner and not record.released:
            raise LeaseLost(f"The lease {self.url} was taken over by {record.owner}")
        await self._write(released=False)

    async def release(self) -> None:
        """Give the lease up (only if still ours), so a successor need not wait."""
        record = await self.read()
        if record is None or record.owner == self.owner:
            await self._write(released=True)

    async def keep(self) -> None:
        """Beat every ``interval`` seconds until cancelled; raises :class:`LeaseLost` when taken over."""
        while True:
            await asyncio.sleep(self.interval)
            await self.beat()

    def _read(self) -> LeaseRecord | None:
        # One whole-object read, never open-then-read: the owner replaces the record
        # every beat, and s3fs refuses to read on from an object that changed (FileExpired).
        try:
            return LeaseRecord.model_validate_json(self._fs.cat_file(self._path))
        except (FileNotFoundError, ValidationError):
            return None

    async def _write(self, *, released: bool) -> None:
        record = LeaseRecord(owner=self.owner, beat_at=time.time(), released=released)
        await asyncio.get_running_loop().run_in_executor(_IO, self._write_sync, record)

    def _write_sync(self, record: LeaseRecord) -> None:
        self._fs.makedirs(posixpath.dirname(self._path), exist_ok=True)
        write_bytes(self._fs, self._path, record.model_dump_json().encode())
