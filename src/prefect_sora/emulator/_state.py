"""Everything one emulator instance holds: config, jobs, counters, limits and the fault planner.

Routes run on the server's event loop while `Emulator.stats()` / `configure()` are called
from the test's thread, so every read and write goes through one lock. The lock is held
for microseconds (dict look-ups and counter bumps), never across I/O.

Which refusal a job's state calls for is decided in `prefect_sora.emulator._rules`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect_sora.emulator._characters import Characters
from prefect_sora.emulator._config import EmulatorConfig, Endpoint, FaultKind
from prefect_sora.emulator._directives import DirectiveError, parse_directives
from prefect_sora.emulator._echo import echoed_video_id, misrouted
from prefect_sora.emulator._errors import APIError, invalid, not_found
from prefect_sora.emulator._faults import FaultPlanner
from prefect_sora.emulator._ids import new_video_id
from prefect_sora.emulator._jobs import Clock, Job, Kind, Slots, plan_job
from prefect_sora.emulator._limits import Admission, Limits
from prefect_sora.emulator._poll_after import poll_after_ms
from prefect_sora.emulator._profiles import PROFILES, Profile
from prefect_sora.emulator._queries import page_of
from prefect_sora.emulator._rules import check_running, expired, require_completed, require_finished
from prefect_sora.emulator._stats import Stats
from prefect_sora.emulator._validation import CreateRequest, ModelRules
from prefect_sora.emulator._views import VideoStyle


@dataclass(frozen=True, slots=True)
class ContentTarget:
    """What the content route must serve for one download."""

    video_id: str
    variant: str
    size: str
    seconds: str
    media_seed: int
    synthetic_bytes: int | None
    defect: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the gateway decided for one `/v1` request before the app sees it."""

    label: str
    fault: FaultKind | None
    admission: Admission | None

    @property
    def refused(self) -> bool:
        """Whether the key's rpm bucket was empty."""
        return self.admission is not None and not self.admission.allowed


