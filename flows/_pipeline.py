"""One video from request to stored file, resumable through the journal.

Shared by every flow. The steps (submit, wait, fetch) are passed in, so the
single-video flows run them as the atomic Prefect tasks (visible in the UI)
while the batch flow runs them on one shared client inside one task per item
(cheap at a thousand items). The outcome is always a ``VideoResult`` that keeps
the job id: nothing paid for is ever lost, whatever failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import fsspec

from prefect_sora._durable.journal import Journal, JournalEntry, fingerprint
from prefect_sora._errors import (
    ContentExpired,
    InvalidParameter,
    JobCancelled,
    JobFailed,
    SoraError,
    SpendLimitReached,
    SubmissionUncertain,
    VideoDefective,
    WaitTimeout,
)
from prefect_sora._models import ImageReference, ImageUpload, StoredVideo, Video, VideoRequest
from prefect_sora._pricing import CostEstimate
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.reconcile import find_matching_job
from prefect_sora.flows._gate import SubmitGate
from prefect_sora.flows._results import ItemStatus, VideoResult
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._spend import SpendGuard, reserved_by_caller, spend_guard

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]

#: The journal's failure code of a job that was cancelled rather than failed.
CANCELLED = "cancelled"


class JobPending(Exception):
    """Raised by a wait step that does not wait: the job is generating and the run will suspend.

    Only a batch run with ``wait="suspend"`` uses it; the item ends ``pending``, keeping its id.
    """

    def __init__(self, video: Video) -> None:
        super().__init__(f"video {video.id} is {video.status}")
        self.video = video


@dataclass(frozen=True)
class Job:
    """One video to produce: a create (``request``) or a remix of ``remix_of``."""

    index: int
    request: VideoRequest
    estimate: CostEstimate
    input_reference: ImageUpload | ImageReference | None = None
    remix_of: str | None = None

    def fingerprint(self) -> str:
        """What the journal checks a rerun's item against."""
        reference: object = None
        if isinstance(self.input_reference, ImageUpload):
            reference = hashlib.sha256(self.input_reference.content).hexdigest()
        elif self.input_reference is not None:
            reference = self.input_reference.model_dump()
        return fingerprint({"request": self.request.model_dump(), "ref": reference, "remix_of": self.remix_of})


class Steps(Protocol):
    """The three calls a video needs; tasks or plain client calls."""

    async def submit(self, job: Job, *, idempotency_key: str, exclude_ids: frozenset[str]) -> Video: ...

    async def wait(self, video: Video | str) -> Video: ...

    async def fetch(self, video_id: str, *, paid: VideoRequest | None = None) -> StoredVideo: ...


@dataclass
class Policy:
    """What a run may do on its own when a job fails or its content expired.

    Attributes:
        resubmit_failed: How many times a failed job (not billed) may be resubmitted.
        regenerate_expired: Pay again for a video whose download window closed.
    """

    resubmit_failed: int = 0
    regenerate_expired: bool = False

    #: A hard cap, so a typo cannot turn a moderation loop into a spending loop.
    MAX_RESUBMITS = 10

    def __post_init__(self) -> None:
        if not 0 <= self.resubmit_failed <= self.MAX_RESUBMITS:
            raise InvalidParameter("resubmit_failed", self.resubmit_failed, f"must be 0 to {self.MAX_RESUBMITS}")


