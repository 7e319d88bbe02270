"""Capacity of the Sora 2 API emulator: can it hold 1,000 jobs and answer 500+ polls/s?

Not a test: a benchmark to run by hand or in a perf job. It starts the emulator in a
subprocess (``python -m prefect_sora.emulator``, or ``prefect-sora emulator`` with
``--cli``), creates ``--jobs`` jobs concurrently, then polls them round-robin from
``--clients`` concurrent httpx clients for ``--duration`` seconds, and prints one JSON
object: jobs created, create wall time, polls answered per second, p50/p95/p99 latency,
errors and the core count. The pollers can be spread over ``--processes`` OS processes so
that the client side is not the bottleneck on a small machine.

Usage::

    python bench/emulator_capacity.py --jobs 1000 --clients 16 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

AUTH = {"Authorization": "Bearer sk-bench"}


def start_emulator(*, job_seconds: float, use_cli: bool) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator on a free port; the process and its base URL."""
    options = ["--port", "0", "--job-seconds", str(job_seconds)]
    cli = shutil.which("prefect-sora") or os.path.join(os.path.dirname(sys.executable), "prefect-sora")
    command = [cli, "emulator", *options] if use_cli else [sys.executable, "-m", "prefect_sora.emulator", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    base_url = line.split()[line.split().index("serving") + 1]
    return process, base_url


async def create_jobs(base_url: str, count: int, concurrency: int) -> tuple[list[str], float, int]:
    """Create `count` jobs from `concurrency` clients at once; ids, wall seconds, errors.

    One client (one connection) per concurrent creator: a single httpx pool with a hundred
    connections costs more CPU than the emulator does, and would measure httpx instead.
    """
    ids: list[str] = []
    errors = 0
    pending = iter(range(count))

    async def creator() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=30) as client:
            for index in pending:
                body = {"model": "sora-2", "prompt": f"capacity job {index}", "seconds": "4"}
                try:
                    response = await client.post("/videos", json=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                if response.status_code == 200:
                    ids.append(response.json()["id"])
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(creator() for _ in range(concurrency)))
    return ids, time.perf_counter() - started, errors


async def _poll(base_url: str, ids: list[str], clients: int, offset: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(slot: int) -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, limits=limits, timeout=10) as client:
            index = slot
            while time.perf_counter() < deadline:
                video_id = ids[index % len(ids)]
                index += clients
                started = time.perf_counter()
                try:
                    response = await client.get(f"/videos/{video_id}")
                    ok = response.status_code == 200 and response.json()["id"] == video_id
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    await asyncio.gather(*(worker(offset + slot) for slot in range(clients)))
    return {"latencies": latencies, "errors": errors}


def _poll_process(args: tuple[str, list[str], int, int, float]) -> dict[str, Any]:
    return asyncio.run(_poll(*args))


def poll_jobs(
    base_url: str, ids: list[str], *, clients: int, processes: int, duration: float
) -> tuple[list[float], int, float]:
    """Poll `ids` round-robin; latencies, errors and the wall time of the phase."""
    per_process = max(1, clients // processes)
    jobs = [(base_url, ids, per_process, index * per_process, duration) for index in range(processes)]
    started = time.perf_counter()
    if processes == 1:
        results = [_poll_process(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = pool.map(_poll_process, jobs)
    wall = time.perf_counter() - started
    latencies = [value for result in results for value in result["latencies"]]
    return latencies, sum(result["errors"] for result in results), wall


def _cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, where /proc tells it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(
    *,
    jobs: int = 1000,
    clients: int = 16,
    processes: int = 1,
    duration: float = 10.0,
    create_concurrency: int = 50,
    job_seconds: float = 600.0,
    use_cli: bool = False,
) -> dict[str, Any]:
    """Run the benchmark once and return its figures."""
    process, base_url = start_emulator(job_seconds=job_seconds, use_cli=use_cli)
    try:
        ids, create_wall, create_errors = asyncio.run(create_jobs(base_url, jobs, create_concurrency))
        cpu_before = _cpu_seconds(process.pid)
        latencies, poll_errors, poll_wall = poll_jobs(
            base_url, ids, clients=clients, processes=processes, duration=duration
        )
        cpu_after = _cpu_seconds(process.pid)
        stats = httpx.get(base_url.removesuffix("/v1") + "/_emulator/stats").json()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return {
        "jobs_requested": jobs,
        "jobs_created": len(ids),
        "jobs_held_by_emulator": stats["jobs_total"],
        "jobs_by_status": stats["jobs_by_status"],
        "create_errors": create_errors,
        "create_wall_seconds": round(create_wall, 3),
        "creates_per_second": round(len(ids) / create_wall, 1) if create_wall else None,
        "poll_clients": clients,
        "poll_processes": processes,
        "poll_seconds": round(poll_wall, 3),
        "polls_answered": len(latencies),
        "polls_per_second": round(len(latencies) / poll_wall, 1) if poll_wall else None,
        "poll_errors": poll_errors,
        "latency_ms_p50": round(_percentile(latencies, 0.50) * 1000, 2),
        "latency_ms_p95": round(_percentile(latencies, 0.95) * 1000, 2),
        "latency_ms_p99": round(_percentile(latencies, 0.99) * 1000, 2),
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "server_polls_counted": stats["polls_total"],
        "server_cpu_share_while_polling": (
            round((cpu_after - cpu_before) / poll_wall, 2)
            if cpu_before is not None and cpu_after is not None and poll_wall
            else None
        ),
        "cores": os.cpu_count(),
        "emulator_command": "prefect-sora emulator" if use_cli else "python -m prefect_sora.emulator",
    }


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, write the figures as JSON to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs to create")
    parser.add_argument("--clients", type=int, default=16, help="concurrent polling clients")
    parser.add_argument("--processes", type=int, default=1, help="OS processes the pollers are spread over")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of polling")
    parser.add_argument("--create-concurrency", type=int, default=50, help="creates in flight")
    parser.add_argument("--job-seconds", type=float, default=600.0, help="job duration (long: all jobs stay in flight)")
    parser.add_argument("--cli", action="store_true", help="start it with `prefect-sora emulator`")
    parser.add_argument("--output", help="also write the JSON to this file (e.g. bench/results/capacity.json)")
    options = parser.parse_args(argv)
    figures = run(
        jobs=options.jobs,
        clients=options.clients,
        processes=options.processes,
        duration=options.duration,
        create_concurrency=options.create_concurrency,
        job_seconds=options.job_seconds,
        use_cli=options.cli,
    )
    text = json.dumps(figures, indent=2) + "\n"
    sys.stdout.write(text)
    if options.output:
        with open(options.output, "w") as output:
            output.write(text)
    return 0 if figures["jobs_created"] == options.jobs and not figures["poll_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
