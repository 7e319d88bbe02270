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
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import fsspec

from prefect_sora.client import ImageReference, ImageUpload, SoraClient
from prefect_sora.errors import (
    ContentExpired,
    InvalidParameter,
    JobFailed,
    SoraError,
    SubmissionUncertain,
    WaitTimeout,
)
from prefect_sora.flows.results import ItemStatus, VideoResult
from prefect_sora.journal import Journal, JournalEntry, fingerprint
from prefect_sora.models import StoredVideo, Video, VideoRequest
from prefect_sora.pricing import CostEstimate
from prefect_sora.reconcile import find_matching_job


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

    async def fetch(self, video_id: str) -> StoredVideo: ...


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
class Produced:
    """Mutable progress of one item, folded into a ``VideoResult`` at the end."""

    job: Job
    entry: JournalEntry
    resumed: bool = False
    completed: bool = False
    regenerated: Decimal = Decimal("0")


async def produce(
    job: Job,
    *,
    steps: Steps,
    journal: Journal,
    client: SoraClient,
    policy: Policy,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    storage_options: dict[str, Any] | None = None,
    on_stored: Callable[[StoredVideo], Awaitable[None]] | None = None,
    entry: JournalEntry | None = None,
) -> VideoResult:
    """Take one job from wherever the journal says it is to a stored file.

    Any failure ends in a result that keeps the job's id, never in an exception:
    one item of a batch must not stop or lose the others. Errors that are not
    the API's (a disk that fills up, a bug) are logged with their traceback.
    """
    entry = entry or await journal.load(job.index, job.fingerprint())
    state = Produced(job, entry, resumed=entry.state != "new")
    try:
        return await _produce(
            state,
            steps=steps,
            journal=journal,
            client=client,
            policy=policy,
            logger=logger,
            storage_options=storage_options,
            on_stored=on_stored,
        )
    except Exception as exc:
        logger.exception("Item %d: unexpected %s", job.index, type(exc).__name__)
        return _result(state, "error", error=exc, video_id=entry.video_id)


async def _produce(
    state: Produced,
    *,
    steps: Steps,
    journal: Journal,
    client: SoraClient,
    policy: Policy,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    storage_options: dict[str, Any] | None,
    on_stored: Callable[[StoredVideo], Awaitable[None]] | None,
) -> VideoResult:
    job, entry = state.job, state.entry
    if entry.state == "stored" and entry.stored is not None:
        if await _exists(entry.stored.url, storage_options):
            logger.info("Item %d: video %s already stored at %s", job.index, entry.video_id, entry.stored.url)
            state.completed = True
            return _result(state, "stored", stored=entry.stored)
        entry.state = "submitted"  # the file went missing: fetch it again
    if entry.state == "failed" and len(entry.failed_ids) > policy.resubmit_failed:
        # An earlier run saw this job fail; resubmitting is the policy's call, not a rerun's.
        error = JobFailed(entry.failure or "Job failed", code=entry.failure_code, video_id=entry.failed_ids[-1])
        return _result(state, "failed", error=error, video_id=error.video_id)
    while True:
        try:
            video = await _ensure_submitted(state, steps, journal, client, logger)
            completed = await steps.wait(video)
            state.completed = True  # billed from here on, whatever happens to the download
            stored = await steps.fetch(completed.id)
        except JobFailed as exc:
            entry.failed_ids.append(exc.video_id or entry.video_id or "")
            entry.state, entry.video_id = "failed", None
            entry.failure_code, entry.failure = exc.code, exc.message
            await journal.save(entry)
            if len(entry.failed_ids) <= policy.resubmit_failed:
                logger.warning("Item %d: job %s failed (%s); resubmitting", job.index, exc.video_id, exc.code)
                entry.state = "new"
                continue
            return _result(state, "failed", error=exc, video_id=exc.video_id)
        except ContentExpired as exc:
            state.completed = True  # expired content was paid for when it completed
            if policy.regenerate_expired and not state.regenerated:
                logger.warning("Item %d: content of %s expired; regenerating (pays again)", job.index, exc.video_id)
                state.regenerated = job.estimate.total_usd
                entry.state, entry.video_id = "new", None
                continue
            return _result(state, "expired", error=exc, video_id=exc.video_id)
        except WaitTimeout as exc:
            return _result(state, "timed_out", error=exc, video_id=exc.video_id)
        except SoraError as exc:
            return _result(state, "error", error=exc, video_id=exc.video_id)
        entry.state, entry.stored = "stored", stored
        await journal.save(entry)
        if on_stored is not None:
            await on_stored(stored)
        return _result(state, "stored", stored=stored)