@dataclass
class Run:
    """What every video of one flow run shares, and producing one of them.

    Attributes:
        steps: How to submit, wait and fetch (the atomic tasks or one shared client).
        journal: The run's records, one per item.
        client: For looking up a create cut off mid-request.
        policy: What to do on its own about failed jobs and expired content.
        storage_options: fsspec options for the outputs.
        on_stored: Awaited with the result of each video this run stores (a link artifact).
        spend: The key's shared spend limit: each create reserves its estimate on it
            first, and a failed job gives it back. When not given, the one the steps'
            credentials name (``spend_limit_name``), opened at the first create.
        gate: The run's one submit gate, shared by all of its items.
    """

    steps: Steps
    journal: Journal
    client: SoraClient
    policy: Policy = field(default_factory=Policy)
    storage_options: dict[str, Any] | None = None
    on_stored: Callable[[VideoResult], Awaitable[None]] | None = None
    spend: SpendGuard | None = None
    gate: SubmitGate = field(default_factory=SubmitGate, init=False, repr=False)
    _spend_opened: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def produce(self, job: Job, entry: JournalEntry | None = None) -> VideoResult:
        """Take one job from wherever the journal says it is to a stored file.

        Any failure ends in a result that keeps the job's id, never in an exception:
        one item of a batch must not stop or lose the others. Errors that are not
        the API's (a disk that fills up, a bug) are logged with their traceback.
        """
        entry = entry or await self.journal.load(job.index, job.fingerprint())
        item = _Item(job, entry, resumed=entry.stage != "new")
        logger = run_logger(__name__)
        try:
            return await self._produce(item, logger)
        except Exception as exc:
            logger.exception("Item %d: unexpected %s", job.index, type(exc).__name__)
            return item.result("error", error=exc)

    async def _produce(self, item: _Item, logger: Logger) -> VideoResult:
        job, entry = item.job, item.entry
        if entry.stage == "stored" and entry.stored is not None:
            if await _exists(entry.stored.url, self.storage_options):
                logger.info("Item %d: video %s already stored at %s", job.index, entry.video_id, entry.stored.url)
                item.billed = True
                return item.result("stored", stored=entry.stored)
            entry.to_submitted(entry.stored.video_id)  # the file went missing: fetch it again
        if entry.stage == "failed" and entry.failure_code == CANCELLED:
            # Someone cancelled this job (at the gateway or in its console): a rerun respects that.
            cancelled = JobCancelled(entry.failure or "Job cancelled", code=CANCELLED, video_id=entry.failed_ids[-1])
            return item.result("cancelled", error=cancelled, video_id=cancelled.video_id)
        if entry.stage == "failed" and len(entry.failed_ids) > self.policy.resubmit_failed:
            # An earlier run saw this job fail; resubmitting is the policy's call, not a rerun's.
            error = JobFailed(entry.failure or "Job failed", code=entry.failure_code, video_id=entry.failed_ids[-1])
            return item.result("failed", error=error, video_id=error.video_id)
        while True:
            try:
                video = await self._ensure_submitted(item, logger)
                completed = await self.steps.wait(video)
                item.billed = True  # billed from here on, whatever happens to the download
                stored = await self.steps.fetch(completed.id, paid=job.request)
            except SpendLimitReached as exc:
                # Refused before any request: the journal still says "new", so a rerun with the key retries it.
                item.paid_again = Decimal("0")  # a regeneration refused here was never paid for
                return item.result("refused", error=exc)
            except JobCancelled as exc:  # before JobFailed: a cancelled job is never resubmitted
                await self._give_back(item)
                await self.journal.save(entry.to_failed(exc.video_id, code=CANCELLED, message=exc.message))
                return item.result("cancelled", error=exc, video_id=exc.video_id)
            except JobFailed as exc:
                await self._give_back(item)
                await self.journal.save(entry.to_failed(exc.video_id, code=exc.code, message=exc.message))
                if len(entry.failed_ids) <= self.policy.resubmit_failed:
                    logger.warning("Item %d: job %s failed (%s); resubmitting", job.index, exc.video_id, exc.code)
                    entry.to_new()
                    continue
                return item.result("failed", error=exc, video_id=exc.video_id)
            except ContentExpired as exc:
                item.billed = True  # expired content was paid for when it completed
                if self.policy.regenerate_expired and not item.paid_again:
                    logger.warning("Item %d: content of %s expired; regenerating (pays again)", job.index, exc.video_id)
                    item.paid_again = job.estimate.total_usd
                    entry.to_new()
                    continue
                return item.result("expired", error=exc, video_id=exc.video_id)
            except JobPending as exc:
                # Kept reserved and journaled as submitted: the resumed run takes it from here.
                return item.result("pending", video_id=item.entry.video_id or exc.video.id)
            except WaitTimeout as exc:
                return item.result("timed_out", error=exc, video_id=exc.video_id)
            except VideoDefective as exc:
                # Kept where it was stored and not journaled as stored: a rerun downloads and checks it again.
                return item.result("defective", error=exc, stored=exc.result, problems=exc.problems)
            except SoraError as exc:
                if item.reserved and not item.created and not isinstance(exc, SubmissionUncertain):
                    await self._give_back(item)  # the create was refused outright: no job, nothing billed
                return item.result("error", error=exc, video_id=exc.video_id)
            await self.journal.save(entry.to_stored(stored))
            result = item.result("stored", stored=stored)
            if self.on_stored is not None:
                await self.on_stored(result)
            return result

    async def _ensure_submitted(self, item: _Item, logger: Logger) -> Video | str:
        """The job's id from the journal, a lookup after a crash mid-create, or a new create."""
        entry, job = item.entry, item.job
        if entry.video_id is not None:
            logger.info("Item %d: resuming video %s without a new create", job.index, entry.video_id)
            return entry.video_id
        if entry.stage == "submitting" and entry.submitting_since is not None:
            found = await self._look_up(item, entry.submitting_since, logger)
            if found is not None:
                return found
        spend = await self._spend_guard()
        if spend is not None:
            # Reserved before the create, never after; refused (SpendLimitReached) before any request.
            item.reserved = await spend.reserve(job.estimate.total_usd, what=f"item {job.index}")
            item.reserved_at = time.monotonic()
        item.created = False
        async with self.gate.create():
            known = await self.journal.known_ids()
            await self.journal.save(entry.to_submitting(time.time()))
            key = f"{self.journal.key}-{job.index}-{len(entry.failed_ids)}"
            with reserved_by_caller():  # reserved above: the submit task must not reserve again
                video = await self.steps.submit(job, idempotency_key=key, exclude_ids=known)
            item.created = True
            await self.journal.save(entry.to_submitted(video.id))
        return video

    async def _spend_guard(self) -> SpendGuard | None:
        """The given guard, or the one the credentials name: every create of a key with a limit is guarded."""
        async with self._spend_opened:
            if self.spend is None:
                credentials = getattr(self.steps, "credentials", None)
                self.spend = await spend_guard(credentials) if credentials is not None else None
            return self.spend

    async def _give_back(self, item: _Item) -> None:
        """A reservation this run made for a job that was not billed goes back to the spend limit."""
        if self.spend is not None and item.reserved:
            cents, item.reserved = item.reserved, 0
            await self.spend.give_back(cents, what=f"item {item.job.index}", since=item.reserved_at)

    async def _look_up(self, item: _Item, since: float, logger: Logger) -> Video | None:
        """The job an interrupted create made, if ``GET /videos`` shows one; recorded before the gate opens."""
        job, entry = item.job, item.entry
        match = {"prompt": job.request.prompt}
        if job.remix_of:
            match["remixed_from_video_id"] = job.remix_of
        else:
            match.update(model=job.request.model, size=job.request.size, seconds=job.request.seconds)
        async with self.gate.lookup():
            known = await self.journal.known_ids()
            try:
                found = await find_matching_job(self.client, match, since=since, exclude_ids=known)
            except SoraError as exc:
                raise SubmissionUncertain(
                    f"Item {job.index} was being submitted when the last run stopped and GET /videos "
                    "could not tell whether a job was made; rerun later with the same idempotency key",
                ) from exc
            if found is not None:
                logger.info("Item %d: found video %s made by an interrupted run", job.index, found.id)
                await self.journal.save(entry.to_submitted(found.id))
        return found


