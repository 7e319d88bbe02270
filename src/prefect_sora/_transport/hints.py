"""The server's ``openai-poll-after-ms``: read from an answer, and kept from a create for the wait after it.

A create's answer may say when to poll the new job first, but the create and the
wait are usually separate calls (separate tasks, separate clients), and the job
travels between them as a plain :class:`~prefect_sora._models.Video`. So the hint
is kept here, per job id in this process, until its wait takes it. A wait that
finds none (a job created elsewhere, or a gateway that sends none) keeps its
prior-based schedule.
"""

from __future__ import annotations

import httpx

#: video id -> seconds the create's answer said to wait before the first poll.
_created: dict[str, float] = {}
_MAX_TRACKED = 10_000


def poll_after(response: httpx.Response) -> float | None:
    """The answer's ``openai-poll-after-ms`` in seconds, or None when absent or not a number."""
    hint = response.headers.get("openai-poll-after-ms")
    try:
        seconds = float(hint) / 1000 if hint is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def remember(video_id: str, response: httpx.Response) -> None:
    """Keep the hint a create's answer carried for ``video_id``'s first poll."""
    seconds = poll_after(response)
    if seconds is None:
        return
    if len(_created) >= _MAX_TRACKED:
        _created.pop(next(iter(_created)))
    _created[video_id] = seconds


def take(video_id: str) -> float | None:
    """The hint kept for ``video_id``'s first poll, once: later polls carry their own."""
    return _created.pop(video_id, None)
