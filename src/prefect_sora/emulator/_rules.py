"""The HTTP semantics of job state, in one place: which refusal a job's status or a key's running jobs call for.

- content of a queued or in-progress job: 409 `video_not_ready`; of a failed job (or one
  that ended `cancelled`, `error`, `rejected` ...): 409 `video_failed`; of a job that ended
  `expired`, or after `expires_at`: 410 `video_expired`; of a job that ended with any other
  status: 409 `video_not_ready`;
- remix, extension or edit of a source that is not completed: the same refusals;
- delete of a queued or in-progress job: 409 `video_in_progress`;
- a create (remix, extension, edit) while the key has `max_running_jobs` jobs queued or in
  progress: 429 `too_many_running_jobs`, with `retry-after` (whole seconds, at least 1) and
  `retry-after-ms` (at least 100) until the first of them is planned to end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prefect_sora.emulator._errors import APIError
from prefect_sora.emulator._jobs import FAILURE_LIKE, PENDING, Job


def expired(video_id: str) -> APIError:
    """The 410 for content that is no longer there."""
    return APIError(
        410,
        f"The content of video '{video_id}' expired and is no longer available.",
        param="video_id",
        code="video_expired",
    )


def require_completed(job: Job, now: float) -> None:
    """Refuse unless `job` is completed at `now` (content, or a source to derive from)."""
    status, progress = job.status_at(now)
    if status == "completed":
        return
    if status == "expired":
        raise expired(job.id)
    if status in FAILURE_LIKE:
        raise APIError(409, f"Video '{job.id}' {status} and has no content.", param="video_id", code="video_failed")
    detail = f"status {status}, {progress}% done" if status in PENDING else f"status {status}"
    raise APIError(409, f"Video '{job.id}' is not ready ({detail}).", param="video_id", code="video_not_ready")


def require_finished(job: Job, now: float) -> None:
    """Refuse to delete `job` while it is queued or in progress."""
    status, _ = job.status_at(now)
    if status in PENDING:
        raise APIError(
            409,
            f"Video '{job.id}' is {status}; only completed or failed videos can be deleted.",
            param="video_id",
            code="video_in_progress",
        )


def check_running(jobs: Iterable[Job], label: str, now: float, *, limit: int | None, fallback: float) -> None:
    """Refuse a create when key `label` already runs `limit` jobs (None: no limit).

    `fallback` is the wait to announce when every running job is stuck (none will end).

    Raises:
        APIError: 429 `too_many_running_jobs`.
    """
    if limit is None:
        return
    running = [job for job in jobs if job.key_label == label and job.status_at(now)[0] in PENDING]
    if len(running) < limit:
        return
    ends = [job.plan.ends_at for job in running if job.plan.ends_at is not None]
    wait = min(ends) - now if ends else fallback
    raise APIError(
        429,
        f"Too many running jobs for this key: limit {limit}. Wait for one to finish and try again.",
        type="rate_limit_error",
        code="too_many_running_jobs",
        headers={"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(max(100, math.ceil(wait * 1000)))},
    )
