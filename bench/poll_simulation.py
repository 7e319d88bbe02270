"""Polling, simulated: the pure poll schedule against jobs on a virtual clock, 10 s to 10 minutes.

The live benchmark (``bench/polling.py``) can only afford jobs of seconds; the schedule
has to hold for jobs of minutes too. Here no time passes: a job is a function of time,
the wait loop of :func:`prefect_sora._transport.waiting.wait_for_video` is replayed with
``PollSchedule`` (observe, return when completed, sleep ``next_delay``), and a GET is
one call of that loop. Deterministic for the seeds, so two schedules compare exactly.

The jobs are the emulator's own: plans drawn by ``plan_job`` with the same config and
seeds the emulator would use (a queued phase, and jobs beyond ``max_running`` queued
for a slot by the same ``Slots``), progress as ``Job.status_at`` serves it. The other
curves keep those plans and swap the progress curve (linear, slow start, fast start, a
long plateau, coarse 10-point steps), because the client may not know the curve.

The SDK's GETs per job are what ``videos.poll`` makes at its 1 s interval: one at
submission, then one a second until the job is seen completed (``ceil(T) + 1`` for a
job that completes ``T`` seconds after its submission).

Usage::

    python bench/poll_simulation.py                          # the table, every length and curve
    python bench/poll_simulation.py --baseline REV           # and the schedule at a git revision
    python bench/poll_simulation.py --write BENCHMARKS.md    # between the poll-simulation markers
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect_sora._transport.polling import PollSchedule, expected_duration
from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._directives import Directives
from prefect_sora.emulator._jobs import Job, Slots, plan_job

ROOT = Path(__file__).resolve().parents[1]
LENGTHS: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
SEEDS: tuple[int, ...] = tuple(range(1, 11))
JOBS_PER_SEED = 20
MAX_RUNNING = 10  # half of each batch waits queued for a slot
QUEUE_SECONDS = (0.5, 4.0)
CLIP = ("8", "1280x720")  # the prior: expected_duration("8", "1280x720") == 20 s, whatever the length

# A curve maps the share of the run done (0..1) to the progress the service shows.
Curve = Callable[[float], int]


def _shown(value: float) -> int:
    return min(99, max(0, int(value)))


def _plateau(x: float) -> int:
    if x < 0.2:
        return _shown(250 * x)
    if x < 0.8:
        return 50
    return _shown(50 + 245 * (x - 0.8))


CURVES: dict[str, Curve | None] = {
    "emulator": None,  # the emulator's own race-creep-run, per job plateau (Job.status_at)
    "linear": lambda x: _shown(100 * x),
    "slow-start": lambda x: _shown(100 * x * x),
    "fast-start": lambda x: _shown(100 * math.sqrt(x)),
    "plateau": _plateau,
    "coarse": lambda x: _shown(100 * x) // 10 * 10,
}


@dataclass(frozen=True)
class SimJob:
    """One job as a client sees it: submitted at 0, a status and progress at any time."""

    job: Job
    curve: Curve | None

    @property
    def ends(self) -> float:
        assert self.job.plan.ends_at is not None
        return self.job.plan.ends_at

    def status_at(self, at: float) -> tuple[str, int]:
        status, progress = self.job.status_at(at)
        if self.curve is None or status != "in_progress":
            return status, progress
        plan = self.job.plan
        return status, self.curve((at - plan.started_at) / (self.ends - plan.started_at))


def batch(length: float, seed: int, curve: Curve | None, *, jobs: int = JOBS_PER_SEED) -> list[SimJob]:
    """A batch as the emulator plans it: ``jobs`` created at once, lengths within 10 % of ``length``."""
    config = EmulatorConfig(
        seed=seed,
        job_seconds_range=(0.9 * length, 1.1 * length),
        queue_seconds_range=QUEUE_SECONDS,
        max_running=MAX_RUNNING,
    )
    return planned(config, jobs, curve)


def planned(config: EmulatorConfig, jobs: int, curve: Curve | None = None) -> list[SimJob]:
    """The jobs an emulator with ``config`` plans for ``jobs`` creates at t=0, in order."""
    slots, found = Slots(), []
    for seq in range(jobs):
        plan = plan_job(config, seq=seq, now=0.0, directives=Directives())
        slots.admit(plan, config.max_running)
        job = Job(
            id=f"video_{seq}",
            model="sora-2",
            size=CLIP[1],
            seconds=CLIP[0],
            quality="standard",
            prompt="",
            remixed_from_video_id=None,
            plan=plan,
        )
        found.append(SimJob(job, curve))
    return found


@dataclass(frozen=True)
class Wait:
    """What one wait cost and how late it saw the end."""

    gets: int
    delay: float
    sdk_gets: int


def wait(
    job: SimJob,
    *,
    schedule_type: type[Any] = PollSchedule,
    prior: float | None = None,
    lateness: Callable[[], float] | None = None,
    hint: float | None = None,
) -> Wait:
    """Replay ``wait_for_video`` on ``job`` from its submission at t=0.

    ``lateness`` adds seconds to every sleep (a poll held back by a rate limit or a busy
    loop); the schedule is given the time the poll really happened, as the loop does.
    """
    schedule = schedule_type(started=0.0, expected_seconds=prior if prior is not None else expected_duration(*CLIP))
    now, gets = 0.0, 0
    status, progress = "queued", 0  # the create's answer
    while True:
        schedule.observe(now, status, float(progress))
        if status == "completed":
            return Wait(gets, now - job.ends, math.ceil(job.ends) + 1)
        now += schedule.next_delay(now, hint) + (lateness() if lateness else 0.0)
        status, progress = job.status_at(now)
        gets += 1
        if gets > 100_000:
            raise RuntimeError("the schedule never saw the job complete")


@dataclass(frozen=True)
class Figures:
    jobs: int
    gets_per_job: float
    sdk_gets_per_job: float
    ratio: float
    delay_median: float
    delay_p95: float
    delay_max: float


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank, as the live benchmark computes it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def summarise(waits: Sequence[Wait]) -> Figures:
    gets = sum(w.gets for w in waits)
    sdk = sum(w.sdk_gets for w in waits)
    delays = [w.delay for w in waits]
    return Figures(
        jobs=len(waits),
        gets_per_job=gets / len(waits),
        sdk_gets_per_job=sdk / len(waits),
        ratio=gets / sdk,
        delay_median=statistics.median(delays),
        delay_p95=percentile(delays, 0.95),
        delay_max=max(delays),
    )


def simulate(
    length: float,
    curve: str,
    *,
    seeds: Sequence[int] = SEEDS,
    schedule_type: type[Any] = PollSchedule,
    late_mean: float = 0.0,
) -> Figures:
    """Every job of every seed's batch at this length on this curve."""
    rng = random.Random(f"late/{length}/{curve}")
    lateness = (lambda: rng.expovariate(1 / late_mean)) if late_mean else None
    waits = [
        wait(job, schedule_type=schedule_type, lateness=lateness)
        for seed in seeds
        for job in batch(length, seed, CURVES[curve])
    ]
    return summarise(waits)


