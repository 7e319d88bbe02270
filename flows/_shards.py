"""Scaling a batch out: its items split into shards that run as deployment runs on a work pool.

The parent flow run does no video work itself. It starts one run of the shard
deployment per shard (each taken by whichever worker is free), watches them,
and gathers their results from the journal they all share on an fsspec URL
that every worker reaches (``s3://...``). Nothing here talks to the Sora API.

A worker can die with its shard half done, and Prefect is not told: the run
stays ``Running``. Each shard run holds a lease beside the journal
(:mod:`prefect_sora._durable.lease`) and beats it while it works; a shard whose lease
goes stale is marked ``Crashed`` and started again, and the new run resumes
from the journal (submitted jobs are waited on, a create cut off mid-request
is looked up with ``GET /videos``), so nothing is paid for twice. A rerun of
the parent with the same ``idempotency_key`` starts new shard runs that resume
the same way (none once every video is stored: the parent finds them); a shard
run of the earlier parent that is still alive keeps its lease, and its successor
waits for it rather than working beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.context import FlowRunContext
from prefect.deployments.flow_runs import arun_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

from prefect_sora._durable.journal import Journal, JournalEntry
from prefect_sora._durable.lease import Lease, LeaseLost
from prefect_sora._errors import BatchIncomplete, InvalidParameter
from prefect_sora._pricing import estimate
from prefect_sora._validation import validate_request
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.flows._credentials import resolve_credentials, saved_block_name
from prefect_sora.flows._forms import OptionalOptions, Requests
from prefect_sora.flows._items import produce_items
from prefect_sora.flows._pictures import DEFAULT_LINK_EXPIRY, Pictures, check_link_expiry
from prefect_sora.flows._pipeline import Job, Policy
from prefect_sora.flows._results import BatchResult, VideoResult
from prefect_sora.flows._storage import resolve_storage
from prefect_sora.tasks._common import run_logger

#: The deployment of :func:`batch_shard` in this project's prefect.yaml.
SHARD_DEPLOYMENT = "sora-batch-shard/batch-shard"

#: How many times one shard is started in one parent run before it is reported unfinished.
MAX_LAUNCHES = 3
_FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
_GIVE_UP = {StateType.CRASHED, StateType.CANCELLED}
#: A run still Pending (its process starting) after this many lease windows lost its worker;
#: a Running one that has not taken its lease after as many was lost while starting.
_START_WINDOWS = 3


@dataclass(frozen=True)
class Shard:
    """One share of a batch: the batch positions of its items."""

    number: int
    indices: tuple[int, ...]


def split(count: int, shards: int) -> list[Shard]:
    """``count`` items dealt round-robin into at most ``shards`` non-empty shards.

    Round-robin rather than in blocks, so that a batch sorted by model or length
    gives every shard a similar mix of work.

    Raises:
        InvalidParameter: ``shards`` is not a positive integer.
    """
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise InvalidParameter("shards", shards, "must be a positive integer")
    used = min(shards, count)
    return [Shard(number, tuple(range(number, count, used))) for number in range(used)]


def lease_url(journal_url: str, number: int) -> str:
    """Where shard ``number`` of the run whose journal is at ``journal_url`` keeps its lease."""
    return f"{journal_url.rstrip('/')}/shards/{number:03d}.lease"


@dataclass
class ShardRun:
    """What the parent knows of one shard: its current flow run and how it ended."""

    shard: Shard
    flow_run_id: UUID | None = None
    launches: int = 0
    state_name: str | None = None
    running_since: float | None = None
    pending_since: float | None = None


async def run_shards(
    shards: Sequence[Shard],
    *,
    deployment: str,
    parameters: Callable[[Shard], dict[str, Any]],
    run_key: str,
    journal_url: str,
    storage_options: dict[str, Any] | None,
    stale_after: float,
    poll_interval: float,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> list[ShardRun]:
    """Start a run of ``deployment`` per shard and watch them until each has ended.

    ``run_key`` tells this parent's launches apart from an earlier parent's
    (the flow run id: a Prefect retry of the same parent run reuses its shard
    runs, a rerun makes new ones that resume from the journal).
    """
    runs = [ShardRun(shard) for shard in shards]
    async with get_client() as client:

        async def launch(run: ShardRun) -> None:
            run.launches += 1
            flow_run = await arun_deployment(
                deployment,
                parameters=parameters(run.shard),
                timeout=0,
                idempotency_key=f"{run_key}-shard-{run.shard.number}-{run.launches}",
                flow_run_name=f"shard-{run.shard.number}-of-{len(shards)}",
            )
            run.flow_run_id, run.running_since, run.pending_since = flow_run.id, None, None
            logger.info(
                "Shard %d (%d items) started as flow run %s", run.shard.number, len(run.shard.indices), flow_run.id
            )

        async def watch(run: ShardRun) -> None:
            lease = Lease(
                lease_url(journal_url, run.shard.number),
                owner="parent",
                interval=stale_after / 6,
                stale_after=stale_after,
                storage_options=storage_options,
            )
            await launch(run)
            while True:
                assert run.flow_run_id is not None
                flow_run: FlowRun = await client.read_flow_run(run.flow_run_id)
                state = flow_run.state
                if state is not None and state.type in _FINAL:
                    run.state_name = state.name
                    if state.type in _GIVE_UP and run.launches < MAX_LAUNCHES:
                        logger.warning("Shard %d ended %s; starting it again", run.shard.number, state.name)
                        await launch(run)
                        continue
                    return
                if state is not None and state.type is StateType.PENDING:
                    run.pending_since = run.pending_since or time.monotonic()
                    if time.monotonic() - run.pending_since > _START_WINDOWS * stale_after:
                        await _crash(client, run, "never started; its worker is gone")
                        continue
                if state is not None and state.type is StateType.RUNNING:
                    run.running_since = run.running_since or time.monotonic()
                    record = await lease.read()
                    if record is not None and record.owner == str(run.flow_run_id):
                        dead = lease.is_stale(record)
                    else:
                        # Not taken yet: it may be waiting out an earlier run that still holds
                        # the lease (fine while that one beats), or still starting on a busy
                        # machine; else it is judged by how long it has run without taking it.
                        started = time.monotonic() - run.running_since
                        dead = lease.is_stale(record) and started > _START_WINDOWS * stale_after
                    if dead:
                        await _crash(client, run, "stopped beating its lease; its worker is gone")
                        continue  # the next read sees Crashed and starts it again
                await asyncio.sleep(poll_interval)

        await asyncio.gather(*(watch(run) for run in runs))
    return runs


async def _crash(client: Any, run: ShardRun, why: str) -> None:
    assert run.flow_run_id is not None
    message = f"Shard {run.shard.number} {why}; it is started again and resumes from the journal"
    await client.set_flow_run_state(run.flow_run_id, Crashed(message=message), force=True)


def shard_credentials(given: SoraCredentials | str | None) -> str | None:
    """What shard runs are told about credentials: a saved block's name, or None for their environment.

    Raises:
        InvalidParameter: ``given`` is a block that was never saved.
    """
    return saved_block_name(given, param="credentials")


async def scatter(
    jobs: Sequence[Job],
    shards: Sequence[Shard],
    *,
    deployment: str,
    credentials: str | None,
    journal: Journal,
    shard_parameters: dict[str, Any],
    stale_after: float,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    storage_options: dict[str, Any] | None = None,
    poll_interval: float = 2.0,
) -> list[VideoResult]:
    """Run the shards on the work pool and gather every item's result from the journal.

    ``shard_parameters`` go into every shard run's parameters, which Prefect stores and
    shows: block names and plain options only. ``storage_options`` (the resolved ones,
    secrets included) are only for reading the shards' leases here.
    """
    async with get_client() as client:
        try:
            await client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            raise InvalidParameter(
                "shard_deployment",
                deployment,
                f"no such deployment; `prefect deploy --all` (this project's prefect.yaml) creates {SHARD_DEPLOYMENT}",
            ) from None
    context = FlowRunContext.get()
    parent = str(context.flow_run.id) if context is not None and context.flow_run is not None else uuid.uuid4().hex
    root = journal.url.rsplit("/", 1)[0]

    def parameters(shard: Shard) -> dict[str, Any]:
        return {
            **shard_parameters,
            "requests": [jobs[i].request.model_dump() for i in shard.indices],
            "indices": list(shard.indices),
            "idempotency_key": journal.key,
            "journal_url": root,
            "parent_run": parent,
            "shard": shard.number,
            "credentials": credentials,
            "stale_after": stale_after,
        }

    logger.info("Batch split into %d shards on %s", len(shards), deployment)
    runs = await run_shards(
        shards,
        deployment=deployment,
        parameters=parameters,
        run_key=parent,
        journal_url=journal.url,
        storage_options=storage_options,
        stale_after=stale_after,
        poll_interval=poll_interval,
        logger=logger,
    )
    ended = {i: run.state_name for run in runs for i in run.shard.indices}
    entries = {entry.index: entry for entry in await journal.entries()}
    return [_gathered(job, entries.get(job.index), parent, ended.get(job.index)) for job in jobs]


def _gathered(job: Job, entry: JournalEntry | None, parent: str, ended: str | None) -> VideoResult:
    """An item's result as its shard recorded it for this parent run, or why there is none."""
    if entry is not None and entry.outcome is not None and entry.outcome_run == parent:
        return VideoResult.model_validate(entry.outcome)
    request = job.request
    return VideoResult(
        index=job.index,
        prompt=request.prompt,
        model=request.model,
        size=request.size,
        seconds=request.seconds,
        video_id=entry.video_id if entry is not None else None,
        status="error",
        estimated_usd=job.estimate.total_usd,
        error_type="ShardUnfinished",
        error=f"its shard ended {ended or 'unfinished'} before this item did; rerun with the same idempotency_key",
    )


