"""The two ways a flow runs the submit, wait and fetch steps of a video.

``TaskSteps`` calls the atomic Prefect tasks, so a single-video run shows them
in the UI with their retries and progress artifact. ``ClientSteps`` calls the
same operations on one shared client, for the batch flow, where a task per
step per item would let Prefect's bookkeeping dominate a thousand videos.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from prefect_sora._durable.download import download
from prefect_sora._durable.verify import Expected
from prefect_sora._errors import TransientError
from prefect_sora._models import StoredVideo, Video, VideoRequest
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import retries_spent
from prefect_sora._transport.waiting import OnChange, wait_for_video
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.flows._pipeline import Job
from prefect_sora.tasks import _events as events
from prefect_sora.tasks import await_video, fetch_video, submit_remix, submit_video

#: Downloads of one video whose body was cut short (as fetch_video: 1 + 3). Nothing else is
#: retried here: the client retries transport faults within its retry window, once, for every layer.
CUT_SHORT_ATTEMPTS = 4


@dataclass
class TaskSteps:
    """Run each step as its Prefect task."""

    credentials: SoraCredentials
    out: str
    timeout_seconds: float | None
    storage_options: dict[str, Any] | None = None

    async def submit(self, job: Job, *, idempotency_key: str, exclude_ids: frozenset[str]) -> Video:
        # The tasks are typed loosely (they hand sync callers a value); the results are typed here.
        video: Video
        if job.remix_of is not None:
            video = await submit_remix(
                self.credentials,
                video=job.remix_of,
                prompt=job.request.prompt,
                idempotency_key=idempotency_key,
                exclude_ids=exclude_ids,
            )
            return video
        request = job.request
        video = await submit_video(
            self.credentials,
            prompt=request.prompt,
            model=request.model,
            seconds=request.seconds,
            size=request.size,
            input_reference=job.input_reference,
            idempotency_key=idempotency_key,
            exclude_ids=exclude_ids,
        )
        return video

    async def wait(self, video: Video | str) -> Video:
        completed: Video = await await_video(self.credentials, video=video, timeout_seconds=self.timeout_seconds)
        return completed

    async def fetch(self, video_id: str, *, paid: VideoRequest | None = None) -> StoredVideo:
        stored: StoredVideo = await fetch_video(
            self.credentials, video=video_id, destination=self.out, storage_options=self.storage_options, paid=paid
        )
        return stored


@dataclass
class ClientSteps:
    """Run each step on one shared client; only a download cut short is tried again."""

    client: SoraClient
    out: str
    timeout_seconds: float | None
    storage_options: dict[str, Any] | None = None
    on_change: OnChange | None = None
    #: For the events only (the related block, prices); the client is already built.
    credentials: SoraCredentials | None = None

    async def submit(self, job: Job, *, idempotency_key: str, exclude_ids: frozenset[str]) -> Video:
        # The same sora.video.* events as the tasks emit, per item.
        if job.remix_of is not None:
            video = await self.client.remix_video(
                job.remix_of, job.request.prompt, idempotency_key=idempotency_key, exclude_ids=exclude_ids
            )
        else:
            video = await self.client.create_video(
                job.request,
                input_reference=job.input_reference,
                idempotency_key=idempotency_key,
                exclude_ids=exclude_ids,
            )
        request = job.request
        events.submitted(
            video,
            credentials=self.credentials,
            prompt=request.prompt,
            model=request.model,
            size=request.size,
            seconds=request.seconds,
            estimated_usd=job.estimate.total_usd,
            source_id=job.remix_of,
        )
        return video

    async def wait(self, video: Video | str) -> Video:
        # One wait, no window: it ends by timeout_seconds, a poll that failed past the
        # client's retries ends it too (those retries already stop at the deadline).
        with events.ending(credentials=self.credentials):
            completed = await wait_for_video(self.client, video, timeout=self.timeout_seconds, on_change=self.on_change)
        events.completed(completed, credentials=self.credentials)
        return completed

    async def fetch(self, video_id: str, *, paid: VideoRequest | None = None) -> StoredVideo:
        expect = Expected.of(paid) if paid is not None else None
        for attempt in range(1, CUT_SHORT_ATTEMPTS + 1):
            try:
                with events.ending(credentials=self.credentials):
                    stored = await download(
                        self.client, video_id, self.out, storage_options=self.storage_options, expect=expect
                    )
                events.stored(stored, credentials=self.credentials)
                return stored
            except TransientError as exc:
                if retries_spent(exc) or attempt == CUT_SHORT_ATTEMPTS:
                    raise
                await asyncio.sleep(attempt)
        raise AssertionError("unreachable")
