"""The one atomic write (a hidden partial, then a move) and the batched, threaded write_atomic built on it.

Found by the download and fan-out benchmarks (hashing on the event loop, a 1 MiB
re-chunking copy, a stat of every file in the folder per write, a whole-video copy on
``memory://``); these pin down that the faster path still checks, cleans up and moves.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem

from prefect_sora._durable.atomic import write_bytes
from prefect_sora._durable.journal import Journal, JournalEntry
from prefect_sora._durable.lease import Lease
from prefect_sora._durable.storage import BATCH_BYTES, write_atomic
from prefect_sora._errors import InvalidContent

MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomavc1"


async def pieces(data: bytes, size: int = 65536, pause_after: int | None = None) -> AsyncIterator[bytes]:
    for index, start in enumerate(range(0, len(data), size)):
        if pause_after is not None and index == pause_after:
            await asyncio.sleep(30)
        yield data[start : start + size]


def body(length: int) -> bytes:
    return (MP4 + bytes(range(256)) * (length // 256 + 1))[:length]


def test_a_body_of_several_batches_is_stored_whole_with_its_sha256(tmp_path: Path) -> None:
    data = body(2 * BATCH_BYTES + 12345)
    fs = fsspec.filesystem("file")
    target = str(tmp_path / "v.mp4")

    size, sha = asyncio.run(write_atomic(fs, target, pieces(data), variant="video", expected_length=len(data)))

    assert (size, sha) == (len(data), hashlib.sha256(data).hexdigest())
    assert Path(target).read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


class SlowLocal(LocalFileSystem):  # type: ignore[misc]
    """A local filesystem whose writes take a while, so a batch is still in the thread when cancelled."""

    cachable = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[float] = []

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        write = handle.write

        def slow(data: bytes) -> int:
            self.writes.append(time.monotonic())
            time.sleep(0.01)
            return int(write(data))

        handle.write = slow
        return handle


def test_a_cancelled_download_leaves_nothing_though_a_batch_was_being_written(tmp_path: Path) -> None:
    data = body(3 * BATCH_BYTES)
    fs = SlowLocal()
    in_thread = []

    async def cancel_midway() -> None:
        writing = asyncio.ensure_future(
            write_atomic(fs, str(tmp_path / "v.mp4"), pieces(data), variant="video", expected_length=len(data))
        )
        await asyncio.sleep(0.3)  # the first 4 MiB batch takes ~0.6 s in the thread
        in_thread.append(any(p.name.startswith(".v.mp4.partial-") for p in tmp_path.iterdir()))
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing
        finished.append(time.monotonic())
        await asyncio.sleep(1.0)  # time for a stray thread to show itself

    finished: list[float] = []
    asyncio.run(cancel_midway())

    assert in_thread == [True]
    assert list(tmp_path.iterdir()) == []
    # The thread finished its batch before the handle was closed and the partial removed.
    assert max(fs.writes) < finished[0]


@pytest.mark.parametrize("length", [BATCH_BYTES - 1, BATCH_BYTES + 1])
def test_fewer_bytes_than_announced_store_nothing(tmp_path: Path, length: int) -> None:
    data = body(length)
    fs = fsspec.filesystem("file")

    target = str(tmp_path / "v.mp4")

    with pytest.raises(InvalidContent, match="announced"):
        asyncio.run(write_atomic(fs, target, pieces(data), variant="video", expected_length=length + 7))

    assert list(tmp_path.iterdir()) == []


def test_only_this_files_leftover_partials_are_swept(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    (tmp_path / ".v.mp4.partial-0123456789ab").write_bytes(b"left by a killed run")
    (tmp_path / ".v.mp4.partial-ba9876543210").write_bytes(b"and another")
    (tmp_path / ".w.mp4.partial-0123456789ab").write_bytes(b"another file's")
    (tmp_path / ".v.mp4.partial").write_bytes(b"not a partial name: no suffix")
    data = body(1000)

    asyncio.run(write_atomic(fs, str(tmp_path / "v.mp4"), pieces(data), variant="video", expected_length=len(data)))

    assert sorted(p.name for p in tmp_path.iterdir()) == [".v.mp4.partial", ".w.mp4.partial-0123456789ab", "v.mp4"]


@pytest.mark.parametrize("protocol", ["file", "memory"])
def test_two_writers_of_one_video_both_succeed_and_leave_one_whole_file(protocol: str, tmp_path: Path) -> None:
    # A shard run restarted while the first was only slow: both download the same video.
    # The second one's leftover sweep must not make the first one's move fail.
    fs = fsspec.filesystem(protocol)
    folder = str(tmp_path) if protocol == "file" else f"/two-writers-{tmp_path.name}"
    target = f"{folder}/v.mp4"
    data = body(3 * BATCH_BYTES // 2)

    async def both() -> list[tuple[int, str]]:
        slow_started = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            async for piece in pieces(data, size=len(data) // 3):
                yield piece
                slow_started.set()
                await asyncio.sleep(0.2)

        async def fast() -> tuple[int, str]:
            await slow_started.wait()  # the slow writer's partial exists by now
            return await write_atomic(fs, target, pieces(data), variant="video", expected_length=len(data))

        first = write_atomic(fs, target, slow(), variant="video", expected_length=len(data))
        return list(await asyncio.gather(first, fast()))

    results = asyncio.run(both())

    digest = hashlib.sha256(data).hexdigest()
    assert results == [(len(data), digest), (len(data), digest)]
    assert fs.cat_file(target) == data
    assert [name for name in fs.ls(folder, detail=False) if ".partial-" in name] == []


def test_memory_destination_is_moved_by_rename_not_copied() -> None:
    fs = fsspec.filesystem("memory")
    data = body(BATCH_BYTES + 99)
    target = "/bench-write-atomic/v.mp4"

    asyncio.run(write_atomic(fs, target, pieces(data), variant="video", expected_length=len(data)))

    assert fs.cat_file(target) == data
    assert fs.ls("/bench-write-atomic", detail=False) == [target]
    stored = fs.store[target]
    assert stored.path == target
    fs.rm(target)


class FailingWrites(LocalFileSystem):  # type: ignore[misc]
    """A local filesystem whose writes fail once some bytes are down, as a full disk would."""

    cachable = False

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        if "w" in mode:
            write = handle.write

            def fail(data: bytes) -> int:
                write(data[:3])
                raise OSError(28, "No space left on device")

            handle.write = fail
        return handle


def test_a_failed_replace_keeps_the_old_record_whole_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "000001.json"
    target.write_bytes(b'{"old": true}')

    with pytest.raises(OSError, match="No space"):
        write_bytes(FailingWrites(), str(target), b'{"new": true}')

    assert [p.name for p in tmp_path.iterdir()] == ["000001.json"]
    assert target.read_bytes() == b'{"old": true}'


def test_journal_and_lease_records_are_replaced_through_the_same_partial_and_leave_none(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "journal"), "run-1")
    lease = Lease(str(tmp_path / "leases" / "shard-0.json"), "owner-a", interval=1, stale_after=3)

    async def write_both() -> None:
        await journal.save(JournalEntry(index=1, fingerprint="f"))
        await journal.save(JournalEntry(index=1, fingerprint="f", video_id="video_1", stage="submitted"))
        await lease.beat()

    asyncio.run(write_both())

    assert [p.name for p in (tmp_path / "journal" / "run-1").iterdir()] == ["000001.json"]
    assert [p.name for p in (tmp_path / "leases").iterdir()] == ["shard-0.json"]


def test_a_journal_sweeps_every_partial_a_killed_writer_left_and_nothing_else(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path), "run-1")
    asyncio.run(journal.save(JournalEntry(index=0, fingerprint="f")))
    folder = tmp_path / "run-1"
    (folder / ".000001.json.partial-0123456789ab").write_bytes(b"half a rec")
    (folder / ".000002.json.partial-ba9876543210").write_bytes(b"{")
    (folder / ".notes").write_bytes(b"not a partial")

    asyncio.run(journal.sweep())

    assert sorted(p.name for p in folder.iterdir()) == [".notes", "000000.json"]
