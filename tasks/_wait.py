"""The await_video task: retry while the job is not terminal, return it once completed.

Each attempt polls for a window, then raises ``JobPending`` and is retried. What
spans the attempts comes from the task run itself, not from process memory: the
deadline runs from the task run's first start, a retry is told by its run count,
and the progress artifact (found by the task run's id) keeps the last status seen.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from prefect import Task, get_client
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterTaskRunId, ArtifactFilterType
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext

from prefect_sora._errors import JobPending
from prefect_sora._models import Video
from prefect_sora._transport.waiting import wait_for_video
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks import _events as events
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._dispatch import dual_task

#: The progress artifact's description, which also carries the status across retries.
_DESCRIPTION = "Sora video {video_id}: {status}"
_STATUS = re.compile(r": (\S+)$")


def retry_while_pending(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry condition of ``await_video``: retry while the job is pending, and only then.

    A failed job (:class:`~prefect_sora._errors.JobFailed`), a passed deadline
    (:class:`~prefect_sora._errors.WaitTimeout`) and every request error are
    final: a transport fault was already retried by the client, within the deadline.
    """
    # Prefect puts the raised exception in the Failed state's data.
    return isinstance(state.data, JobPending)


@dual_task(
    name="await-video",
    # Each attempt polls for poll_window_seconds; the retries carry the wait on
    # while the job is pending (JobPending only), bounded by timeout_seconds across
    # all of them. Transport faults are the client's to retry, never this task's.
    retries=10_000,
    retry_delay_seconds=0,
    retry_condition_fn=retry_while_pending,
    # The status changes between calls with the same inputs: never cache a poll.
    cache_policy=NO_CACHE,
    positional=("video",),
)
async def await_video(
    credentials: SoraCredentials,
    *,
    video: Video | str,
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
        JobFailed: the job ended ``failed``, ``error`` or ``rejected`` (not billed); carries
            the service's code and message and the status. At once, not retried.
        JobCancelled: the job was ``cancelled`` / ``canceled`` (a JobFailed; not billed).
        ContentExpired: the job's status is ``expired``.
        UnknownStatus: a status no one documented outlasted the block's
            ``unknown_status_grace_seconds``; the job may still finish.
        WaitTimeout: the deadline passed; the job may still finish, wait again on ``video_id``.
        TransientError: polls kept failing (5xx, refused or timed-out connections) after the
            client's retries, which end by the deadline; carries ``video_id``. Not retried.

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
                video = submit_video(credentials, prompt="Waves on black sand, aerial shot")
                return await_video(credentials, video=video, timeout_seconds=60).status  # "completed"
        ```
    """
    task_run = context.task_run if (context := TaskRunContext.get()) else None
    started = _first_start(task_run)
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    remaining = None if timeout_seconds is None else max(0.0, timeout_seconds - elapsed)
    window = poll_window_seconds if remaining is None else min(poll_window_seconds, remaining)
    retrying = task_run is not None and task_run.run_count > 1
    progress = _Progress(task_run.id if task_run and progress_artifact else None)
    if retrying:
        await progress.resume()  # the artifact and status the earlier attempts left
    logger = run_logger(__name__)
    video_id = video if isinstance(video, str) else video.id

    async def on_change(current: Video) -> None:
        if progress.status != current.status:
            logger.info("Video %s is %s (%.0f%%)", current.id, current.status, current.progress)
        else:
            logger.debug("Video %s progress %.0f%%", current.id, current.progress)
        await progress.show(current)

    async with credentials.get_client() as client:
        # Hand on the window only if it ends before the deadline, so that the
        # last attempt raises WaitTimeout rather than JobPending. The deadline goes
        # to every attempt: it also bounds the client's retries of each poll.
        last_attempt = remaining is not None and remaining <= poll_window_seconds
        with events.ending(credentials=credentials):  # sora.video.failed, cancelled or expired
            completed = await wait_for_video(
                client,
                # A retry starts from a fresh poll: the job passed in is as old as the first attempt.
                video_id if retrying else video,
                timeout=remaining,
                window=None if last_attempt else window,
                on_change=on_change,
            )
    events.completed(completed, credentials=credentials)
    waited = (datetime.now(timezone.utc) - started).total_seconds()
    logger.info("Video %s completed after %.0fs", video_id, waited)
    return completed


def _first_start(task_run: TaskRun | None) -> datetime:
    """When the task run first started: retries keep it, so the deadline spans all of them."""
    started = task_run and (task_run.start_time or task_run.expected_start_time)
    return started.astimezone(timezone.utc) if started else datetime.now(timezone.utc)


class _Progress:
    """The task run's one progress artifact; its description holds the job's last status."""

    def __init__(self, task_run_id: UUID | None) -> None:
        self.task_run_id = task_run_id
        self.artifact: UUID | None = None
        self.status: str | None = None

    async def resume(self) -> None:
        """Pick up the artifact (and the status it shows) that an earlier attempt of this task run made."""
        if self.task_run_id is None:
            return
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    task_run_id=ArtifactFilterTaskRunId(any_=[self.task_run_id]),
                    type=ArtifactFilterType(any_=["progress"]),
                ),
                limit=1,
            )
        if found:
            self.artifact = found[0].id
            status = _STATUS.search(found[0].description or "")
            self.status = status[1] if status else None

    async def show(self, video: Video) -> None:
        changed, self.status = self.status != video.status, video.status
        if self.task_run_id is None:
            return
        description = _DESCRIPTION.format(video_id=video.id, status=video.status)
        if self.artifact is None:
            self.artifact = await acreate_progress_artifact(progress=video.progress, description=description)
        else:
            await aupdate_progress_artifact(
                self.artifact, progress=video.progress, description=description if changed else None
            )
