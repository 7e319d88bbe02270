"""Leases on shared storage: one live owner, a dead owner's lease taken over, a live one waited out."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from prefect_sora._durable.lease import Lease, LeaseLost
from prefect_sora._errors import InvalidParameter

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["local", "memory"])
def lease_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "shards" / "0.lease")
    return f"memory://leases-{uuid.uuid4().hex}/shards/0.lease"


async def test_a_free_lease_is_taken_at_once_and_beats_renew_it(lease_url: str) -> None:
    lease = Lease(lease_url, "run-a", interval=0.2, stale_after=1.0)

    await lease.acquire(timeout=5)
    first = await lease.read()
    await asyncio.sleep(0.05)
    await lease.beat()
    second = await lease.read()

    assert first is not None and second is not None
    assert first.owner == second.owner == "run-a"
    assert second.beat_at > first.beat_at
    assert not lease.is_stale(second)


async def test_a_live_owners_lease_is_waited_out_not_stolen(lease_url: str) -> None:
    holder = Lease(lease_url, "run-a", interval=0.2, stale_after=1.0)
    await holder.acquire(timeout=5)
    keeping = asyncio.create_task(holder.keep())
    try:
        with pytest.raises(TimeoutError, match="run-a"):
            await Lease(lease_url, "run-b", interval=0.2, stale_after=1.0).acquire(timeout=1.5)
    finally:
        keeping.cancel()
    record = await holder.read()
    assert record is not None and record.owner == "run-a"


async def test_a_dead_owners_lease_is_taken_over_and_the_old_owner_learns_it(lease_url: str) -> None:
    dead = Lease(lease_url, "run-a", interval=0.2, stale_after=0.6)
    await dead.acquire(timeout=5)  # then it stops beating: the worker was killed

    started = time.monotonic()
    successor = Lease(lease_url, "run-b", interval=0.2, stale_after=0.6)
    await successor.acquire(timeout=5)

    record = await successor.read()
    assert record is not None and record.owner == "run-b"
    assert time.monotonic() - started >= 0.4  # it waited for the lease to go stale
    with pytest.raises(LeaseLost, match="run-b"):
        await dead.beat()  # had the old owner only been slow, it now stops


async def test_a_released_lease_is_taken_without_waiting(lease_url: str) -> None:
    first = Lease(lease_url, "run-a", interval=0.5, stale_after=30.0)
    await first.acquire(timeout=5)
    await first.release()

    started = time.monotonic()
    await Lease(lease_url, "run-b", interval=0.5, stale_after=30.0).acquire(timeout=5)

    assert time.monotonic() - started < 5  # far less than stale_after
    record = await first.read()
    assert record is not None and record.owner == "run-b" and not record.released


def test_an_interval_that_leaves_no_room_before_staleness_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="stale_after"):
        Lease("memory://x/0.lease", "run-a", interval=10, stale_after=15)
    with pytest.raises(InvalidParameter, match="interval"):
        Lease("memory://x/0.lease", "run-a", interval=0, stale_after=15)
