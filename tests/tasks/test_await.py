"""await_video: returns the completed job, fails fast on a failed one, retries while pending, polls sparingly."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run
from prefect.states import State

from prefect_sora._errors import JobFailed, WaitTimeout
from prefect_sora._models import Video
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import _wait as wait
from prefect_sora.tasks import await_video, submit_video
from prefect_sora.tasks._wait import _first_start


def wait_in_a_flow(
    credentials: SoraCredentials, prompt: str, *, by_id: bool = False, **options: Any
) -> tuple[State[Any], UUID]:
    """Submit ``prompt`` and await it in a sync flow; the await's final state and the flow run id.

    The emulator's ``openai-poll-after-ms`` (on the create's answer, then on each poll)
    says when the job is due, so neither way of waiting sleeps on the job's prior.
    """

    @flow
    def generate() -> tuple[State[Any], UUID]:
        video = submit_video(credentials, prompt=prompt)
        state = await_video(credentials, video=video.id if by_id else video, return_state=True, **options)
        return state, UUID(flow_run.id)

    return generate()


def test_a_completed_job_is_returned(credentials: SoraCredentials, final_task_run: Any) -> None:
    state, _ = wait_in_a_flow(credentials, "a koi pond")

    video = state.result()
    assert isinstance(video, Video)
    assert video.status == "completed"
    assert video.progress == 100
    assert final_task_run(state.state_details.task_run_id).run_count == 1


def test_a_failed_job_raises_job_failed_with_the_services_code_and_is_not_retried(
    credentials: SoraCredentials, sora_emulator: Emulator, final_task_run: Any
) -> None:
    state, _ = wait_in_a_flow(credentials, "a koi pond [emulator:fail=moderation_blocked]")

    error = state.result(raise_on_failure=False)
    assert isinstance(error, JobFailed)
    assert error.code == "moderation_blocked"
    assert error.video_id is not None
    assert "moderation" in error.message.lower() or "blocked" in error.message.lower()
    assert final_task_run(state.state_details.task_run_id).run_count == 1
    assert sora_emulator.stats()["polls"][error.video_id] <= 3


def test_a_stuck_job_raises_wait_timeout_with_its_id_once_the_deadline_passes(
    credentials: SoraCredentials, final_task_run: Any
) -> None:
    started = time.monotonic()
    state, _ = wait_in_a_flow(credentials, "a koi pond [emulator:stuck]", timeout_seconds=1.0, poll_window_seconds=0.4)
    elapsed = time.monotonic() - started

    error = state.result(raise_on_failure=False)
    assert isinstance(error, WaitTimeout)
    assert error.video_id is not None and error.video_id.startswith("video_")
    assert error.status == "in_progress"
    assert 1.0 <= elapsed < 30.0  # not before the deadline, nor long after (the margin is for a loaded machine)
    # Two windows of 0.4 s retried on JobPending, then the last one ends at the deadline.
    assert final_task_run(state.state_details.task_run_id).run_count >= 2


def test_with_a_short_poll_window_the_task_retries_while_pending_and_returns_the_video(
    credentials: SoraCredentials, final_task_run: Any
) -> None:
    state, _ = wait_in_a_flow(credentials, "a koi pond [emulator:seconds=1.5]", poll_window_seconds=0.3)

    video = state.result()
    assert video.status == "completed"
    run = final_task_run(state.state_details.task_run_id)
    assert run.run_count > 1
    assert run.state.is_completed()


def test_one_progress_artifact_follows_the_job_across_retries(
    credentials: SoraCredentials, prefect_client: Any
) -> None:
    state, flow_run_id = wait_in_a_flow(credentials, "a koi pond [emulator:seconds=1.2]", poll_window_seconds=0.3)

    artifacts = prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    assert [artifact.type for artifact in artifacts] == ["progress"]
    assert artifacts[0].data == 100
    assert artifacts[0].task_run_id == state.state_details.task_run_id
    assert artifacts[0].description == f"Sora video {state.result().id}: completed"


@pytest.mark.parametrize("by_id", [False, True], ids=["on-the-submitted-job", "by-id"])
def test_a_three_second_job_is_polled_a_handful_of_times(
    credentials: SoraCredentials, sora_emulator: Emulator, record_property: Any, by_id: bool
) -> None:
    state, _ = wait_in_a_flow(credentials, "a koi pond [emulator:seconds=3]", by_id=by_id)
    returned_at = time.time()

    video = state.result()
    polls = sora_emulator.stats()["polls"][video.id]
    late = returned_at - sora_emulator.plan(video.id)["ends_at"]
    record_property("polls_for_a_3s_job", polls)
    print(
        f"polls for a 3 s job ({'by id' if by_id else 'on the job'}): {polls}, returned {late:.2f}s after it completed"
    )
    assert polls <= 8  # polling once a second would be 3 or more; a tight loop, dozens
    assert late < 5.0  # nor by sleeping long past the end (the schedule's tail is 1.5 s; the rest is load)


def test_status_changes_log_at_info_progress_at_debug_and_the_key_nowhere(
    credentials: SoraCredentials, sora_emulator: Emulator, log_records: pytest.LogCaptureFixture, api_key: str
) -> None:
    sora_emulator.inject("500", endpoint="retrieve")  # so that the client logs a retry too
    # Hint a poll every 0.2 s: the default hint (the job's planned end) would let the
    # wait read the job only once it is done, with no progress to log in between.
    sora_emulator.configure(poll_after_ms=200)

    state, _ = wait_in_a_flow(credentials, "a koi pond [emulator:seconds=2]", poll_window_seconds=0.5)
    video_id = state.result().id

    status_line = re.compile(rf"^Video {video_id} is (\w+) \(")
    mine = [r for r in log_records.records if video_id in r.getMessage()]
    info = [r.getMessage() for r in mine if r.levelno == logging.INFO and status_line.match(r.getMessage())]
    statuses = [status_line.match(message).group(1) for message in info]  # type: ignore[union-attr]
    # Each status once, in the job's order (the first read may already find it in progress).
    assert statuses in (["queued", "in_progress", "completed"], ["in_progress", "completed"]), info
    progress = [r for r in mine if re.match(rf"^Video {video_id} progress ", r.getMessage())]
    assert progress and all(r.levelno == logging.DEBUG for r in progress)
    retries = [
        r for r in log_records.records if r.name == "prefect_sora._transport.client" and "retry 1" in r.getMessage()
    ]
    assert [r.levelno for r in retries] == [logging.DEBUG]
    assert not [r for r in log_records.records if api_key in r.getMessage()]


def test_the_deadline_runs_from_the_task_runs_first_start_not_from_process_memory() -> None:
    # Prefect keeps start_time across the retries of one task run: the deadline spans them all.
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    retried = TaskRun(task_key="await-video", dynamic_key="0", start_time=started, run_count=7)
    scheduled = TaskRun(task_key="await-video", dynamic_key="1", expected_start_time=started)

    assert _first_start(retried) == started
    assert _first_start(scheduled) == started, "not started yet: its expected start"
    assert abs((_first_start(None) - datetime.now(timezone.utc)).total_seconds()) < 5, "outside a run: now"
    assert not [name for name, value in vars(wait).items() if isinstance(value, dict) and not name.startswith("__")]
