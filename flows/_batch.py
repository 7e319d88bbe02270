"""The batch_text_to_video flow: many videos under one budget, bounded concurrency.

Each video is one ``produce-video`` task run, which ends ``Failed`` (with the
id, status and reason in its message) when its video is not stored, and the
flow run ends ``Failed`` with ``BatchIncomplete`` when any of them is not: a
user scanning the Runs page sees at once that a paid-for batch came up short.
The other items are never stopped, and every item's result is kept.
"""

from __future__ import annotations

import asyncio
import functools
from decimal import Decimal

from prefect import flow

from prefect_sora._errors import BatchIncomplete, InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora._pricing import CostEstimate, PriceTable, check_budget
from prefect_sora._validation import validate_request
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.blocks._storage import SoraStorage
from prefect_sora.flows._approval import check_threshold, check_timeout, require_approval
from prefect_sora.flows._artifacts import Report, publish_results
from prefect_sora.flows._common import journal_for, resume_hint, run_key
from prefect_sora.flows._credentials import resolve_credentials
from prefect_sora.flows._forms import OptionalOptions, OptionalText, Requests
from prefect_sora.flows._items import produce_items
from prefect_sora.flows._pictures import DEFAULT_LINK_EXPIRY, Pictures, check_link_expiry
from prefect_sora.flows._pipeline import Job, Policy
from prefect_sora.flows._results import BatchResult
from prefect_sora.flows._shards import SHARD_DEPLOYMENT, scatter, shard_credentials, split
from prefect_sora.flows._storage import resolve_storage, storage_name
from prefect_sora.flows._suspend import WaitMode, check_wait, suspend_run
from prefect_sora.tasks import estimate_cost
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._spend import spend_guard

