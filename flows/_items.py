"""Producing a batch's items on one client: a task run per video, at most `concurrency` at once.

Shared by the batch flow (all its items) and by a shard run of a sharded batch
(its share of them). Each video is one ``produce-video`` task run, which ends
``Failed`` (with the id, status and reason in its message) when its video is
not stored; the others are never stopped, and every item's result is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from prefect import State, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from prefect_sora._durable.journal import Journal, JournalEntry
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.flows._artifacts import BatchProgress
from prefect_sora.flows._pictures import Pictures
from prefect_sora.flows._pipeline import Job, Policy, Run, deferred
from prefect_sora.flows._results import VideoResult
from prefect_sora.flows._steps import ClientSteps
from prefect_sora.flows._suspend import DeferringSteps, WaitMode
from prefect_sora.tasks._common import run_logger


# One task run per video (not per step), so Prefect's bookkeeping stays small
# beside the work at a thousand videos; NO_CACHE: every call is a real video.
@task(name="produce-video", task_run_name="video-{job.index}", cache_policy=NO_CACHE)
async def produce_video(job: Job, run: Run, entry: JournalEntry) -> VideoResult | State[VideoResult]:
    """Take one batch item from request to stored file; if it is not stored, end `Failed` saying why.

    The Failed state's data is the item's `VideoResult`, so the flow keeps its id and cost.
    """
    result = await run.produce(job, entry)
    if result.ok or result.status == "pending":  # pending: the run suspends and a rerun takes it on
        return result
    message = f"Item {job.index}: video {result.video_id or '(none)'} {result.status}: {result.error}"
    run_logger(__name__).warning(message)
    return Failed(message=message, data=result)


async def produce_items(
    jobs: Sequence[Job],
    entries: Sequence[JournalEntry],
    *,
    credentials: SoraCredentials,
    journal: Journal,
    folder: str,
    concurrency: int,
    timeout_seconds: float | None,
    policy: Policy,
    storage_options: dict[str, Any] | None,
    on_result: Callable[[VideoResult, JournalEntry], Awaitable[None]] | None = None,
    pictures: Pictures | None = None,
    wait: WaitMode = "poll",
) -> list[VideoResult]:
    """Every job to a result, in order, at most ``concurrency`` in flight, with a progress artifact.

    Each stored video gets its link and thumbnail artifacts through ``pictures`` (which keeps the thumbnails).

    With ``wait="suspend"`` nothing is waited for: a job still generating ends its
    item ``pending``. The jobs the journal already holds are looked at first; then new
    items are submitted while fewer than ``concurrency`` jobs are pending, and the rest
    end ``pending`` without a job, for the run after the resume.
    """
    pictures = pictures or Pictures(storage_options)
    progress = BatchProgress(len(jobs))
    await progress.start()
    slots = asyncio.Semaphore(concurrency)
    async with credentials.get_client() as client:
        steps = (DeferringSteps if wait == "suspend" else ClientSteps)(
            client, folder, timeout_seconds, storage_options, on_change=progress.job_changed, credentials=credentials
        )
        pictures.client = client  # thumbnails on the run's own client, paced with its other requests
        run = Run(steps, journal, client, policy, storage_options, on_stored=pictures.on_stored)

        async def one(job: Job, entry: JournalEntry) -> VideoResult:
            async with slots:
                # Prefect types this call as returning the State; from async code it is a coroutine of it.
                call: Awaitable[State[Any]] = produce_video(job, run, entry, return_state=True)  # type: ignore[assignment]
                state = await call
            result = await state.aresult(raise_on_failure=False)
            if not isinstance(result, VideoResult):  # the task itself broke (not a video's failure)
                raise result if isinstance(result, BaseException) else TypeError(f"produce-video gave {result!r}")
            if on_result is not None:
                await on_result(result, entry)
            if result.status != "pending":
                await progress.item_finished(result)
            return result

        async def all_of(indexes: Sequence[int]) -> list[VideoResult]:
            return list(await asyncio.gather(*(one(jobs[i], entries[i]) for i in indexes)))

        if wait == "poll":
            results = await all_of(range(len(jobs)))
        else:
            started = [i for i, entry in enumerate(entries) if entry.stage != "new"]
            fresh = [i for i, entry in enumerate(entries) if entry.stage == "new"]
            by_index = dict(zip(started, await all_of(started), strict=True))
            room = max(0, concurrency - sum(r.status == "pending" for r in by_index.values()))
            by_index.update(zip(fresh[:room], await all_of(fresh[:room]), strict=True))
            by_index.update((i, deferred(jobs[i], entries[i])) for i in fresh[room:])
            results = [by_index[i] for i in range(len(jobs))]
    pictures.client = None  # closed
    await progress.finish()
    return results
