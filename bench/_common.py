"""What the benchmarks share: processes to start (emulator, Prefect server), the machine, results.

Every benchmark runs the emulator in its own process, so that the code measured does not
share a GIL with the server it talks to; `start_emulator` takes any `EmulatorConfig`
fields (the tuple ones included, which `python -m prefect_sora.emulator` cannot take).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
AUTH = {"Authorization": "Bearer sk-bench"}


def machine() -> dict[str, Any]:
    """Cores, load and versions: what a figure needs beside it to be read."""
    import prefect

    return {
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "prefect": prefect.__version__,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """This process's resident set now, in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A server running in a child process."""

    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def emulator(**config: Any) -> Iterator[Service]:
    """The emulator in its own process with these `EmulatorConfig` fields; yields its root URL."""
    command = [sys.executable, str(BENCH / "_emulator_server.py"), json.dumps(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("http://"):
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    service = Service(process, line.strip())
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def prefect_server() -> Iterator[dict[str, str]]:
    """One `prefect server start` in its own process and PREFECT_HOME; yields the env to reach it."""
    home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_UI_ENABLED": "false",
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start; see {home / 'server.log'}")
            time.sleep(0.5)
        yield {key: value for key, value in env.items() if key.startswith(("PREFECT_", "DO_NOT_TRACK"))}
    finally:
        Service(process, "").stop()
        log.close()


def run_child(args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run `python bench/<args>` in a fresh process; its last stdout line is the JSON it reports."""
    completed = subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def admin(base: str, path: str) -> Any:
    """GET an emulator admin route (``/_emulator/...``)."""
    return httpx.get(f"{base}/_emulator/{path}", timeout=30).json()


def reset(base: str) -> None:
    httpx.post(f"{base}/_emulator/reset", timeout=30).raise_for_status()


def save(name: str, result: dict[str, Any]) -> Path:
    """Keep one benchmark's figures in bench/results/NAME.json for BENCHMARKS.md."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path