#: The title and artifact keys (sora-batch-costs, sora-batch-summary) of its runs.
REPORT = Report("Sora batch", "sora-batch")


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
    storage: SoraStorage | str | None = None,
    journal_url: OptionalText = "",
    shards: int = 1,
    shard_deployment: str = SHARD_DEPLOYMENT,
    shard_stale_seconds: float = 60.0,
    link_expiry_seconds: float = DEFAULT_LINK_EXPIRY,
    approve_over_usd: float | None = None,
    approval_timeout_seconds: float = 3600.0,
    wait: WaitMode = "poll",
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
        storage_options: fsspec options for `out` that are not secret (endpoint, region); keys go in `storage`.
        storage: A `SoraStorage` block or a saved block's name: `out` is then a path under its
            base URL, written with its options (secrets included, never in the run's parameters).
        journal_url: Where the resume journal lives (default `{out}/.prefect-sora/journal`).
        shards: Split the items into this many shards, each run by `shard_deployment` on
            whichever worker of its work pool takes it (1: all here). `out` and the
            journal must then be on storage every worker reaches (`s3://...`), and
            `credentials` and `storage` saved blocks' names (or None for the workers' environment).
            A rerun whose every video the journal holds as stored starts no shard run.
        shard_deployment: The deployment of the `sora-batch-shard` flow that runs a shard.
        shard_stale_seconds: A shard run that stops beating its lease for this long is
            taken for dead (its worker is gone) and started again, resuming from the journal.
        link_expiry_seconds: How long the signed links and pictures in the run's artifacts
            stay valid where the storage signs URLs (S3 ...); at most 7 days.
        approve_over_usd: If the batch's estimate is over this, pause for a person to
            approve it in the Prefect UI (one approval for the whole batch) before any create.
        approval_timeout_seconds: How long to wait for that approval; then the run fails.
        wait: `poll` (this process waits for the jobs) or `suspend` (a run of a
            deployment submits up to `concurrency` jobs, then suspends, releasing its
            worker, until the `sora-watcher` sees them all end; the resumed run stores
            them and submits the next ones). Not with `shards` > 1.

    Returns:
        Per-item results in request order, and the totals, when every video is stored.

    Raises:
        BatchIncomplete: some videos were not stored (the flow run ends Failed, saying
            how many of how many were); `.result` is the `BatchResult` with every
            item's id, status and reason. Rerun with the same key to resume.
        BudgetExceeded: the whole batch's estimate is over `max_cost_usd`; nothing was submitted.
        ApprovalDenied: the estimate was over `approve_over_usd` and a person denied it (or
            nobody answered in `approval_timeout_seconds`); nothing was submitted.

    Example:
        ```python
        import asyncio
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.flows import batch_text_to_video
        from prefect_sora._models import VideoRequest

        requests = [VideoRequest(prompt=f"A paper boat, take {i}") for i in range(3)]
        with Emulator(job_seconds=1) as emulator:
            credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
            batch = asyncio.run(batch_text_to_video(requests, credentials=credentials, max_cost_usd=5))
            print(batch.stored, batch.actual_usd)  # 3 1.20
        ```
    """
    threshold = check_threshold(approve_over_usd)
    approval_timeout = check_timeout(approval_timeout_seconds)
    if concurrency < 1:
        raise InvalidParameter("concurrency", concurrency, "must be at least 1")
    parts = split(len(requests), shards)  # refuses a shard count that is not a positive integer
    mode = check_wait(wait)
    if mode == "suspend" and len(parts) > 1:
        raise InvalidParameter("wait", wait, "a sharded batch waits in its shard runs (use wait='poll' with shards)")
    if not shard_stale_seconds > 0:
        raise InvalidParameter("shard_stale_seconds", shard_stale_seconds, "must be a positive number of seconds")
    shard_creds = shard_credentials(credentials) if len(parts) > 1 else None
    shard_storage = storage_name(storage) if len(parts) > 1 else None
    target = await resolve_storage(storage, out=out, storage_options=storage_options)
    pictures = Pictures(target.storage_options, check_link_expiry(link_expiry_seconds))
    creds = await resolve_credentials(credentials)
    checked = _checked(requests, creds.prices())
    estimates = await _estimate_all(checked, creds)
    total = sum((e.total_usd for e in estimates), Decimal("0"))
    check_budget(total, max_cost_usd)
    await spend_guard(creds)  # a missing spend limit stops the batch here, before anything is paid
    # One approval for the whole batch, before any create.
    await require_approval(
        checked, estimates, total=total, approve_over_usd=threshold, timeout_seconds=approval_timeout
    )
    key = run_key(idempotency_key)
    folder = target.out if target.out.endswith("/") else f"{target.out}/"
    journal = journal_for(folder, key, journal_url, target.storage_options)
    await journal.sweep()
    logger = run_logger(__name__)
    logger.info("Batch of %d videos, estimated $%s; resume key %s", len(checked), total, key)

    jobs = [Job(index=i, request=r, estimate=e) for i, (r, e) in enumerate(zip(checked, estimates, strict=True))]
    # Every record is read before anything is submitted, so a key reused for a
    # different batch is refused whole, not after some of its items were paid for.
    entries = await asyncio.gather(*(journal.load(job.index, job.fingerprint()) for job in jobs))
    # A rerun of a sharded batch whose every video is stored gathers them here, as an
    # unsharded batch would: no shard run (a process on the pool each) just to find them.
    if len(parts) > 1 and not all(entry.stage == "stored" for entry in entries):
        results = await scatter(
            jobs,
            parts,
            deployment=shard_deployment,
            credentials=shard_creds,
            journal=journal,
            shard_parameters={
                "out": out,
                "concurrency": concurrency,
                "timeout_seconds": timeout_seconds,
                "resubmit_failed": resubmit_failed,
                "regenerate_expired": regenerate_expired,
                "storage_options": storage_options,
                "storage": shard_storage,
                "link_expiry_seconds": link_expiry_seconds,
            },
            storage_options=target.storage_options,
            stale_after=shard_stale_seconds,
            logger=logger,
        )
    else:
        produce = functools.partial(
            produce_items,
            jobs,
            entries,
            credentials=creds,
            journal=journal,
            folder=folder,
            concurrency=concurrency,
            timeout_seconds=timeout_seconds,
            policy=Policy(resubmit_failed=resubmit_failed, regenerate_expired=regenerate_expired),
            storage_options=target.storage_options,
            pictures=pictures,
        )
        results = await produce(wait=mode)
        pending = [r for r in results if r.status == "pending"]
        if pending:
            submitted = sum(r.video_id is not None for r in pending)
            await suspend_run(f"{submitted} videos generating, {len(pending) - submitted} not yet submitted")
            # Prefect refused the suspension (the key fired before): wait in this process instead.
            results = await produce(wait="poll")

    batch = BatchResult.of(results, estimated_usd=total, idempotency_key=key, journal_url=journal.url)
    sheet_note = await pictures.contact_sheet(REPORT, results, folder=folder, run=key, credentials=creds)
    await publish_results(
        REPORT, results, estimated=total, actual=batch.actual_usd, resume_hint=resume_hint(key), extra=sheet_note
    )
    logger.info("Batch done: %d of %d stored, $%s spent", batch.stored, len(results), batch.actual_usd)
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


async def _estimate_all(requests: list[VideoRequest], credentials: SoraCredentials) -> list[CostEstimate]:
    """One estimate_cost task per distinct (model, size, seconds), shared by the items that have it."""
    distinct: dict[tuple[str, str, str], CostEstimate] = {}
    for request in requests:
        shape = (request.model, request.size, request.seconds)
        if shape not in distinct:
            model, size, seconds = shape
            distinct[shape] = await estimate_cost(model, size=size, seconds=seconds, credentials=credentials)
    return [distinct[(r.model, r.size, r.seconds)] for r in requests]
