"""The wait loop: poll a job on the predicted schedule until it is terminal.

Separate from the Prefect task so flows, the CLI and plain asyncio code share
one loop. The caller supplies a deadline and a callback for changes (the task
turns them into log lines and a progress artifact).

Every status ends the wait or keeps it going by its category
(:func:`prefect_sora._transport.statuses.status_category`): a terminal one raises its
typed error at once, without another poll. A status never seen before is
waited on, with one warning, for the client's ``unknown_status_grace``
seconds; the clock of that grace survives the task's retries (it is kept per
video id in this process), so a wait split into windows still ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from prefect_sora._errors import ContentExpired, JobCancelled, JobFailed, JobPending, UnknownStatus, WaitTimeout
from prefect_sora._models import Video
from prefect_sora._transport import hints
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.polling import PollSchedule, expected_duration
from prefect_sora._transport.statuses import status_category

logger = logging.getLogger("prefect_sora._transport.waiting")

OnChange = Callable[[Video], Awaitable[None]]

#: Called with every change any wait in this context sees; the command line's
#: progress bar listens here without the flows having to know about it.
progress_listener: ContextVar[Callable[[Video], None] | None] = ContextVar("progress_listener", default=None)

#: Seconds a status nobody documented is waited on before the wait gives up on it.
DEFAULT_UNKNOWN_STATUS_GRACE = 900.0
#: video id -> when (on the wait's clock) its current run of unknown statuses was first seen.
_unknown_since: dict[str, float] = {}
_MAX_TRACKED = 10_000


async def wait_for_video(
    client: SoraClient,
    video: Video | str,
    *,
    timeout: float | None = 3600.0,
    window: float | None = None,
    on_change: OnChange | None = None,
    unknown_status_grace: float | None = None,
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
        unknown_status_grace: Seconds a status never seen before counts as pending
            (default: the client's ``unknown_status_grace``, else 900).
        clock: Monotonic clock (injectable for tests).

    Raises:
        JobFailed: the job ended ``failed``, ``error`` or ``rejected``; carries the
            service's code and message and the status.
        JobCancelled: the job was ``cancelled`` / ``canceled`` (not billed).
        ContentExpired: the job's status is ``expired``.
        UnknownStatus: an undocumented status outlasted ``unknown_status_grace``.
        WaitTimeout: ``timeout`` passed first; the job may still finish, resume with its id.
        JobPending: ``window`` passed first.
        TransientError: a poll still failed after the client's retries, which end by the
            deadline; carries ``video_id``. Not retried here or above.
    """
    start = clock()
    # The job's identity for every poll, error and log line, whatever id a poll's answer echoes.
    video_id = video if isinstance(video, str) else video.id
    current = None if isinstance(video, str) else video
    schedule = PollSchedule(
        started=start,
        expected_seconds=expected_duration(current.seconds, current.size) if current else 30.0,
    )
    deadline = start + timeout if timeout is not None else None
    window_end = start + window if window is not None else None
    seen: tuple[str, float] | None = None
    # A job handed in fresh from its create is first polled when the create's answer said.
    hint: float | None = None if current is None else hints.take(video_id)
    due: float | None = None  # when the schedule wanted this poll; the pacer serves the most overdue first
    if unknown_status_grace is None:
        unknown_status_grace = getattr(client, "unknown_status_grace", DEFAULT_UNKNOWN_STATUS_GRACE)
    while True:
        if current is None:
            # The poll's retries end with the wait: the deadline is handed down to the client.
            polled = await client.poll_video(video_id, due=due, deadline=_client_deadline(deadline, clock))
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
        category = status_category(current.status)
        if category == "completed":
            _unknown_since.pop(video_id, None)
            return current
        grace_left = None
        if category == "unknown":
            grace_left = _check_grace(current, now, unknown_status_grace)
        else:
            _unknown_since.pop(video_id, None)
            if category != "pending":
                raise terminal_error(current)
        delay = schedule.next_delay(now, hint)
        for end, error_type in ((deadline, WaitTimeout), (window_end, JobPending)):
            if end is not None and now >= end:
                if error_type is WaitTimeout:
                    _unknown_since.pop(video_id, None)  # waiting again is a new decision
                raise error_type(
                    f"Video {video_id} is still {current.status} at {current.progress:.0f}% "
                    f"after {now - start:.0f}s; resume by waiting on its id",
                    status=current.status,
                    progress=current.progress,
                    video_id=video_id,
                )
        if grace_left is not None:
            delay = min(delay, grace_left)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        if window_end is not None:
            delay = min(delay, max(0.0, window_end - now))
        logger.debug(
            "Video %s %s %.0f%%; next poll in %.2fs",
            video_id,
            current.status,
            current.progress,
            delay,
        )
        due = time.monotonic() + delay
        await asyncio.sleep(delay)
        current = None


def terminal_error(video: Video) -> JobFailed | ContentExpired:
    """The typed error of a job that ended without a video, naming its status and reason."""
    error = video.error
    reason = error.message if error and error.message else "no reason given"
    code = error.code if error else None
    category = status_category(video.status)
    if category == "expired":
        return ContentExpired(f"Job {video.status}: its content is no longer available ({reason})", video_id=video.id)
    if category == "cancelled":
        return JobCancelled(
            f"Job {video.status} (not billed): {reason}", code=code, status=video.status, video_id=video.id
        )
    return JobFailed(f"Job {video.status} (not billed): {reason}", code=code, status=video.status, video_id=video.id)


def _check_grace(video: Video, now: float, grace: float) -> float:
    """Wait on an undocumented status, warning once, until ``grace`` seconds of it have passed.

    Returns:
        The seconds of grace left.
    """
    first = _unknown_since.get(video.id)
    if first is None:
        if len(_unknown_since) >= _MAX_TRACKED:
            _unknown_since.pop(next(iter(_unknown_since)))
        _unknown_since[video.id] = first = now
        logger.warning(
            "Video %s reports unknown status %r; treating it as pending for up to %.0fs",
            video.id,
            video.status,
            grace,
        )
    if now - first >= grace:
        _unknown_since.pop(video.id, None)
        raise UnknownStatus(
            f"Video {video.id} has reported the undocumented status {video.status!r} for {now - first:.0f}s "
            f"(unknown_status_grace_seconds={grace:g}); it may still finish: wait on its id again, "
            "or raise the grace if this gateway's jobs stay in it that long",
            status=video.status,
            video_id=video.id,
        )
    return first + grace - now


def _client_deadline(deadline: float | None, clock: Callable[[], float]) -> float | None:
    """The wait's deadline on the client's clock (``time.monotonic``), or None.

    Not the window's end: a window only hands the wait on to the next attempt,
    so a poll's retries may carry past it, never past the deadline.
    """
    return None if deadline is None else time.monotonic() + (deadline - clock())


def _resume(schedule: PollSchedule, video: Video, now: float) -> None:
    """Fit the schedule to a job first seen by id: its own prior, and its age from ``created_at``."""
    schedule.expected_seconds = expected_duration(video.seconds, video.size)
    if video.created_at is not None:
        # The server's clock, in whole seconds: only ever makes the job older than the wait.
        schedule.started = min(schedule.started, now - max(0.0, time.time() - video.created_at))


__all__ = ["DEFAULT_UNKNOWN_STATUS_GRACE", "terminal_error", "wait_for_video"]
