"""The batch_text_to_video flow: many videos under one budget, bounded concurrency."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from prefect_sora.blocks.credentials import SoraCredentials
from prefect_sora.errors import InvalidParameter
from prefect_sora.flows._artifacts import BatchProgress, link_stored, publish_results
from prefect_sora.flows._common import check_budget, journal_for, run_key
from prefect_sora.flows._credentials import resolve_credentials
from prefect_sora.flows._pipeline import Job, Policy, produce
from prefect_sora.flows._steps import ClientSteps
from prefect_sora.flows.results import BatchResult, VideoResult
from prefect_sora.journal import Journal, JournalEntry
from prefect_sora.models import VideoRequest
from prefect_sora.pricing import CostEstimate
from prefect_sora.tasks import estimate_cost
from prefect_sora.tasks._common import run_logger
from prefect_sora.validation import validate_request


# One task run per video (not per step), so Prefect's bookkeeping stays small
# beside the work at a thousand videos; NO_CACHE: every call is a real video.
@task(name="produce-video", task_run_name="video-{job.index}", cache_policy=NO_CACHE)
async def produce_video(
    job: Job, steps: ClientSteps, journal: Journal, policy: Policy, entry: JournalEntry
) -> VideoResult:
    """Take one batch item from request to stored file (or to a result saying why not)."""
    return await produce(
        job,
        steps=steps,
        journal=journal,
        client=steps.client,
        policy=policy,
        logger=run_logger(__name__),
        storage_options=steps.storage_options,
        on_stored=link_stored,
        entry=entry,
    )


@flow(name="sora-batch-text-to-video", log_prints=False)
async def batch_text_to_video(
    requests: list[VideoRequest],
    out: str = "videos/",
    max_cost_usd: float | None = None,
    concurrency: int = 16,
    credentials: SoraCredentials | str | None = None,
    idempotency_key: str | None = None,
    timeout_seconds: float | None = 3600.0,
    resubmit_failed: int = 0,
    regenerate_expired: bool = False,
    storage_options: dict[str, Any] | None = None,
    journal_url: str | None = None,
) -> BatchResult:
    """Generate many videos, each with its own model, size and length, under one budget.

    The whole batch's estimate is checked against ``max_cost_usd`` before
    anything is submitted. At most ``concurrency`` videos are in flight; one
    item's failure neither stops nor loses the others: every item comes back
    with its job id and status. A rerun (or flow retry) with the same
    ``idempotency_key`` resumes submitted jobs and skips stored videos.

    Args:
        requests: The videos: prompt, model, seconds and size each.
        out: fsspec URL of the folder to store them in.
        max_cost_usd: Refuse the whole batch if its estimate is higher.
        concurrency: Most videos in flight at once.
        credentials: A ``SoraCredentials`` block, a saved block's name, or None
            for ``SORA_API_KEY`` / ``SORA_BASE_URL``.
        idempotency_key: Resume key; defaults to the flow run's id.
        timeout_seconds: Longest wait for one job.
        resubmit_failed: Times a failed job (not billed) may be resubmitted, per item.
        regenerate_expired: If the download window closed, generate the video again (pays again).
        storage_options: fsspec options for ``out``.
        journal_url: Where the resume journal lives (default ``{out}/.prefect-sora/journal``).

    Returns:
        Per-item results in request order, and the totals.

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
    if not requests:
        raise InvalidParameter("requests", requests, "give at least one request")
    creds = await resolve_credentials(credentials)
    table = creds.prices()
    checked = []
    for index, item in enumerate(requests):
        try:
            checked.append(validate_request(**item.model_dump(), table=table))
        except InvalidParameter as exc:
            raise InvalidParameter(f"requests[{index}].{exc.param}", exc.value, exc.allowed) from None
    estimates = _estimate_all(checked, creds)
    total = sum((e.total_usd for e in estimates), Decimal("0"))
    check_budget(total, max_cost_usd)
    key = run_key(idempotency_key)
    journal = journal_for(out if out.endswith("/") else f"{out}/", key, journal_url, storage_options)
    await journal.sweep()
    logger = run_logger(__name__)
    logger.info("Batch of %d videos, estimated $%s; resume key %s", len(checked), total, key)

    jobs = [Job(index=i, request=r, estimate=e) for i, (r, e) in enumerate(zip(checked, estimates, strict=True))]
    # Every record is read before anything is submitted, so a key reused for a
    # different batch is refused whole, not after some of its items were paid for.
    entries = await asyncio.gather(*(journal.load(job.index, job.fingerprint()) for job in jobs))
    progress = BatchProgress(len(checked))
    await progress.start()
    gate = asyncio.Semaphore(concurrency)
    policy = Policy(resubmit_failed=resubmit_failed, regenerate_expired=regenerate_expired)
    async with creds.get_client() as client:
        steps = ClientSteps(client, out if out.endswith("/") else f"{out}/", timeout_seconds, storage_options)

        async def one(job: Job, entry: JournalEntry) -> VideoResult:
            async with gate:
                result = await produce_video(job, steps, journal, policy, entry)
            await progress.advance()
            return result

        results = list(await asyncio.gather(*(one(job, entry) for job, entry in zip(jobs, entries, strict=True))))
    await progress.advance(final=True)

    actual = sum((r.actual_usd for r in results), Decimal("0"))
    stored = sum(r.ok for r in results)
    hint = f"Rerun with idempotency_key={key!r} to resume without paying twice."
    await publish_results("Sora batch", results, estimated=total, actual=actual, resume_hint=hint)
    logger.info("Batch done: %d of %d stored, $%s spent", stored, len(results), actual)
    return BatchResult(
        items=results,
        estimated_usd=total,
        actual_usd=actual,
        stored=stored,
        failed=len(results) - stored,
        idempotency_key=key,
        journal_url=journal.url,
    )


def _estimate_all(requests: list[VideoRequest], credentials: SoraCredentials) -> list[CostEstimate]:
    """One estimate_cost task per distinct (model, size, seconds), shared by the items that have it."""
    distinct: dict[tuple[str, str, str], CostEstimate] = {}
    for request in requests:
        shape = (request.model, request.size, request.seconds)
        if shape not in distinct:
            distinct[shape] = estimate_cost(*shape, credentials=credentials)
    return [distinct[(r.model, r.size, r.seconds)] for r in requests]
