"""Everything one emulator instance holds: config, jobs, counters and the fault planner.

Routes run on the server's event loop while `Emulator.stats()` / `configure()` are called
from the test's thread, so every read and write goes through one lock. The lock is held
for microseconds (dict look-ups and counter bumps), never across I/O.

The HTTP semantics of job state live here too, in one place:

- content of a queued or in-progress job: 409 `video_not_ready`; of a failed job: 409
  `video_failed`; after `expires_at`: 410 `video_expired`;
- remix of a source that is not completed: the same 409s;
- delete of a queued or in-progress job: 409 `video_in_progress`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect_sora.emulator.config import EmulatorConfig, Endpoint, FaultKind
from prefect_sora.emulator.directives import DirectiveError, parse_directives
from prefect_sora.emulator.errors import APIError, invalid, not_found
from prefect_sora.emulator.faults import FaultPlanner
from prefect_sora.emulator.jobs import Clock, Job, Slots, plan_job
from prefect_sora.emulator.stats import Stats
from prefect_sora.emulator.validation import CreateRequest, Order


@dataclass(frozen=True, slots=True)
class ContentTarget:
    """What the content route must serve for one download."""

    video_id: str
    variant: str
    size: str
    seconds: str
    media_seed: int
    synthetic_bytes: int | None


def _unauthorized(message: str) -> APIError:
    return APIError(401, message, type="invalid_request_error", code="invalid_api_key")


class EmulatorState:
    """The mutable heart of one emulator; every method is thread-safe."""

    def __init__(self, config: EmulatorConfig, *, clock: Clock | None = None) -> None:
        self.initial_config = config
        self.config = config
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.stats = Stats()
        self.faults = FaultPlanner(config.seed)
        self._slots = Slots()
        self._seq = 0

    # -- requests -------------------------------------------------------------------

    def begin_request(self, endpoint: Endpoint | None) -> FaultKind | None:
        """Count a `/v1` request and decide its fault."""
        with self.lock:
            self.stats.requests_total += 1
            fault = self.faults.draw(endpoint, self.config)
            if fault is not None:
                self.stats.faults[fault] += 1
            return fault

    def count_response(self, status: int) -> None:
        """Count a `/v1` response by status."""
        with self.lock:
            self.stats.responses_by_status[status] += 1

    def authorize(self, header: str | None) -> None:
        """Accept `Authorization: Bearer <key>` (only the configured key, when one is set).

        Raises:
            APIError: 401 for a missing, malformed or wrong bearer token.
        """
        if not header:
            raise _unauthorized(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("Malformed Authorization header: expected 'Bearer YOUR_KEY'.")
        expected = self.config.api_key
        if expected is not None and not secrets.compare_digest(token.encode(), expected.get_secret_value().encode()):
            # Never echo the key back, not even masked.
            raise _unauthorized("Incorrect API key provided.")

    # -- jobs -----------------------------------------------------------------------

    def _get(self, video_id: str) -> Job:
        job = self.jobs.get(video_id)
        if job is None:
            raise not_found(video_id)
        return job

    def create(self, request: CreateRequest, *, remixed_from: str | None = None) -> dict[str, object]:
        """Plan and store a new job; its Video object as created."""
        try:
            directives = parse_directives(request.prompt)
        except DirectiveError as exc:
            raise invalid(str(exc), param="prompt", code="invalid_emulator_directive") from None
        with self.lock:
            now = self.clock.now()
            config = self.config
            plan = plan_job(config, seq=self._seq, now=now, directives=directives)
            self._seq += 1
            self._slots.admit(plan, config.max_running)
            job = Job(
                id=f"video_{secrets.token_hex(16)}",
                model=request.model,
                size=request.size,
                seconds=request.seconds,
                quality=request.quality,
                prompt=request.prompt,
                remixed_from_video_id=remixed_from,
                plan=plan,
            )
            self.jobs[job.id] = job
            if remixed_from is None:
                self.stats.creates += 1
            else:
                self.stats.remixes += 1
            return job.view(now)

    def remix_source(self, video_id: str) -> Job:
        """The job a remix starts from; it must exist and be completed."""
        with self.lock:
            job = self._get(video_id)
            self._require_completed(job, self.clock.now())
            return job

    def poll(self, video_id: str) -> tuple[dict[str, object], bool]:
        """The Video object now, and whether it is still queued or in progress."""
        with self.lock:
            job = self._get(video_id)
            self.stats.polls[video_id] += 1
            view = job.view(self.clock.now())
        return view, view["status"] in ("queued", "in_progress")

    def list(self, *, limit: int, order: Order, after: str | None) -> dict[str, object]:
        """One page of the list envelope, newest first unless `order="asc"`."""
        with self.lock:
            now = self.clock.now()
            jobs = list(self.jobs.values())
            if order == "desc":
                jobs.reverse()
            start = 0
            if after is not None:
                ids = [job.id for job in jobs]
                if after not in ids:
                    raise invalid(
                        f"Invalid 'after': no video with id '{after}'.",
                        param="after",
                        code="invalid_cursor",
                    )
                start = ids.index(after) + 1
            page = jobs[start : start + limit]
            data = [job.view(now) for job in page]
            self.stats.lists += 1
        return {
            "object": "list",
            "data": data,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": start + len(page) < len(jobs),
        }

    def delete(self, video_id: str) -> dict[str, object]:
        """Delete a completed or failed job; the deleted-resource shape."""
        with self.lock:
            job = self._get(video_id)
            status, _ = job.status_at(self.clock.now())
            if status in ("queued", "in_progress"):
                raise APIError(
                    409,
                    f"Video '{video_id}' is {status}; only completed or failed videos can be deleted.",
                    param="video_id",
                    code="video_in_progress",
                )
            del self.jobs[video_id]
            self.stats.deletes += 1
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    def content(self, video_id: str, variant: str) -> ContentTarget:
        """What to serve for a download, counted; refusals per the module docstring."""
        with self.lock:
            job = self._get(video_id)
            now = self.clock.now()
            self._require_completed(job, now)
            expires_at = job.expires_at
            if expires_at is not None and now >= expires_at:
                raise APIError(
                    410,
                    f"The content of video '{video_id}' expired and is no longer available.",
                    param="video_id",
                    code="video_expired",
                )
            self.stats.downloads[video_id][variant] += 1
            return ContentTarget(
                video_id=video_id,
                variant=variant,
                size=job.size,
                seconds=job.seconds,
                media_seed=job.plan.media_seed,
                synthetic_bytes=job.plan.content_bytes if variant == "video" else None,
            )

    @staticmethod
    def _require_completed(job: Job, now: float) -> None:
        status, progress = job.status_at(now)
        if status == "failed":
            raise APIError(
                409,
                f"Video '{job.id}' failed and has no content.",
                param="video_id",
                code="video_failed",
            )
        if status != "completed":
            raise APIError(
                409,
                f"Video '{job.id}' is not ready yet (status {status}, {progress}% done).",
                param="video_id",
                code="video_not_ready",
            )

    # -- admin ----------------------------------------------------------------------

    def configure(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        """Apply validated config changes; a new seed re-seeds the fault generator."""
        with self.lock:
            updated = self.config.updated(**changes)
            if updated.seed != self.config.seed:
                self.faults = FaultPlanner(updated.seed)
            self.config = updated
            return updated

    def reset(self) -> None:
        """Back to how the emulator started: no jobs, zero counters, startup config."""
        with self.lock:
            self.config = self.initial_config
            self.jobs.clear()
            self.stats = Stats()
            self.faults = FaultPlanner(self.config.seed)
            self._slots.clear()
            self._seq = 0

    def inject(self, fault: FaultKind, *, count: int, endpoint: Endpoint | None) -> None:
        """Script a fault for the next `count` requests to `endpoint`."""
        with self.lock:
            self.faults.inject(fault, count=count, endpoint=endpoint)

    def expire(self, video_id: str) -> dict[str, object]:
        """Make a job's content expire now; its plan afterwards."""
        with self.lock:
            job = self._get(video_id)
            now = self.clock.now()
            job.expired_at = now
            return job.plan_view(now)

    def plan(self, video_id: str) -> dict[str, object]:
        """A job's plan with precise float times."""
        with self.lock:
            return self._get(video_id).plan_view(self.clock.now())

    def snapshot(self) -> dict[str, object]:
        """The counters, plus how many jobs are in each status right now."""
        with self.lock:
            now = self.clock.now()
            by_status = {"queued": 0, "in_progress": 0, "completed": 0, "failed": 0}
            for job in self.jobs.values():
                by_status[job.status_at(now)[0]] += 1
            data = self.stats.snapshot()
            data["jobs_total"] = len(self.jobs)
            data["jobs_by_status"] = by_status
            data["scripted_faults"] = self.faults.pending()
            return data
