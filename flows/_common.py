"""What the flows share: the journal's home, the run key, and the body of the single-video flows."""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prefect.context import FlowRunContext

from prefect_sora._durable.journal import Journal
from prefect_sora._errors import InvalidParameter, VideoNotStored
from prefect_sora._models import ImageReference, ImageUpload, VideoRequest
from prefect_sora._pricing import check_budget
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.blocks._storage import SoraStorage
from prefect_sora.flows._approval import check_threshold, check_timeout, require_approval
from prefect_sora.flows._artifacts import Report, in_flow_run, publish_results
from prefect_sora.flows._credentials import resolve_credentials
from prefect_sora.flows._pictures import DEFAULT_LINK_EXPIRY, Pictures, check_link_expiry
from prefect_sora.flows._pipeline import Job, Policy, Run
from prefect_sora.flows._results import VideoResult
from prefect_sora.flows._steps import TaskSteps
from prefect_sora.flows._storage import resolve_storage
from prefect_sora.flows._suspend import SuspendingSteps, WaitMode, check_wait
from prefect_sora.tasks import estimate_cost
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._spend import spend_guard

JOURNAL_FOLDER = ".prefect-sora/journal"


def run_key(idempotency_key: str | None) -> str:
    """The caller's key, or the flow run's id so that a flow retry resumes its own jobs."""
    if idempotency_key:
        return idempotency_key
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        return str(context.flow_run.id)
    raise InvalidParameter("idempotency_key", None, "give one when calling the flow outside a flow run")


def journal_for(out: str, key: str, journal_url: str | None, storage_options: dict[str, Any] | None) -> Journal:
    """The journal beside the outputs (``{out}/.prefect-sora/journal``) unless told otherwise (not empty)."""
    if not journal_url:
        folder = out if out.endswith("/") else posixpath.dirname(out) or "."
        journal_url = posixpath.join(folder, JOURNAL_FOLDER)
    return Journal(journal_url, key, storage_options)


@dataclass(frozen=True)
class SingleRequest:
    """What a single-video flow asks for: the request, and the image or source video its create carries."""

    request: VideoRequest
    input_reference: ImageUpload | ImageReference | None = None
    remix_of: str | None = None


async def run_single(
    report: Report,
    prepare: Callable[[SoraCredentials], Awaitable[SingleRequest]],
    *,
    credentials: SoraCredentials | str | None,
    storage: SoraStorage | str | None,
    out: str,
    storage_options: dict[str, Any] | None,
    max_cost_usd: float | None,
    idempotency_key: str | None,
    journal_url: str | None,
    timeout_seconds: float | None,
    resubmit_failed: int,
    regenerate_expired: bool,
    approve_over_usd: float | None,
    approval_timeout_seconds: float,
    link_expiry_seconds: float = DEFAULT_LINK_EXPIRY,
    wait: WaitMode = "poll",
) -> VideoResult:
    """The body of the single-video flows, from their parameters: estimate, hold to the budget, produce one video.

    The parameters are checked first, then the storage and credentials resolved;
    ``prepare`` builds the request with the credentials (their price table),
    refusing a bad one before anything is sent. With ``wait="suspend"`` a pending
    job suspends the run (see ``flows/_suspend.py``).

    Raises:
        InvalidParameter: a parameter breaks a rule; nothing was submitted.
        BudgetExceeded: the estimate is over ``max_cost_usd``; nothing was submitted.
        ApprovalDenied: the estimate was over ``approve_over_usd`` and not approved; nothing was submitted.
        VideoNotStored: the video did not end stored; carries its result (id, status, cost).
    """
    mode = check_wait(wait)
    expiry = check_link_expiry(link_expiry_seconds)
    threshold = check_threshold(approve_over_usd)
    approval_timeout = check_timeout(approval_timeout_seconds)
    target = await resolve_storage(storage, out=out, storage_options=storage_options)
    creds = await resolve_credentials(credentials)
    single = await prepare(creds)
    request = single.request
    policy = Policy(resubmit_failed=resubmit_failed, regenerate_expired=regenerate_expired)
    estimate = await estimate_cost(request.model, size=request.size, seconds=request.seconds, credentials=creds)
    check_budget(estimate.total_usd, max_cost_usd)
    await spend_guard(creds)  # a missing spend limit stops the run here, before anything is paid
    await require_approval(
        [request], [estimate], total=estimate.total_usd, approve_over_usd=threshold, timeout_seconds=approval_timeout
    )
    key = run_key(idempotency_key)
    job = Job(
        index=0, request=request, estimate=estimate, input_reference=single.input_reference, remix_of=single.remix_of
    )
    journal = journal_for(target.out, key, journal_url, target.storage_options)
    await journal.sweep()
    steps = (SuspendingSteps if mode == "suspend" else TaskSteps)(
        creds, target.out, timeout_seconds, target.storage_options
    )
    async with creds.get_client() as client:
        pictures = Pictures(target.storage_options, expiry, client=client)
        run = Run(steps, journal, client, policy, target.storage_options, on_stored=pictures.on_stored)
        result = await run.produce(job)
        spritesheet = await pictures.spritesheet(result) if in_flow_run() else ""
    hint = resume_hint(key)
    await publish_results(
        report, [result], estimated=result.estimated_usd, actual=result.actual_usd, resume_hint=hint, extra=spritesheet
    )
    if not result.ok:
        raise VideoNotStored(
            f"Video {result.video_id or '(none)'} {result.status}: {result.error}. {hint}",
            result=result,
            reason=result.error_type,
            video_id=result.video_id,
        )
    run_logger(__name__).info("Stored video %s at %s; cost $%s", result.video_id, result.url, result.actual_usd)
    return result


def resume_hint(key: str) -> str:
    """What to do about videos not stored, in every message and summary that reports them."""
    return f"Rerun with idempotency_key={key!r} to resume without paying twice."
