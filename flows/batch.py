"""The batch_text_to_video flow: many videos under one budget, bounded concurrency.

Each video is one ``produce-video`` task run, which ends ``Failed`` (with the
id, status and reason in its message) when its video is not stored, and the
flow run ends ``Failed`` with ``BatchIncomplete`` when any of them is not: a
user scanning the Runs page sees at once that a paid-for batch came up short.
The other items are never stopped, and every item's result is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any

from prefect import State, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from prefect_sora.blocks.credentials import SoraCredentials
from prefect_sora.errors import BatchIncomplete, InvalidParameter
from prefect_sora.flows._artifacts import BatchProgress, Report, link_stored, publish_results
from prefect_sora.flows._common import check_budget, journal_for, resume_hint, run_key
from prefect_sora.flows._credentials import resolve_credentials
from prefect_sora.flows._forms import OptionalOptions, OptionalText, Requests
from prefect_sora.flows._pipeline import Job, Policy, Run
from prefect_sora.flows._steps import ClientSteps
from prefect_sora.flows.results import BatchResult, VideoResult
from prefect_sora.journal import JournalEntry
from prefect_sora.models import VideoRequest
from prefect_sora.pricing import CostEstimate, PriceTable
from prefect_sora.tasks import estimate_cost
from prefect_sora.tasks._common import run_logger
from prefect_sora.validation import validate_request

#: The title and artifact keys (sora-batch-costs, sora-batch-summary) of its runs.
REPORT = Report("Sora batch", "sora-batch")


# One task run per video (not per step), so Prefect's bookkeeping stays small
# beside the work at a thousand videos; NO_CACHE: every call is a real video.
@task(name="produce-video", task_run_name="video-{job.index}", cache_policy=NO_CACHE)
async def produce_video(job: Job, run: Run, entry: JournalEntry) -> VideoResult | State[VideoResult]:
    """Take one batch item from request to stored file; if it is not stored, end `Failed` saying why.

    The Failed state's data is the item's `VideoResult`, so the flow keeps its id and cost.
    """
    result = await run.produce(job, entry)
    if result.ok:
        return result
    message = f"Item {job.index}: video {result.video_id or '(none)'} {result.status}: {result.error}"
    run_logger(__name__).warning(message)
    return Failed(message=message, data=result)


@flow(name="sora-batch-text-to-video", log_prints=False)
async def batch_text_to_video(
    requests: Requests,
    out: str = "videos/",
    max_cost_usd: float | None = None,
    concurrency: int = 16,
    credentials: SoraCredentials | str | None = None,
    idempotency_key: OptionalText = "",
    timeout_seconds: float | None = 3600.0,
    resubmit_failed: int = 0,
    regenerate_expired: bool = False,
    storage_options: OptionalOptions = {},  # noqa: B006  (never mutated; an empty object in the form)
    journal_url: OptionalText = "",
) -> BatchResult:
    """Generate many videos, each with its own model, size and length, under one budget.

    The whole batch's estimate is checked against `max_cost_usd` before
    anything is submitted. At most `concurrency` videos are in flight; one
    item's failure neither stops nor loses the others: every item comes back
    with its job id and status. A rerun (or flow retry) with the same
    `idempotency_key` resumes submitted jobs and skips stored videos.

    Args:
        requests: The videos: prompt, model, seconds and size each.
        out: fsspec URL of the folder to store them in.
        max_cost_usd: Refuse the whole batch if its estimate is higher.
        concurrency: Most videos in flight at once.
        credentials: A `SoraCredentials` block, a saved block's name, or None
            for `SORA_API_KEY` / `SORA_BASE_URL`.
        idempotency_key: Resume key; defaults to the flow run's id.
        timeout_seconds: Longest wait for one job.
        resubmit_failed: Times a failed job (not billed) may be resubmitted, per item.
        regenerate_expired: If the download window closed, generate the video again (pays again).
        storage_options: fsspec options for `out`.
        journal_url: Where the resume journal lives (default `{out}/.prefect-sora/journal`).

    Returns:
        Per-item results in request order, and the totals, when every video is stored.

    Raises:
        BatchIncomplete: some videos were not stored (the flow run ends Failed, saying
            how many of how many were); `.result` is the `BatchResult` with every
            item's id, status and reason. Rerun with the same key to resume.
        BudgetExceeded: the whole batch's estimate is over `max_cost_usd`; nothing was submitted.

    Example:
        ```python
        import asyncio
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.flows import batch_text_to_video
        from prefect_sora.models import VideoRequest

        requests = [VideoRequest(prompt=f"A paper boat, take {i}") for i in range(3)]
        with Emulator(job_seconds=1) as emulator:
            credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
            batch = asyncio.run(batch_text_to_video(requests, credentials=credentials, max_cost_usd=5))
            print(batch.stored, batch.actual_usd)  # 3 1.20
        ```
    """
    if concurrency < 1:
        raise InvalidParameter("concurrency", concurrency, "must be at least 1")
    creds = await resolve_credentials(credentials)
    checked = _checked(requests, creds.prices())
    estimates = _estimate_all(checked, creds)
    total = sum((e.total_usd for e in estimates), Decimal("0"))
    check_budget(total, max_cost_usd)
    key = run_key(idempotency_key)
    folder = out if out.endswith("/") else f"{out}/"
    journal = journal_for(folder, key, journal_url, storage_options)
    await journal.sweep()
    logger = run_logger(__name__)
    logger.info("Batch of %d videos, estimated $%s; resume key %s", len(checked), total, key)

    jobs = [Job(index=i, request=r, estimate=e) for i, (r, e) in enumerate(zip(checked, estimates, strict=True))]
    # Every record is read before anything is submitted, so a key reused for a
    # different batch is refused whole, not after some of its items were paid for.
    entries = await asyncio.gather(*(journal.load(job.index, job.fingerprint()) for job in jobs))
    progress = BatchProgress(len(jobs))
    await progress.start()
    slots = asyncio.Semaphore(concurrency)
    policy = Policy(resubmit_failed=resubmit_failed, regenerate_expired=regenerate_expired)
    async with creds.get_client() as client:
        steps = ClientSteps(client, folder, timeout_seconds, storage_options, on_change=progress.job_changed)
        run = Run(steps, journal, client, policy, storage_options, on_stored=link_stored)

        async def one(job: Job, entry: JournalEntry) -> VideoResult:
            async with slots:
                # Prefect types this call as returning the State; from async code it is a coroutine of it.
                call: Awaitable[State[Any]] = produce_video(job, run, entry, return_state=True)  # type: ignore[assignment]
                state = await call
            result = await state.aresult(raise_on_failure=False)
            if not isinstance(result, VideoResult):  # the task itself broke (not a video's failure)
                raise result if isinstance(result, BaseException) else TypeError(f"produce-video gave {result!r}")
            await progress.item_finished(result)
            return result

        results = list(await asyncio.gather(*(one(job, entry) for job, entry in zip(jobs, entries, strict=True))))
    await progress.finish()

    actual = sum((r.actual_usd for r in results), Decimal("0"))
    stored = sum(r.ok for r in results)
    batch = BatchResult(
        items=results,
        estimated_usd=total,
        actual_usd=actual,
        stored=stored,
        failed=len(results) - stored,
        idempotency_key=key,
        journal_url=journal.url,
    )
    await publish_results(REPORT, results, estimated=total, actual=actual, resume_hint=resume_hint(key))
    logger.info("Batch done: %d of %d stored, $%s spent", stored, len(results), actual)
    if batch.failed:
        raise BatchIncomplete(incomplete_message(batch), result=batch)
    return batch


def incomplete_message(batch: BatchResult) -> str:
    """ "2 of 3 videos stored; not stored: item 1 (video_..., failed). Rerun with ..." (the first few items)."""
    missing = [item for item in batch.items if not item.ok]
    named = ", ".join(f"item {i.index} ({i.video_id or 'no job'}, {i.status})" for i in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return (
        f"{batch.stored} of {len(batch.items)} videos stored; not stored: {named}{more}. "
        f"{resume_hint(batch.idempotency_key)}"
    )


def _checked(requests: list[VideoRequest], table: PriceTable) -> list[VideoRequest]:
    """Every request checked before anything is estimated or sent; a bad one is named by its position."""
    if not requests:
        raise InvalidParameter("requests", requests, "give at least one request")
    checked = []
    for index, item in enumerate(requests):
        try:
            checked.append(validate_request(**item.model_dump(), table=table))
        except InvalidParameter as exc:
            raise InvalidParameter(f"requests[{index}].{exc.param}", exc.value, exc.allowed) from None
    return checked


def _estimate_all(requests: list[VideoRequest], credentials: SoraCredentials) -> list[CostEstimate]:
    """One estimate_cost task per distinct (model, size, seconds), shared by the items that have it."""
    distinct: dict[tuple[str, str, str], CostEstimate] = {}
    for request in requests:
        shape = (request.model, request.size, request.seconds)
        if shape not in distinct:
            distinct[shape] = estimate_cost(*shape, credentials=credentials)
    return [distinct[(r.model, r.size, r.seconds)] for r in requests]
