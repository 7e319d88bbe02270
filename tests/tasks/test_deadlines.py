"""Every wait ends by its deadline, whatever fails; a download with the upstream down ends within its budget.

Each fault is played by the real emulator over loopback: 502 to every poll, a
burst of 5xx that never ends, polls answered later than the read timeout, and
connections refused (the emulator stopped after the create). The bounds are
generous upper bounds for a loaded machine, never exact times: what they catch
is a wait that goes on retrying after its deadline (before, it never ended).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect import flow

from prefect_sora._errors import ServerError, TransientError, TransportError
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import await_video, fetch_video

pytestmark = pytest.mark.timeout(120)  # a wait that ignores its deadline fails here, not in CI's hour

#: The wait's deadline in these tests.
T = 3.0
#: The block's request timeout: the most a poll begun before the deadline may add to it.
REQUEST_TIMEOUT = 1.0
#: What a loaded machine may add (a flow's start, the Prefect server's bookkeeping).
SLACK = 10.0


def _502(emulator: Emulator) -> None:
    emulator.inject("502", count=100_000, endpoint="retrieve")


def _burst(emulator: Emulator) -> None:
    emulator.configure(error_burst_rate=1.0, fault_endpoints=["retrieve"])


def _slow(emulator: Emulator) -> None:
    emulator.configure(slow_seconds=REQUEST_TIMEOUT * 5)
    emulator.inject("slow", count=100_000, endpoint="retrieve")


def _refused(emulator: Emulator) -> None:
    emulator.stop()


#: fault name -> (how to break the emulator after the create, the error the wait ends with)
FAULTS: dict[str, tuple[Callable[[Emulator], None], type[TransientError]]] = {
    "502-every-poll": (_502, ServerError),
    "5xx-burst-rate-1": (_burst, ServerError),
    "slower-than-read-timeout": (_slow, TransportError),
    "connection-refused": (_refused, TransportError),
}


@pytest.fixture
def fragile(sora_emulator: Emulator, api_key: str) -> SoraCredentials:
    """A block with a short request timeout and retries enough that only the deadline can end a wait."""
    return SoraCredentials(
        api_key=api_key,
        base_url=sora_emulator.base_url,
        timeout_seconds=REQUEST_TIMEOUT,
        connect_timeout_seconds=REQUEST_TIMEOUT,
        max_retries=20,
    )


def create_stuck_job(emulator: Emulator, api_key: str) -> str:
    """A job that never completes, made with a plain HTTP request (the client under test is not involved)."""
    response = httpx.post(
        f"{emulator.base_url}/videos",
        json={"prompt": "a koi pond [emulator:stuck]", "model": "sora-2", "seconds": "4", "size": "720x1280"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    response.raise_for_status()
    return str(response.json()["id"])


@pytest.mark.parametrize("fault", list(FAULTS))
def test_await_video_ends_by_its_deadline_when_every_poll_fails(
    fragile: SoraCredentials, sora_emulator: Emulator, api_key: str, final_task_run: Any, fault: str
) -> None:
    video_id = create_stuck_job(sora_emulator, api_key)
    breaks, expected = FAULTS[fault]
    breaks(sora_emulator)

    @flow
    def wait() -> Any:
        # In a tuple: a failed state returned bare would fail the flow.
        return (await_video(fragile, video=video_id, timeout_seconds=T, return_state=True),)

    started = time.monotonic()
    (state,) = wait()
    elapsed = time.monotonic() - started

    error = state.result(raise_on_failure=False)
    assert isinstance(error, expected), error
    assert error.video_id == video_id
    assert elapsed < T + REQUEST_TIMEOUT + SLACK
    # The client retried the polls; the task did not retry what the client gave up on.
    assert final_task_run(state.state_details.task_run_id).run_count == 1
    faults = sora_emulator.stats()["faults"]
    if fault != "connection-refused":
        assert sum(faults.values()) >= 2


def test_with_a_long_deadline_the_clients_budget_ends_a_wait_whose_polls_all_fail(
    sora_emulator: Emulator, api_key: str, final_task_run: Any
) -> None:
    credentials = SoraCredentials(
        api_key=api_key, base_url=sora_emulator.base_url, timeout_seconds=REQUEST_TIMEOUT, retry_window_seconds=2.0
    )
    video_id = create_stuck_job(sora_emulator, api_key)
    _502(sora_emulator)

    @flow
    def wait() -> Any:
        return (await_video(credentials, video=video_id, timeout_seconds=3600, return_state=True),)

    started = time.monotonic()
    (state,) = wait()
    elapsed = time.monotonic() - started

    error = state.result(raise_on_failure=False)
    assert isinstance(error, ServerError) and error.video_id == video_id and error.status_code == 502
    assert elapsed < 2.0 + REQUEST_TIMEOUT + SLACK
    assert final_task_run(state.state_details.task_run_id).run_count == 1


def completed_video(credentials: SoraCredentials, emulator: Emulator, api_key: str) -> str:
    response = httpx.post(
        f"{emulator.base_url}/videos",
        json={"prompt": "a koi pond [emulator:seconds=0]", "model": "sora-2", "seconds": "4", "size": "720x1280"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    return str(response.json()["id"])


@pytest.mark.parametrize("fault", ["502-every-download", "connection-refused"])
def test_fetch_video_with_the_upstream_down_ends_within_the_clients_budget_and_is_not_retried_by_the_task(
    sora_emulator: Emulator, api_key: str, tmp_path: Path, final_task_run: Any, fault: str
) -> None:
    credentials = SoraCredentials(
        api_key=api_key,
        base_url=sora_emulator.base_url,
        timeout_seconds=REQUEST_TIMEOUT,
        max_retries=20,
        retry_window_seconds=2.0,
    )
    video_id = completed_video(credentials, sora_emulator, api_key)
    if fault == "connection-refused":
        sora_emulator.stop()
    else:
        sora_emulator.inject("502", count=100_000, endpoint="content")

    @flow
    def fetch() -> Any:
        return (fetch_video(credentials, video=video_id, destination=f"{tmp_path}/", return_state=True),)

    started = time.monotonic()
    (state,) = fetch()
    elapsed = time.monotonic() - started

    error = state.result(raise_on_failure=False)
    assert isinstance(error, ServerError if fault != "connection-refused" else TransportError), error
    assert error.video_id == video_id
    assert elapsed < 2.0 + REQUEST_TIMEOUT + SLACK
    assert final_task_run(state.state_details.task_run_id).run_count == 1
    assert list(tmp_path.iterdir()) == []
    if fault != "connection-refused":
        # Retried by the client (2 s of backoff that doubles from 0.5 s: 2 to 4 attempts), by nothing else.
        assert 2 <= sora_emulator.stats()["faults"]["502"] <= 6
