"""Video jobs: a plan fixed at creation, and a status computed from the clock on every read.

Each job's fate (when it starts, when it ends, whether it completes, fails or hangs) is
drawn once, at creation, from a generator seeded with the config's `seed` and the job's
creation ordinal, so the same seed and the same sequence of creates give the same plans.
Nothing runs in the background: `status_at(now)` derives queued / in_progress / completed
/ failed (or a directive's other terminal status) and the progress figure from the plan,
which keeps a thousand jobs free.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._directives import Directives

PENDING = frozenset({"queued", "in_progress"})
"""The statuses of a job that is still going to change."""

Outcome = Literal["complete", "fail", "stuck", "end"]
Kind = Literal["video", "remix", "extension", "edit"]
Stamp = Callable[[float], object]
"""Renders a timestamp for the API (int seconds by default)."""

# The share of a fixed `job_seconds` that the queued phase may take at most.
_MAX_QUEUE_SHARE = 0.25

FAILURE_MESSAGES = {
    "moderation_blocked": "Your request was blocked by our moderation system.",
    "input_moderation": "The input was flagged by our moderation system.",
    "output_moderation": "The generated video was flagged by our moderation system.",
    "internal_error": "The video could not be generated due to an internal error.",
}

# Terminal statuses other than `failed` that gateways send for jobs that did not complete;
# they carry an `error` like a failure does. Any other status a directive names is sent bare.
FAILURE_LIKE = frozenset({"failed", "cancelled", "canceled", "expired", "error", "rejected", "timed_out"})


class Clock:
    """Wall-clock seconds; a class so tests of the pure logic can drive time by hand."""

    def now(self) -> float:
        """Seconds since the epoch, as `time.time()` gives them."""
        return time.time()


def progress_at(fraction: float, *, plateau: float) -> int:
    """Approximate progress (0..99) after `fraction` of the generation time.

    An eased rise to `plateau` percent over the first 40 %, a slow creep over the middle
    20 % (the "stuck at 63 %" every user of the real service has watched), then an eased
    run to 99. Completion alone reports 100.
    """
    x = min(max(fraction, 0.0), 1.0)
    if x < 0.4:
        u = x / 0.4
        value = plateau * (1 - (1 - u) ** 2)
    elif x < 0.6:
        value = plateau + 4.0 * (x - 0.4) / 0.2
    else:
        u = (x - 0.6) / 0.4
        eased = u * u * (3 - 2 * u)
        value = plateau + 4.0 + (99.0 - plateau - 4.0) * eased
    return min(99, max(0, int(value)))


@dataclass(slots=True)
class JobPlan:
    """When a job starts and ends and how; `ends_at` is None for a stuck or held job."""

    seq: int
    created_at: float
    started_at: float
    ends_at: float | None
    run_seconds: float
    outcome: Outcome
    failure_code: str | None
    end_status: str | None
    pending_status: str | None
    plateau: float
    stuck_fraction: float
    ttl_seconds: float
    content_bytes: int | None
    media_seed: int
    defect: str | None = None  # [emulator:defect=KIND]: the video served is not the one paid for


def plan_job(config: EmulatorConfig, *, seq: int, now: float, directives: Directives) -> JobPlan:
    """Draw a job's plan (before any `max_running` delay) from the seeded generator.

    The generator draws the same values whatever the directives say, so one job with a
    directive does not shift the plans of the jobs after it.
    """
    rng = random.Random(f"{config.seed}/job/{seq}")
    drawn_total = rng.uniform(*config.job_seconds_range)
    drawn_queue = rng.uniform(*config.queue_seconds_range)
    fate = rng.random()
    code = rng.choice(config.failure_codes)
    plateau = rng.uniform(55.0, 70.0)
    stuck_fraction = rng.uniform(0.3, 0.9)
    media_seed = rng.randrange(2**31)

    total = directives.seconds
    if total is None:
        total = config.job_seconds if config.job_seconds is not None else drawn_total
    queue = min(drawn_queue, total * _MAX_QUEUE_SHARE)

    outcome: Outcome = "complete"
    failure_code: str | None = None
    end_status: str | None = None
    if directives.fail_at_create:
        total = queue = 0.0
    if directives.stuck:
        outcome = "stuck"
    elif directives.fails or directives.end == "failed":
        outcome, failure_code = "fail", directives.fail or config.failure_codes[0]
    elif directives.end is not None:
        if directives.end != "completed":
            outcome, end_status = "end", directives.end
    elif fate < config.failure_rate:
        outcome, failure_code = "fail", code
    elif fate < config.failure_rate + config.stuck_rate:
        outcome = "stuck"

    content_bytes = directives.content_bytes
    if content_bytes is None and directives.defect is None:
        content_bytes = config.synthetic_content_bytes
    return JobPlan(
        seq=seq,
        created_at=now,
        started_at=now + queue,
        ends_at=None if outcome == "stuck" or directives.hold else now + total,
        run_seconds=total - queue,
        outcome=outcome,
        failure_code=failure_code,
        end_status=end_status,
        pending_status=directives.pending_status,
        plateau=plateau,
        stuck_fraction=stuck_fraction,
        ttl_seconds=directives.ttl if directives.ttl is not None else config.content_ttl_seconds,
        content_bytes=content_bytes,
        media_seed=media_seed,
        defect=directives.defect,
    )


class Slots:
    """The `max_running` generation slots: the plans holding one, each until its (current) end.

    The plans themselves are kept, not their end times, because a held job's end is
    decided later (`EmulatorState.finish`): its slot frees up when it really ends.
    """

    def __init__(self) -> None:
        self._holders: list[JobPlan] = []

    def admit(self, plan: JobPlan, limit: int | None) -> None:
        """Delay `plan` until a slot is free at its start, keeping its generation time."""
        if limit is None or plan.ends_at == plan.created_at:
            # No limit, or a job that failed at creation and never runs.
            return
        self._holders = [held for held in self._holders if _end(held) > plan.started_at]
        if len(self._holders) >= limit:
            first = min(self._holders, key=_end)
            self._holders.remove(first)
            free_at = _end(first)
            delay = free_at - plan.started_at
            plan.started_at = free_at
            if plan.ends_at is not None:
                plan.ends_at += delay
        self._holders.append(plan)

    def clear(self) -> None:
        """Forget every slot (the emulator was reset)."""
        self._holders.clear()


def _end(plan: JobPlan) -> float:
    """When `plan` gives its slot back: never, for a stuck job or one still held."""
    return plan.ends_at if plan.ends_at is not None else math.inf


@dataclass(slots=True)
class Job:
    """One video job as the API shows it, plus its plan."""

    id: str
    model: str
    size: str
    seconds: str
    quality: str
    prompt: str
    remixed_from_video_id: str | None
    plan: JobPlan
    kind: Kind = "video"
    source_video_id: str | None = None
    key_label: str = "anonymous"
    expired_at: float | None = None

    def status_at(self, now: float) -> tuple[str, int]:
        """The status (schema status, or a directive's terminal one) and progress at `now`."""
        plan = self.plan
        if plan.ends_at is not None and now >= plan.ends_at:
            if plan.outcome == "complete":
                return "completed", 100
            progress = 0 if plan.ends_at <= plan.started_at else self._progress(plan.ends_at)
            return plan.end_status or "failed", progress
        if now < plan.started_at:
            return "queued", 0
        return "in_progress", self._progress(now)

    def _progress(self, now: float) -> int:
        plan = self.plan
        if plan.ends_at is None:
            # A stuck (or held) job rises like any other, then hangs at a seeded point.
            span = max(plan.run_seconds, 1e-9)
            fraction = min((now - plan.started_at) / span, plan.stuck_fraction)
        else:
            span = plan.ends_at - plan.started_at
            fraction = (now - plan.started_at) / span if span > 0 else 1.0
        return progress_at(fraction, plateau=plan.plateau)

    @property
    def completed_at(self) -> float | None:
        """The precise time the job completed (or will), None unless it completes."""
        return self.plan.ends_at if self.plan.outcome == "complete" else None

    @property
    def expires_at(self) -> float | None:
        """When the content stops being downloadable, None unless it completes."""
        if self.expired_at is not None:
            return self.expired_at
        completed = self.completed_at
        return None if completed is None else completed + self.plan.ttl_seconds

    def view(self, now: float, stamp: Stamp = int) -> dict[str, object]:
        """The Video object at time `now`, every schema field present."""
        plan = self.plan
        status, progress = self.status_at(now)
        completed = status == "completed"
        error = None
        if status == "failed":
            code = plan.failure_code or "internal_error"
            message = FAILURE_MESSAGES.get(code, f"Video generation failed ({code}).")
            error = {"code": code, "message": message}
        elif status in FAILURE_LIKE:
            error = {"code": status, "message": f"The video generation ended with status '{status}'."}
        elif status == "in_progress" and plan.pending_status is not None:
            status = plan.pending_status
        expires_at = self.expires_at if completed else None
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": status,
            "progress": progress,
            "created_at": stamp(plan.created_at),
            "completed_at": stamp(plan.ends_at) if completed and plan.ends_at is not None else None,
            "expires_at": stamp(expires_at) if expires_at is not None else None,
            "size": self.size,
            "seconds": self.seconds,
            "quality": self.quality,
            "prompt": self.prompt,
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": error,
        }

    def plan_view(self, now: float) -> dict[str, object]:
        """The job's plan with precise float times, for `GET /_emulator/videos/{id}`."""
        plan = self.plan
        status, progress = self.status_at(now)
        return {
            "id": self.id,
            "seq": plan.seq,
            "status": status,
            "progress": progress,
            "kind": self.kind,
            "source_video_id": self.source_video_id,
            "outcome": plan.outcome,
            "failure_code": plan.failure_code,
            "end_status": plan.end_status,
            "pending_status": plan.pending_status,
            "created_at": plan.created_at,
            "started_at": plan.started_at,
            "ends_at": plan.ends_at,
            "run_seconds": plan.run_seconds,
            "completed_at": self.completed_at,
            "expires_at": self.expires_at,
            "ttl_seconds": plan.ttl_seconds,
            "content_bytes": plan.content_bytes,
            "media_seed": plan.media_seed,
            "defect": plan.defect,
            "now": now,
        }
