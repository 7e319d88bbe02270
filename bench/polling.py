"""Polling: GETs per job and detection delay of our wait against the official SDK's ``poll``.

Each waiter gets its own emulator process with the same config and seed, so both see the
same jobs (the same plans: durations, queueing, progress curves), and both run at the
same time, so they share whatever load the machine has. Waiting on the same jobs in one
emulator would be fairer still on timing, but the emulator counts polls per job, not
per client, and the two waiters' GETs could not be told apart.

Ours is :func:`prefect_sora._transport.waiting.wait_for_video` on a :class:`SoraClient` (the loop
the ``await_video`` task and the batch flow both run; the task's Prefect bookkeeping is
not what is measured). The SDK's is ``AsyncOpenAI().videos.poll(id)`` at its default
interval: the emulator sends no ``openai-poll-after-ms``, so it polls once a second.

GETs per job come from the emulator's counters; the detection delay of a job is when its
waiter returned (wall clock, same host) minus when it completed on the emulator (the
plan's precise float time).

Each scenario is also replayed by ``bench/poll_simulation.py`` on a virtual clock (same
config, seeds and creates, so the same plans) and kept beside the live figures as
``simulated``: the check that the simulation, which covers jobs of up to 10 minutes,
agrees with the real loop where both can run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import types
from typing import Any

import _common

# 20 jobs of 8-30 s with a queued phase and half of them waiting for one of 10 slots.
CONFIG: dict[str, Any] = {
    "job_seconds_range": [8.0, 30.0],
    "queue_seconds_range": [0.5, 4.0],
    "max_running": 10,
}
QUICK_CONFIG: dict[str, Any] = {"job_seconds_range": [2.0, 5.0], "queue_seconds_range": [0.2, 1.0], "max_running": 2}


# -- the waiters, each in its own process ------------------------------------------------


async def _ours(base_url: str, jobs: int, seconds: str, size: str, schedule_from: str | None) -> dict[str, Any]:
    from prefect_sora._models import VideoRequest
    from prefect_sora._transport.client import SoraClient
    from prefect_sora._transport.waiting import wait_for_video

    if schedule_from:
        _use_old_schedule(schedule_from)
    async with SoraClient(api_key="sk-bench", base_url=base_url) as client:
        videos = [
            await client.create_video(VideoRequest(prompt=f"polling job {i}", seconds=seconds, size=size))
            for i in range(jobs)
        ]

        async def wait(video: Any) -> tuple[str, float]:
            await wait_for_video(client, video, timeout=600)
            return video.id, time.time()

        returned = await asyncio.gather(*(wait(video) for video in videos))
    return {"returned": dict(returned)}


async def _sdk(base_url: str, jobs: int, seconds: str, size: str) -> dict[str, Any]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="sk-bench", base_url=base_url)
    videos = [
        await client.videos.create(model="sora-2", prompt=f"polling job {i}", seconds=seconds, size=size)  # type: ignore[arg-type]
        for i in range(jobs)
    ]

    async def wait(video_id: str) -> tuple[str, float]:
        await client.videos.poll(video_id)
        return video_id, time.time()

    returned = await asyncio.gather(*(wait(video.id) for video in videos))
    await client.close()
    return {"returned": dict(returned)}


def _use_old_schedule(revision: str) -> None:
    """Swap in the poll schedule as it was at a git revision (for before/after figures)."""
    import prefect_sora._transport.waiting

    source = subprocess.run(
        ["git", "show", f"{revision}:src/prefect_sora/_transport/polling.py"],
        cwd=_common.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("old_polling")
    sys.modules["old_polling"] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:polling.py", "exec"), module.__dict__)
    prefect_sora._transport.waiting.PollSchedule = module.PollSchedule  # type: ignore[attr-defined]


# -- the comparison ----------------------------------------------------------------------


def _side_figures(root: str, returned: dict[str, float]) -> dict[str, Any]:
    stats = _common.admin(root, "stats")
    polls, delays = [], []
    for video_id, at in returned.items():
        plan = _common.admin(root, f"videos/{video_id}")
        polls.append(stats["polls"].get(video_id, 0))
        delays.append(at - plan["completed_at"])
    return {
        "jobs": len(returned),
        "gets_per_job": round(sum(polls) / len(polls), 2),
        "gets_total": sum(polls),
        "gets_max": max(polls),
        "delay_median_s": round(_common.median(delays), 3),
        "delay_p95_s": round(_common.percentile(delays, 0.95), 3),
        "delay_max_s": round(max(delays), 3),
        "delay_min_s": round(min(delays), 3),
        "_polls": polls,
        "_delays": delays,
    }


def run_once(
    *, seed: int, jobs: int, config: dict[str, Any], seconds: str, size: str, sides: list[str], before: str | None
) -> dict[str, Any]:
    """One side-by-side run: every side on its own emulator (same config and seed), all at once."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        # No openai-poll-after-ms (the emulator's default derives one): as most gateways, and the SDK's 1 s loop.
        config = {"poll_after_ms": 0, **config}
        roots = {side: stack.enter_context(_common.emulator(seed=seed, **config)).url for side in sides}
        children = {}
        for side in sides:
            args = [__file__, "--side", side, "--base-url", f"{roots[side]}/v1", "--jobs", str(jobs)]
            args += ["--seconds", seconds, "--size", size]
            if side == "before" and before:
                args += ["--schedule-from", before]
            children[side] = subprocess.Popen(
                [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=_common.ROOT
            )
        figures: dict[str, Any] = {}
        for side, child in children.items():
            out, err = child.communicate(timeout=900)
            if child.returncode != 0:
                raise RuntimeError(f"polling side {side} failed:\n{err[-3000:]}")
            returned = json.loads(out.strip().splitlines()[-1])["returned"]
            figures[side] = _side_figures(roots[side], returned)
    return figures


def run(*, quick: bool = False, before: str | None = None) -> dict[str, Any]:
    """The polling benchmark: the main config over several seeds, then two variations."""
    sides = ["ours", "sdk"] + (["before"] if before else [])
    scenarios: list[tuple[str, dict[str, Any], str, list[int], int]] = (
        [("quick: 4 jobs of 2-5 s, 2 slots", QUICK_CONFIG, "4", [1], 4)]
        if quick
        else [
            ("20 jobs of 8-30 s, queued 0.5-4 s, 10 slots; 8 s clips", CONFIG, "8", [1, 2, 3], 20),
            (
                "no slot limit (queued 0.5-4 s only); 8 s clips",
                {k: v for k, v in CONFIG.items() if k != "max_running"},
                "8",
                [1],
                20,
            ),
            ("10 slots; 4 s clips (prior 10 s, below every job)", CONFIG, "4", [1], 20),
        ]
    )
    rows = []
    for label, config, seconds, seeds, jobs in scenarios:
        per_seed = []
        for seed in seeds:
            started = _common.load()
            figures = run_once(
                seed=seed, jobs=jobs, config=config, seconds=seconds, size="1280x720", sides=sides, before=before
            )
            per_seed.append({"seed": seed, "load_before": started, "load_after": _common.load(), **figures})
        simulated = _simulated(config, seeds, jobs, seconds, "1280x720")
        rows.append(
            {
                "scenario": label,
                "config": config,
                "seconds": seconds,
                "seeds": seeds,
                "runs": per_seed,
                **_pool(per_seed, sides),
                "simulated": simulated,
            }
        )
    return {"scenarios": rows}


def _simulated(config: dict[str, Any], seeds: list[int], jobs: int, seconds: str, size: str) -> dict[str, Any]:
    """The same scenario replayed on a virtual clock (``bench/poll_simulation.py``), to check the two agree."""
    import dataclasses

    import poll_simulation

    figures = poll_simulation.replay(config, seeds, jobs, seconds, size)
    return {key: round(value, 3) for key, value in dataclasses.asdict(figures).items()}


def _pool(runs: list[dict[str, Any]], sides: list[str]) -> dict[str, Any]:
    """Every job of every seed together, per side, and our GETs as a share of the SDK's."""
    pooled: dict[str, Any] = {}
    for side in sides:
        polls = [p for run in runs for p in run[side]["_polls"]]
        delays = [d for run in runs for d in run[side]["_delays"]]
        pooled[side] = {
            "jobs": len(polls),
            "gets_per_job": round(sum(polls) / len(polls), 2),
            "delay_median_s": round(_common.median(delays), 3),
            "delay_p95_s": round(_common.percentile(delays, 0.95), 3),
            "delay_max_s": round(max(delays), 3),
        }
    pooled["gets_ratio"] = round(pooled["ours"]["gets_per_job"] / pooled["sdk"]["gets_per_job"], 3)
    if "before" in sides:
        pooled["gets_ratio_before"] = round(pooled["before"]["gets_per_job"] / pooled["sdk"]["gets_per_job"], 3)
    for run in runs:
        for side in sides:
            run[side].pop("_polls"), run[side].pop("_delays")
    return pooled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--side", choices=["ours", "sdk", "before"])
    parser.add_argument("--base-url")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seconds", default="8")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--schedule-from", help="git revision whose poll schedule the 'before' side uses")
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.side == "sdk":
        result = asyncio.run(_sdk(options.base_url, options.jobs, options.seconds, options.size))
    elif options.side:
        result = asyncio.run(
            _ours(options.base_url, options.jobs, options.seconds, options.size, options.schedule_from)
        )
    else:
        result = run(quick=options.quick, before=options.schedule_from)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