async def _ensure_submitted(
    state: Produced,
    steps: Steps,
    journal: Journal,
    client: SoraClient,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> Video | str:
    """The job's id from the journal, a lookup after a crash mid-create, or a new create."""
    entry, job = state.entry, state.job
    if entry.video_id is not None:
        logger.info("Item %d: resuming video %s without a new create", job.index, entry.video_id)
        return entry.video_id
    gate = _gates.setdefault(journal, _SubmitGate())
    if entry.state == "submitting" and entry.submitting_since is not None:
        match = {"prompt": job.request.prompt}
        if job.remix_of:
            match["remixed_from_video_id"] = job.remix_of
        else:
            match.update(model=job.request.model, size=job.request.size, seconds=job.request.seconds)
        async with gate.lookup():
            known = await journal.known_ids()
            try:
                found = await find_matching_job(client, match, since=entry.submitting_since, exclude_ids=known)
            except SoraError as exc:
                raise SubmissionUncertain(
                    f"Item {job.index} was being submitted when the last run stopped and GET /videos "
                    "could not tell whether a job was made; rerun later with the same idempotency key",
                ) from exc
            if found is not None:
                logger.info("Item %d: found video %s made by an interrupted run", job.index, found.id)
                entry.state, entry.video_id = "submitted", found.id
                await journal.save(entry)
                return found
    async with gate.create():
        known = await journal.known_ids()
        entry.state, entry.submitting_since = "submitting", time.time()
        await journal.save(entry)
        key = f"{journal.key}-{job.index}-{len(entry.failed_ids)}"
        video = await steps.submit(job, idempotency_key=key, exclude_ids=known)
        entry.state, entry.video_id = "submitted", video.id
        await journal.save(entry)
    return video


class _SubmitGate:
    """Keeps one run's lookups of cut-off creates apart from each other and from its items' creates.

    ``known_ids`` only holds ids already written to the journal; without this, two
    items of the same request cut off mid-create both adopted the newest matching
    job (losing the other, paid one), and a lookup could adopt the job a sibling was
    creating at that moment. Creates run side by side; a lookup runs alone, after the
    creates in flight have written their ids, and holds new creates back meanwhile.
    """

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._creating = 0
        self._looking = False

    @asynccontextmanager
    async def create(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._looking)
            self._creating += 1
        try:
            yield
        finally:
            async with self._changed:
                self._creating -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._looking)
            self._looking = True
            await self._changed.wait_for(lambda: self._creating == 0)
        try:
            yield
        finally:
            async with self._changed:
                self._looking = False
                self._changed.notify_all()


#: One gate per journal object, i.e. per run: every item of a batch shares its run's journal.
_gates: weakref.WeakKeyDictionary[Journal, _SubmitGate] = weakref.WeakKeyDictionary()


def _result(
    state: Produced,
    status: ItemStatus,
    *,
    stored: StoredVideo | None = None,
    error: BaseException | None = None,
    video_id: str | None = None,
) -> VideoResult:
    job = state.job
    return VideoResult(
        index=job.index,
        prompt=job.request.prompt,
        model=job.request.model,
        size=job.request.size,
        seconds=job.request.seconds,
        video_id=stored.video_id if stored else video_id or state.entry.video_id,
        status=status,
        url=stored.url if stored else None,
        bytes=stored.bytes if stored else None,
        sha256=stored.sha256 if stored else None,
        estimated_usd=job.estimate.total_usd,
        actual_usd=state.regenerated + (job.estimate.total_usd if state.completed else Decimal("0")),
        error_type=type(error).__name__ if error else None,
        error_code=getattr(error, "code", None) if error else None,
        error=str(error) if error else None,
        resumed=state.resumed,
        failed_video_ids=[i for i in state.entry.failed_ids if i],
    )


async def _exists(url: str, storage_options: dict[str, Any] | None) -> bool:
    def check() -> bool:
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        return bool(fs.exists(path))

    try:
        return await asyncio.to_thread(check)
    except (OSError, ValueError):
        return False