def replay(config: dict[str, Any], seeds: Sequence[int], jobs: int, seconds: str, size: str) -> Figures:
    """The live benchmark's scenario (``bench/polling.py``), simulated: same config, seeds and jobs."""
    prior = expected_duration(seconds, size)
    waits = [wait(job, prior=prior) for seed in seeds for job in planned(EmulatorConfig(seed=seed, **config), jobs)]
    return summarise(waits)


def load_schedule(revision: str) -> type[Any]:
    """``PollSchedule`` as it was at a git revision (for before/after figures)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:src/prefect_sora/_transport/polling.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = f"polling_at_{revision.replace('^', '_').replace('~', '_')}"
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:polling.py", "exec"), module.__dict__)
    schedule: type[Any] = module.PollSchedule
    return schedule


# -- the report --------------------------------------------------------------------------


def _length(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def table(schedules: dict[str, type[Any]], curves: Sequence[str], lengths: Sequence[float]) -> str:
    lines = [
        "| length | curve | schedule | GETs per job | SDK GETs per job | ours / SDK | median delay | p95 delay "
        "| max delay |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for length in lengths:
        for curve in curves:
            for label, schedule_type in schedules.items():
                f = simulate(length, curve, schedule_type=schedule_type)
                lines.append(
                    f"| {_length(length)} | {curve} | {label} | {f.gets_per_job:.1f} | {f.sdk_gets_per_job:.1f} | "
                    f"{f.ratio:.3f} | {f.delay_median:.2f} s | {f.delay_p95:.2f} s | {f.delay_max:.2f} s |"
                )
    return "\n".join(lines)


def agreement(results: Path) -> str:
    """The live benchmark's scenarios beside their simulation, from its last result, if there is one."""
    if not results.exists():
        return ""
    import json

    result = json.loads(results.read_text())
    lines = [
        "",
        f"\nThe live benchmark's scenarios (`{result['command']}`, {result['machine']['date']}) replayed here on the "
        "same plans (same config, seeds and creates), ours only:\n",
        "| scenario | | GETs per job | median delay | p95 delay | max delay |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["figures"]["scenarios"]:
        live, sim = row["ours"], row.get("simulated")
        if sim is None:
            continue
        lines.append(
            f"| {row['scenario']} | live | {live['gets_per_job']:.2f} | {live['delay_median_s']:.2f} s | "
            f"{live['delay_p95_s']:.2f} s | {live['delay_max_s']:.2f} s |"
        )
        lines.append(
            f"| {row['scenario']} | simulated | {sim['gets_per_job']:.2f} | {sim['delay_median']:.2f} s | "
            f"{sim['delay_p95']:.2f} s | {sim['delay_max']:.2f} s |"
        )
    return "\n".join(lines)


def write_into(markdown: Path, text: str) -> None:
    """Replace what sits between the poll-simulation markers in ``markdown``."""
    start, end = "<!-- poll-simulation -->", "<!-- /poll-simulation -->"
    content = markdown.read_text()
    if start not in content:
        raise SystemExit(f"{markdown} has no {start} marker")
    head, rest = content.split(start, 1)
    tail = rest.split(end, 1)[1] if end in rest else rest
    markdown.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", metavar="REV", help="also simulate the schedule at this git revision")
    parser.add_argument("--curves", default=",".join(CURVES), help="comma-separated: " + ", ".join(CURVES))
    parser.add_argument("--lengths", default=",".join(f"{x:g}" for x in LENGTHS), help="job lengths in seconds")
    parser.add_argument("--write", type=Path, help="put the table into this markdown file between the markers")
    options = parser.parse_args()
    schedules: dict[str, type[Any]] = {"ours": PollSchedule}
    if options.baseline:
        schedules[f"at {options.baseline}"] = load_schedule(options.baseline)
    curves = [name for name in options.curves.split(",") if name]
    lengths = [float(x) for x in options.lengths.split(",") if x]
    import datetime as dt

    command = "python " + " ".join(["bench/poll_simulation.py", *sys.argv[1:]])
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"Produced by `{command}` ({date}, {os.cpu_count()} cores; a simulation, so the figures do not depend "
        f"on the machine). {len(SEEDS)} seeds x {JOBS_PER_SEED} jobs per length and curve, created at once with "
        f"`max_running={MAX_RUNNING}`, queued {QUEUE_SECONDS[0]:g}-{QUEUE_SECONDS[1]:g} s, lengths within 10 % of "
        f"the one named, prior {expected_duration(*CLIP):g} s ({CLIP[0]} s clips at {CLIP[1]}).\n"
    )
    text = header + "\n" + table(schedules, curves, lengths) + agreement(ROOT / "bench" / "results" / "polling.json")
    print(text)
    if options.write:
        write_into(options.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