def deferred(job: Job, entry: JournalEntry) -> VideoResult:
    """The ``pending`` result of an item a suspending batch has not submitted yet (no room for it)."""
    return _Item(job, entry).result("pending")


@dataclass
class _Item:
    """One job's way through a run, folded into its ``VideoResult`` at the end."""

    job: Job
    entry: JournalEntry
    resumed: bool = False
    #: The job completed, so it is paid for, whatever happens to the download.
    billed: bool = False
    #: The price of a video generated again after its content expired.
    paid_again: Decimal = Decimal("0")
    #: Cents this run reserved on the spend limit for the current create, and when.
    reserved: int = 0
    reserved_at: float | None = None
    #: The current create returned a job (a reservation is then kept unless the job fails).
    created: bool = False

    def result(
        self,
        status: ItemStatus,
        *,
        stored: StoredVideo | None = None,
        error: BaseException | None = None,
        video_id: str | None = None,
        problems: list[str] | None = None,
    ) -> VideoResult:
        job = self.job
        return VideoResult(
            index=job.index,
            prompt=job.request.prompt,
            model=job.request.model,
            size=job.request.size,
            seconds=job.request.seconds,
            video_id=stored.video_id if stored else video_id or self.entry.video_id,
            status=status,
            url=stored.url if stored else None,
            bytes=stored.bytes if stored else None,
            sha256=stored.sha256 if stored else None,
            estimated_usd=job.estimate.total_usd,
            actual_usd=self.paid_again + (job.estimate.total_usd if self.billed else Decimal("0")),
            error_type=type(error).__name__ if error else None,
            error_code=getattr(error, "code", None) if error else None,
            error=str(error) if error else None,
            resumed=self.resumed,
            failed_video_ids=[i for i in self.entry.failed_ids if i],
            problems=problems or [],
        )


async def _exists(url: str, storage_options: dict[str, Any] | None) -> bool:
    def check() -> bool:
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        return bool(fs.exists(path))

    try:
        return await asyncio.to_thread(check)
    except (OSError, ValueError):
        return False