@flow(name="sora-batch-shard", log_prints=False)
async def batch_shard(
    requests: Requests,
    indices: list[int],
    idempotency_key: str,
    journal_url: str,
    parent_run: str,
    shard: int = 0,
    out: str = "videos/",
    concurrency: int = 16,
    credentials: str | None = None,
    timeout_seconds: float | None = 3600.0,
    resubmit_failed: int = 0,
    regenerate_expired: bool = False,
    storage_options: OptionalOptions = {},  # noqa: B006  (never mutated; an empty object in the form)
    stale_after: float = 60.0,
    storage: str | None = None,
    link_expiry_seconds: float = DEFAULT_LINK_EXPIRY,
) -> BatchResult:
    """One shard of a sharded `batch_text_to_video`: its items, resumed from the shared journal.

    Started by the batch flow on a work pool, not by hand. It holds the shard's
    lease while it works (waiting out an earlier run that still holds it), and
    records each item's result in the journal for the parent to gather.

    Raises:
        BatchIncomplete: some of its videos were not stored (the run ends Failed).
        LeaseLost: the parent took this run for dead and handed the shard on.
    """
    if len(indices) != len(requests):
        raise InvalidParameter("indices", indices, f"must give one batch position per request ({len(requests)})")
    if concurrency < 1:
        raise InvalidParameter("concurrency", concurrency, "must be at least 1")
    expiry = check_link_expiry(link_expiry_seconds)  # the parent's, for this shard's link artifacts
    # The storage block by name, as the parent saw it: its secrets never travel in parameters.
    target = await resolve_storage(storage, out=out, storage_options=storage_options)
    options = target.storage_options
    creds = await resolve_credentials(credentials)
    table = creds.prices()
    jobs = []
    for index, item in zip(indices, requests, strict=True):
        request = validate_request(**item.model_dump(), table=table)
        jobs.append(Job(index, request, estimate(request.model, request.size, int(request.seconds), table=table)))
    journal = Journal(journal_url, idempotency_key, options)
    context = FlowRunContext.get()
    owner = str(context.flow_run.id) if context is not None and context.flow_run is not None else uuid.uuid4().hex
    lease = Lease(
        lease_url(journal.url, shard),
        owner,
        interval=stale_after / 6,
        stale_after=stale_after,
        storage_options=options,
    )
    logger = run_logger(__name__)
    await lease.acquire()
    # Read only now: an earlier run of this shard may have worked on until it let the lease go.
    entries = await asyncio.gather(*(journal.load(job.index, job.fingerprint()) for job in jobs))
    logger.info("Shard %d: %d items, lease taken", shard, len(jobs))

    async def record(result: VideoResult, entry: JournalEntry) -> None:
        entry.outcome, entry.outcome_run = result.model_dump(mode="json"), parent_run
        await journal.save(entry)

    folder = target.out if target.out.endswith("/") else f"{target.out}/"
    work = asyncio.ensure_future(
        produce_items(
            jobs,
            entries,
            credentials=creds,
            journal=journal,
            folder=folder,
            concurrency=concurrency,
            timeout_seconds=timeout_seconds,
            policy=Policy(resubmit_failed=resubmit_failed, regenerate_expired=regenerate_expired),
            storage_options=options,
            on_result=record,
            pictures=Pictures(options, expiry),
        )
    )
    keeping = asyncio.ensure_future(lease.keep())
    try:
        await asyncio.wait({work, keeping}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            keeping.result()  # raises LeaseLost: another run has the shard now
        results = work.result()
    finally:
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError, LeaseLost):
            await keeping
        if work.done() and not work.cancelled():
            await lease.release()
    estimated = sum((r.estimated_usd for r in results), Decimal("0"))
    batch = BatchResult.of(results, estimated_usd=estimated, idempotency_key=idempotency_key, journal_url=journal.url)
    logger.info("Shard %d done: %d of %d stored", shard, batch.stored, len(results))
    if batch.failed:
        raise BatchIncomplete(f"Shard {shard}: {batch.stored} of {len(results)} videos stored", result=batch)
    return batch