class EmulatorState:
    """The mutable heart of one emulator; every method is thread-safe."""

    def __init__(self, config: EmulatorConfig, *, clock: Clock | None = None) -> None:
        self.initial_config = config
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.characters = Characters()
        self.stats = Stats()
        self.limits = Limits()
        self.faults = FaultPlanner(config.seed)
        self._slots = Slots()
        self._seq = 0
        self._echoes: dict[str, str] = {}  # echoed id -> the id the create answered
        self._apply(config)

    def _apply(self, config: EmulatorConfig) -> None:
        self.config = config
        self.profile: Profile = PROFILES[config.profile]
        self.style = VideoStyle(config)
        self.rules = ModelRules(
            sizes=self.profile.model_sizes,
            model_required=self.profile.model_required,
            deployments=config.deployments,
        )

    # -- requests -------------------------------------------------------------------

    def begin_request(self, endpoint: Endpoint | None, key: bytes | None, api_version: str | None) -> Ticket:
        """Count a `/v1` request, take a token from its key's bucket, and decide its fault."""
        with self.lock:
            now = self.clock.now()
            stats, config, limits = self.stats, self.config, self.limits
            stats.requests_total += 1
            if api_version is not None:
                stats.api_versions_seen.add(api_version)
            label = limits.label(key)
            limits.arrive(label, now)
            admission = None
            capacity = config.bucket_capacity
            if config.rpm is not None and capacity is not None:
                admission = limits.admit(label, now, rpm=config.rpm, capacity=capacity)
                if not admission.allowed:
                    stats.rate_limited["rpm"] += 1
                    return Ticket(label=label, fault=None, admission=admission)
            fault = self.faults.draw(endpoint, config)
            if fault is not None:
                stats.faults[fault] += 1
                if fault == "429":
                    stats.rate_limited["fault"] += 1
            return Ticket(label=label, fault=fault, admission=admission)

    def count_response(self, status: int, label: str) -> None:
        """Count a `/v1` response by status (and, unless a 429, as accepted for its key)."""
        with self.lock:
            self.stats.responses_by_status[status] += 1
            if status != 429:
                self.limits.answered(label, self.clock.now())

    # -- jobs -----------------------------------------------------------------------

    def _get(self, video_id: str) -> Job:
        job = self.jobs.get(video_id)
        if job is None:
            if video_id in self._echoes:
                self.stats.misrouted += 1
                raise misrouted(video_id)
            raise not_found(video_id)
        return job

    def _render_echoed(self, job: Job, now: float) -> dict[str, object]:
        """A retrieve or list answer's Video object, under the id `echo_id` says it carries."""
        view = self.style.render(job, now)
        if self.config.echo_id == "reencoded":
            view["id"] = echoed = echoed_video_id(job.id)
            self._echoes[echoed] = job.id
        return view

    def create(
        self,
        request: CreateRequest,
        *,
        key_label: str = "anonymous",
        kind: Kind = "video",
        source: Job | None = None,
    ) -> dict[str, object]:
        """Plan and store a new job; its Video object as created."""
        try:
            directives = parse_directives(request.prompt)
        except DirectiveError as exc:
            raise invalid(str(exc), param="prompt", code="invalid_emulator_directive") from None
        with self.lock:
            now = self.clock.now()
            config = self.config
            try:
                check_running(
                    self.jobs.values(),
                    key_label,
                    now,
                    limit=config.max_running_jobs,
                    fallback=config.retry_after_seconds,
                )
            except APIError:
                self.stats.rate_limited["running_jobs"] += 1
                raise
            plan = plan_job(config, seq=self._seq, now=now, directives=directives)
            self._seq += 1
            self._slots.admit(plan, config.max_running)
            job = Job(
                id=new_video_id(self.profile.id_style, request.model),
                model=request.model,
                size=request.size,
                seconds=request.seconds,
                quality=request.quality,
                prompt=request.prompt,
                remixed_from_video_id=source.id if source is not None and kind == "remix" else None,
                plan=plan,
                kind=kind,
                source_video_id=None if source is None else source.id,
                key_label=key_label,
            )
            self.jobs[job.id] = job
            counter = {"video": "creates", "remix": "remixes", "extension": "extensions", "edit": "edits"}[kind]
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            return self.style.render(job, now)

    def source(self, video_id: str) -> Job:
        """The job a remix, extension or edit starts from; it must exist and be completed."""
        with self.lock:
            job = self._get(video_id)
            require_completed(job, self.clock.now())
            return job

    def poll(self, video_id: str) -> tuple[dict[str, object], int | None]:
        """The Video object now, and its ``openai-poll-after-ms`` (None once it has ended)."""
        with self.lock:
            job = self._get(video_id)
            self.stats.polls[video_id] += 1
            now = self.clock.now()
            return self._render_echoed(job, now), poll_after_ms(job, now, self.config.poll_after_ms)

    def poll_after_ms(self, video_id: str) -> int | None:
        """The ``openai-poll-after-ms`` an answer about this job carries now (a create's, say)."""
        with self.lock:
            return poll_after_ms(self._get(video_id), self.clock.now(), self.config.poll_after_ms)

    def list(self, *, limit: int, order: str, after: str | None) -> dict[str, object]:
        """One page of the list envelope, newest first unless `order="asc"`."""
        with self.lock:
            now = self.clock.now()
            jobs = list(self.jobs.values())
            if order == "desc":
                jobs.reverse()
            after = self._echoes.get(after, after) if after is not None else None
            page, has_more = page_of(jobs, [job.id for job in jobs], limit=limit, after=after)
            data = [self._render_echoed(job, now) for job in page]
            self.stats.lists += 1
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }

    def delete(self, video_id: str) -> dict[str, object]:
        """Delete a job that is no longer queued or in progress; the deleted-resource shape."""
        with self.lock:
            require_finished(self._get(video_id), self.clock.now())
            del self.jobs[video_id]
            self.stats.deletes += 1
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    def content(self, video_id: str, variant: str) -> ContentTarget:
        """What to serve for a download, counted; refusals per the module docstring."""
        with self.lock:
            job = self._get(video_id)
            now = self.clock.now()
            require_completed(job, now)
            expires_at = job.expires_at
            if expires_at is not None and now >= expires_at:
                raise expired(video_id)
            self.stats.downloads[video_id][variant] += 1
            return ContentTarget(
                video_id=video_id,
                variant=variant,
                size=job.size,
                seconds=job.seconds,
                media_seed=job.plan.media_seed,
                synthetic_bytes=job.plan.content_bytes if variant == "video" else None,
                defect=job.plan.defect if variant == "video" else None,
            )

    # -- characters -----------------------------------------------------------------

    def add_character(self, character_id: str, name: str) -> dict[str, object]:
        """Store a character made from an uploaded video; its resource."""
        with self.lock:
            self.stats.characters += 1
            return self.characters.add(character_id, name, self.style.stamp(self.clock.now()))

    def character(self, character_id: str) -> dict[str, object]:
        """A stored character's resource (404 `character_not_found` for an unknown id)."""
        with self.lock:
            return self.characters.get(character_id)

    # -- admin ----------------------------------------------------------------------

    def configure(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        """Apply validated config changes; a new seed re-seeds the fault generator, new limits refill buckets."""
        with self.lock:
            updated = self.config.updated(**changes)
            if updated.seed != self.config.seed:
                self.faults = FaultPlanner(updated.seed)
            if (updated.rpm, updated.bucket_capacity) != (self.config.rpm, self.config.bucket_capacity):
                self.limits.refill()
            self._apply(updated)
            return updated

    def reset(self) -> None:
        """Back to how the emulator started: no jobs, zero counters, startup config."""
        with self.lock:
            self._apply(self.initial_config)
            self.jobs.clear()
            self.characters.clear()
            self.stats = Stats()
            self.limits = Limits(window_seconds=self.limits.window_seconds)
            self.faults = FaultPlanner(self.config.seed)
            self._slots.clear()
            self._seq = 0
            self._echoes.clear()

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

    def finish(self, video_id: str) -> dict[str, object]:
        """End a held job now, as its other directives say; its plan afterwards.

        Under ``max_running`` its generation slot is free for jobs created from now on; a job
        created while it held the last slot keeps the plan it drew then (queued for good,
        as behind a stuck job).

        Raises:
            APIError: 404 for an unknown id, 409 for a job that is not held.
        """
        with self.lock:
            job = self._get(video_id)
            plan = job.plan
            if plan.ends_at is not None or plan.outcome == "stuck":
                raise APIError(
                    409, f"video {video_id} is not held ([emulator:hold]): it ends as planned", code="not_held"
                )
            now = self.clock.now()
            plan.started_at = min(plan.started_at, now)
            plan.ends_at = now
            plan.run_seconds = now - plan.started_at
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
                status = job.status_at(now)[0]
                by_status[status] = by_status.get(status, 0) + 1
            data = self.stats.snapshot()
            data.update(self.limits.snapshot())
            data["jobs_total"] = len(self.jobs)
            data["jobs_by_status"] = by_status
            data["scripted_faults"] = self.faults.pending()
            return data
