"""Waiting without a worker: deployment runs with wait="suspend" against wait="poll", on a process pool.

``python bench/suspend.py [--runs 20] [--job-seconds 300]`` starts the emulator and a
``prefect server start`` in their own processes, deploys text-to-video and sora-watcher
from prefect.yaml to a process work pool, starts one worker, and for each mode starts
``--runs`` single-video runs (each job takes ``--job-seconds``), sampling every second
every process a worker started for a flow run (found by the ``PREFECT__FLOW_RUN_ID`` in
its environment): process-seconds held (flow-run processes plus, for suspend, the
watcher's), their peak summed RSS, requests the gateway answered and the wall time
until every run is Completed. Figures go to bench/results/suspend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common
import httpx

PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "sora-pool-bench"
PAGE = os.sysconf("SC_PAGE_SIZE")


def prefect(*args: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)}: {done.stdout}\n{done.stderr}")
    return done.stdout


def flow_run_processes() -> dict[int, tuple[str, int]]:
    """pid -> (flow run id, RSS bytes) of every live process started for a flow run."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            rss = int((proc / "statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        for item in environ:
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                if rss:  # a zombie has no resident set
                    found[int(proc.name)] = (item.split(b"=", 1)[1].decode(), rss)
                break
    return found


def state(env: dict[str, str], run_id: str) -> str:
    answer = httpx.get(f"{env['PREFECT_API_URL']}/flow_runs/{run_id}", timeout=30)
    if answer.status_code == 503:  # a loaded server: ask again next round
        return "UNKNOWN"
    return str(answer.raise_for_status().json()["state"]["type"])


def start_run(env: dict[str, str], name: str, params: dict[str, Any]) -> str:
    """A run of deployment ``flow/deployment`` with ``params``, made through the API (the CLI takes seconds each)."""
    api = env["PREFECT_API_URL"]
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=30).raise_for_status().json()
    for attempt in range(10):  # a loaded SQLite server answers 503 now and then
        run = httpx.post(
            f"{api}/deployments/{deployment['id']}/create_flow_run", json={"parameters": params}, timeout=30
        )
        if run.status_code != 503 or attempt == 9:
            return str(run.raise_for_status().json()["id"])
        time.sleep(2)
    raise AssertionError("unreachable")


class Sampler(threading.Thread):
    """Every second: the processes held for the watched runs (process-seconds) and their summed RSS (peak)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.watched: set[str] = set()
        self.process_seconds = 0.0
        self.peak_rss = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.stopping.wait(1.0):
            held = [rss for run_id, rss in flow_run_processes().values() if run_id in self.watched]
            now = time.monotonic()
            self.process_seconds += len(held) * (now - last)
            self.peak_rss = max(self.peak_rss, sum(held))
            last = now


def measure(mode: str, *, runs: int, env: dict[str, str], worker_dir: Path, gateway: str) -> dict[str, Any]:
    """Start the runs of one mode and sample their processes, from before the first, until every run has ended."""
    _common.reset(gateway)
    sampler = Sampler()
    sampler.start()
    started = time.monotonic()
    watcher = None
    if mode == "suspend":
        watcher = start_run(env, "sora-watcher/sora-watcher", {"credentials": "sora", "interval_seconds": 10})
        sampler.watched.add(watcher)
    ids = []
    for n in range(runs):
        params = {"prompt": f"Bench {n}", "seconds": "4", "size": "720x1280", "out": f"{worker_dir}/{mode}/"}
        ids.append(start_run(env, "sora-text-to-video/text-to-video", {**params, "wait": mode}))
        sampler.watched.add(ids[-1])
    states: dict[str, str] = {}
    while True:
        time.sleep(2)
        states = {run_id: state(env, run_id) for run_id in ids}
        if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            break
        if time.monotonic() - started > 3 * 3600:
            raise RuntimeError(f"{mode}: runs did not end: {states}")
    wall = time.monotonic() - started
    if watcher is not None:
        for pid, (run_id, _) in flow_run_processes().items():
            if run_id == watcher:
                os.kill(pid, signal.SIGKILL)
    # Until the last flow-run process has exited (a run is Completed a moment before its process ends).
    deadline = time.monotonic() + 60
    while any(run_id in sampler.watched for run_id, _ in flow_run_processes().values()) and time.monotonic() < deadline:
        time.sleep(1)
    sampler.stopping.set()
    sampler.join()
    stats = _common.admin(gateway, "stats")
    return {
        "mode": mode,
        "runs": runs,
        "completed": sum(s == "COMPLETED" for s in states.values()),
        "process_seconds": round(sampler.process_seconds, 1),
        "peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
        "requests": stats["requests_total"],
        "creates": stats["creates"],
        "polls": stats["polls_total"],
        "wall_seconds": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--job-seconds", type=float, default=300.0)
    parser.add_argument("--modes", default="suspend,poll")
    args = parser.parse_args()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from prefect_sora.blocks import SoraCredentials

    config = {"job_seconds": args.job_seconds, "max_running_jobs": 1000, "rpm": 100000}
    with _common.emulator(**config) as gateway, _common.prefect_server() as server_env:
        env = {**os.environ, **server_env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        project = Path(tempfile.mkdtemp(prefix="bench-suspend-"))
        spec = (_common.ROOT / "prefect.yaml").read_text().replace("name: sora-pool\n", f"name: {POOL}\n")
        (project / "prefect.yaml").write_text(spec)
        prefect("work-pool", "create", POOL, "--type", "process", env=env, cwd=project)
        prefect("--no-prompt", "deploy", "--name", "text-to-video", "--name", "sora-watcher", env=env, cwd=project)
        with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
            SoraCredentials(api_key="sk-bench", base_url=f"{gateway.url}/v1").save("sora", overwrite=True)
        worker_dir = project / "worker"
        worker_dir.mkdir()
        log = (worker_dir / "worker.log").open("w")
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", POOL], cwd=worker_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            results = [
                measure(mode, runs=args.runs, env=env, worker_dir=worker_dir, gateway=gateway.url)
                for mode in args.modes.split(",")
            ]
        finally:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    report = {"machine": _common.machine(), "job_seconds": args.job_seconds, "results": results}
    by_mode = {r["mode"]: r for r in results}
    if {"poll", "suspend"} <= set(by_mode):
        report["process_seconds_ratio"] = round(
            by_mode["poll"]["process_seconds"] / max(by_mode["suspend"]["process_seconds"], 1e-9), 1
        )
    _common.save(f"suspend-{int(args.job_seconds)}s", report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
