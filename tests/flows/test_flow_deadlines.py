"""A flow's timeout_seconds ends its wait whatever fails: each fault, bounded on the wall clock.

The job is accepted, then every poll fails (502, a never-ending 5xx burst,
answers slower than the read timeout, connections refused). The flow must end
within its deadline plus one request timeout (plus slack for a loaded machine)
with VideoNotStored naming the job, where before it retried for ever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from prefect_sora._errors import VideoNotStored
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video

pytestmark = pytest.mark.timeout(120)  # a wait that ignores its deadline fails here, not in CI's hour

T = 3.0
REQUEST_TIMEOUT = 1.0
SLACK = 10.0
STUCK = "A lighthouse in fog [emulator:stuck]"


def _502(emulator: Emulator) -> None:
    emulator.inject("502", count=100_000, endpoint="retrieve")


def _burst(emulator: Emulator) -> None:
    emulator.configure(error_burst_rate=1.0, fault_endpoints=["retrieve"])


def _slow(emulator: Emulator) -> None:
    emulator.configure(slow_seconds=REQUEST_TIMEOUT * 5)
    emulator.inject("slow", count=100_000, endpoint="retrieve")


#: Faults that leave the create alone and break every poll: (how, the error under VideoNotStored).
POLL_FAULTS: dict[str, tuple[Callable[[Emulator], None], str]] = {
    "502-every-poll": (_502, "ServerError"),
    "5xx-burst-rate-1": (_burst, "ServerError"),
    "slower-than-read-timeout": (_slow, "TransportError"),
}


@pytest.fixture
def fragile(sora_emulator: Emulator, api_key: str) -> SoraCredentials:
    """A short request timeout and retries enough that only the deadline can end a wait."""
    return SoraCredentials(
        api_key=api_key,
        base_url=sora_emulator.base_url,
        timeout_seconds=REQUEST_TIMEOUT,
        connect_timeout_seconds=REQUEST_TIMEOUT,
        max_retries=20,
    )


@pytest.mark.parametrize("fault", list(POLL_FAULTS))
def test_text_to_video_ends_by_its_deadline_when_every_poll_fails(
    fragile: SoraCredentials, sora_emulator: Emulator, out: str, fault: str
) -> None:
    breaks, reason = POLL_FAULTS[fault]
    breaks(sora_emulator)

    started = time.monotonic()
    with pytest.raises(VideoNotStored) as caught:
        asyncio.run(text_to_video(STUCK, out=out, credentials=fragile, timeout_seconds=T))
    elapsed = time.monotonic() - started

    stats = sora_emulator.stats()
    assert stats["creates"] == 1
    assert caught.value.reason == reason
    assert caught.value.video_id is not None and sora_emulator.plan(caught.value.video_id)  # the job made
    assert elapsed < T + REQUEST_TIMEOUT + SLACK


def test_a_resumed_text_to_video_ends_by_its_deadline_when_the_connection_is_refused(
    fragile: SoraCredentials, sora_emulator: Emulator, out: str
) -> None:
    # The first run records the job and times out; the rerun resumes it by id with the gateway gone.
    with pytest.raises(VideoNotStored) as first:
        asyncio.run(text_to_video(STUCK, out=out, credentials=fragile, timeout_seconds=0.5, idempotency_key="k"))
    assert first.value.reason == "WaitTimeout"
    sora_emulator.stop()

    started = time.monotonic()
    with pytest.raises(VideoNotStored) as caught:
        asyncio.run(text_to_video(STUCK, out=out, credentials=fragile, timeout_seconds=T, idempotency_key="k"))
    elapsed = time.monotonic() - started

    assert caught.value.reason == "TransportError"
    assert caught.value.video_id == first.value.video_id
    assert sora_emulator.stats()["creates"] == 1
    assert elapsed < T + REQUEST_TIMEOUT + SLACK


def test_a_batch_ends_by_its_deadline_when_every_poll_fails(
    fragile: SoraCredentials, sora_emulator: Emulator, out: str
) -> None:
    _502(sora_emulator)
    requests = [{"prompt": f"{STUCK} {n}"} for n in range(3)]

    started = time.monotonic()
    state = asyncio.run(
        batch_text_to_video(requests, out=out, credentials=fragile, timeout_seconds=T, return_state=True)
    )
    elapsed = time.monotonic() - started

    error = state.result(raise_on_failure=False)
    items = error.result.items
    assert sorted(item.error_type or "" for item in items) == ["ServerError"] * 3
    assert all(item.video_id and sora_emulator.plan(item.video_id) for item in items)  # each its job's id
    assert sora_emulator.stats()["creates"] == 3
    assert elapsed < T + REQUEST_TIMEOUT + SLACK
