"""The wait loop: poll a job on the predicted schedule until it is terminal.

Separate from the Prefect task so flows, the CLI and plain asyncio code share
one loop. The caller supplies a deadline and a callback for changes (the task
turns them into log lines and a progress artifact).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from prefect_sora.client import SoraClient
from prefect_sora.errors import JobFailed, JobPending, WaitTimeout
from prefect_sora.models import PENDING_STATUSES, TERMINAL_STATUSES, Video
from prefect_sora.polling import PollSchedule, expected_duration

logger = logging.getLogger("prefect_sora.waiting")

OnChange = Callable[[Video], Awaitable[None]]

#: Called with every change any wait in this context sees; the command line's
#: progress bar listens here without the flows having to know about it.
progress_listener: ContextVar[Callable[[Video], None] | None] = ContextVar("progress_listener", default=None)


async def wait_for_video(
    client: SoraClient,
    video: Video | str,
    *,
    timeout: float | None = 3600.0,
    window: float | None = None,
    on_change: OnChange | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Video:
    """Poll until the job is ``completed`` and return it.

    Args:
        client: An open client.
        video: The job, or its id.
        timeout: Seconds to wait in all before giving up (None: no deadline).
        window: Seconds this call polls before raising :class:`JobPending` so that
            the caller can retry; the Prefect task uses this to retry while pending.
        on_change: Awaited with the job whenever its status or progress changes.
        clock: Monotonic clock (injectable for tests).

    Raises:
        JobFailed: the job ended ``failed``; carries the service's code and message.
        WaitTimeout: ``timeout`` passed first; the job may still finish, resume with its id.
        JobPending: ``window`` passed first.
    """
    start = clock()
    video_id = video if isinstance(video, str) else video.id
    current = None if isinstance(video, str) else video
    schedule = PollSchedule(
        started=start,
        expected_seconds=expected_duration(current.seconds, current.size) if current else 30.0,
    )
    deadline = start + timeout if timeout is not None else None
    window_end = start + window if window is not None else None
    seen: tuple[str, float] | None = None
    hint: float | None = None
    warned_unknown = False
    while True:
        if current is None:
            polled = await client.poll_video(video_id)
            current, hint = polled.video, polled.poll_after
            if not schedule.observations:
                _resume(schedule, current, clock())
        now = clock()
        schedule.observe(now, current.status, current.progress)
        if (current.status, current.progress) != seen:
            seen = (current.status, current.progress)
            if on_change is not None:
                await on_change(current)
            if (listener := progress_listener.get()) is not None:
                listener(current)
        if current.status == "completed":
            return current
        if current.status == "failed":
            error = current.error
            raise JobFailed(
                f"Job failed: {error.message if error and error.message else 'no reason given'}",
                code=error.code if error else None,
                video_id=current.id,
            )
        if current.status not in PENDING_STATUSES and not warned_unknown:
            warned_unknown = True
            logger.warning(
                "Video %s reports unknown status %r; treating it as pending",
                current.id,
                current.status,
            )
        delay = schedule.next_delay(now, hint)
        for end, error_type in ((deadline, WaitTimeout), (window_end, JobPending)):
            if end is not None and now >= end:
                raise error_type(
                    f"Video {current.id} is still {current.status} at {current.progress:.0f}% "
                    f"after {now - start:.0f}s; resume by waiting on its id",
                    status=current.status,
                    progress=current.progress,
                    video_id=current.id,
                )
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        if window_end is not None:
            delay = min(delay, max(0.0, window_end - now))
        logger.debug(
            "Video %s %s %.0f%%; next poll in %.2fs",
            current.id,
            current.status,
            current.progress,
            delay,
        )
        await asyncio.sleep(delay)
        current = None


def _resume(schedule: PollSchedule, video: Video, now: float) -> None:
    """Fit the schedule to a job first seen by id: its own prior, and its age from ``created_at``."""
    schedule.expected_seconds = expected_duration(video.seconds, video.size)
    if video.created_at is not None:
        # The server's clock, in whole seconds: only ever makes the job older than the wait.
        schedule.started = min(schedule.started, now - max(0.0, time.time() - video.created_at))


__all__ = ["TERMINAL_STATUSES", "wait_for_video"]
