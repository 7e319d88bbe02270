"""The await_video task: retry while the job is not terminal, return it once completed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import Task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext

from prefect_sora.blocks.credentials import SoraCredentials
from prefect_sora.errors import JobPending, TransientError
from prefect_sora.models import Video
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._dispatch import dual_task
from prefect_sora.waiting import wait_for_video


@dataclass
class _Run:
    """What one await_video task run carries from attempt to attempt."""

    started: float
    artifact: UUID | None = None
    status: str | None = None


#: Each await_video task run's first start, artifact and last logged status, so the
#: deadline spans every retry and a retry neither repeats a status nor adds an artifact.
_runs: dict[UUID, _Run] = {}


def retry_while_pending(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry condition of ``await_video``: retry while the job is pending or the API hiccups.

    A failed job (:class:`~prefect_sora.errors.JobFailed`), a passed deadline
    (:class:`~prefect_sora.errors.WaitTimeout`) and request errors are final.
    """
    # Prefect puts the raised exception in the Failed state's data.
    return isinstance(state.data, (JobPending, TransientError))


@dual_task(
    name="await-video",
    # Each attempt polls for poll_window_seconds; the retries carry the wait on
    # while the job is pending, bounded by timeout_seconds across all of them.
    retries=10_000,
    retry_delay_seconds=0,
    retry_condition_fn=retry_while_pending,
    # The status changes between calls with the same inputs: never cache a poll.
    cache_policy=NO_CACHE,
)
async def await_video(
    credentials: SoraCredentials,
    video: Video | str,
    *,
    timeout_seconds: float | None = 3600.0,
    poll_window_seconds: float = 300.0,
    progress_artifact: bool = True,
) -> Video:
    """Wait for a job to complete and return it.

    Polls on a schedule predicted from the job's own progress (and the server's
    ``openai-poll-after-ms``), not a fixed tight loop. The task retries while
    the job is ``queued`` or ``in_progress``: each attempt polls for up to
    ``poll_window_seconds``, then raises ``JobPending`` and is retried, until
    ``timeout_seconds`` have passed since the first attempt. Logs one INFO line
    per status change (progress at DEBUG) and keeps a progress artifact.

    Args:
        credentials: The API key and base URL.
        video: The job, or its id (to resume a wait).
        timeout_seconds: The overall deadline; None waits for as long as it takes.
        poll_window_seconds: How long one attempt polls before it is retried.
        progress_artifact: Show the job's progress in the Prefect UI.

    Returns:
        The completed job.

    Raises:
        JobFailed: the job ended ``failed`` (not billed); carries the service's code and message.
        WaitTimeout: the deadline passed; the job may still finish, wait again on ``video_id``.

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, submit_video

        @flow
        def generate() -> str:
            with Emulator(job_seconds=2) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                video = submit_video(credentials, "Waves on black sand, aerial shot")
                return await_video(credentials, video, timeout_seconds=60).status  # "completed"
        ```
    """
    context = TaskRunContext.get()
    run_id = context.task_run.id if context else None
    now = time.monotonic()
    retrying = run_id is not None and run_id in _runs
    run = _runs.setdefault(run_id, _Run(now)) if run_id else _Run(now)
    first = run.started
    remaining = None if timeout_seconds is None else max(0.0, timeout_seconds - (now - first))
    window = poll_window_seconds if remaining is None else min(poll_window_seconds, remaining)
    logger = run_logger(__name__)
    video_id = video if isinstance(video, str) else video.id

    async def on_change(current: Video) -> None:
        if run.status != current.status:
            run.status = current.status
            logger.info("Video %s is %s (%.0f%%)", current.id, current.status, current.progress)
        else:
            logger.debug("Video %s progress %.0f%%", current.id, current.progress)
        if progress_artifact and context is not None:
            if run.artifact is None:
                run.artifact = await acreate_progress_artifact(
                    progress=current.progress, description=f"Sora video {current.id}"
                )
            else:
                await aupdate_progress_artifact(run.artifact, progress=current.progress)

    retried = False
    try:
        async with credentials.get_client() as client:
            # Hand on the window only if it ends before the deadline, so that the
            # last attempt raises WaitTimeout rather than JobPending.
            last_attempt = remaining is not None and remaining <= poll_window_seconds
            completed = await wait_for_video(
                client,
                # A retry starts from a fresh poll: the job passed in is as old as the first attempt.
                video_id if retrying else video,
                timeout=remaining if last_attempt else None,
                window=None if last_attempt else window,
                on_change=on_change,
            )
    except (JobPending, TransientError):
        retried = True  # the retry keeps the first start, so the deadline holds
        raise
    finally:
        if run_id is not None and not retried:
            _runs.pop(run_id, None)
    logger.info("Video %s completed after %.0fs", video_id, time.monotonic() - first)
    return completed
