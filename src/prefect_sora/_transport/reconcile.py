"""Finding the job an ambiguous create may have made, so that nothing is paid for twice.

A create can fail after the service received it: the connection resets, a
gateway answers 5xx, the read times out. The job may exist. Before sending
the create again, the account's recent jobs (``GET /videos``, newest first)
are searched for one with the same prompt and parameters made since the
attempt began; ids already accounted for are never adopted.

How long to keep looking depends on how the create failed. A reset or a 5xx
means the service is done with the request: one look settles it. A timeout
means the service may still be working on it: look a few times over a grace
period, and if it never appears, do not send it again blindly; the caller
(or a rerun with the same idempotency key) decides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from prefect_sora._models import Video, VideoList


class Lister(Protocol):
    """What a lookup needs of a client: one page of ``GET /videos``."""

    async def list_videos(
        self, *, limit: int = 20, order: Literal["asc", "desc"] = "desc", after: str | None = None
    ) -> VideoList: ...


#: How far back, before our own clock, a job we may have created is looked for (clock skew).
RECONCILE_SKEW_SECONDS = 300
#: Pauses before each look after a create that timed out (the service may still be creating it).
PATIENT_LOOKS: Sequence[float] = (1.0, 2.0, 4.0, 8.0)
#: Pause before the one look after a create that was reset or refused with a 5xx.
QUICK_LOOK: Sequence[float] = (0.5,)


async def find_matching_job(
    client: Lister,
    match: Mapping[str, str],
    *,
    since: float,
    exclude_ids: frozenset[str] = frozenset(),
    max_pages: int = 10,
) -> Video | None:
    """Find a job the service made for a request at or after ``since`` (our clock).

    ``match`` holds the fields the job must carry: the prompt, and the model,
    size and seconds of a create or the ``remixed_from_video_id`` of a remix.
    Scans newest first and stops at jobs older than ``since`` minus the allowed
    clock skew.
    """
    floor = since - RECONCILE_SKEW_SECONDS
    after = None
    for _ in range(max_pages):
        page = await client.list_videos(limit=100, order="desc", after=after)
        for video in page.data:
            if video.created_at is not None and video.created_at < floor:
                return None
            if video.id not in exclude_ids and matches(video, match):
                return video
        if not page.has_more or not page.data:
            return None
        after = page.data[-1].id
    return None


async def look_for_job(
    client: Lister,
    match: Mapping[str, str],
    *,
    since: float,
    exclude_ids: frozenset[str],
    may_still_be_processing: bool,
) -> Video | None:
    """Search for the job on the schedule the failure calls for; None if it never showed up."""
    for pause in PATIENT_LOOKS if may_still_be_processing else QUICK_LOOK:
        await asyncio.sleep(pause)
        found = await find_matching_job(client, match, since=since, exclude_ids=exclude_ids)
        if found is not None:
            return found
    return None


def matches(video: Video, match: Mapping[str, str]) -> bool:
    """Whether ``video`` carries every field of ``match``."""
    # The prompt must be there and equal: without it, any job with the same
    # parameters would pass, and adopting a stranger's job is worse than asking.
    if video.prompt != match["prompt"]:
        return False
    return all(getattr(video, name, None) == value for name, value in match.items())
