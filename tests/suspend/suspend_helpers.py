"""What the suspend tests share: running ``prefect``, reading runs, and finding a run's process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from servers import prefect_api

REPOSITORY = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


@dataclass
class Deployed:
    """The deployments on this module's pool, its worker, and the watcher runs started."""

    env: dict[str, str]
    project: Path
    worker: subprocess.Popen[Any]
    folder: Path
    watchers: list[str] = field(default_factory=list)

    def run(self, run_id: str) -> dict[str, Any]:
        url = f"{self.env['PREFECT_API_URL']}/flow_runs/{run_id}"
        answer: dict[str, Any] = prefect_api("GET", url).json()
        return answer

    def state(self, run_id: str) -> tuple[str, str]:
        state = self.run(run_id)["state"]
        return state["type"], state["name"]


def prefect(*args: str, env: dict[str, str], cwd: Path) -> str:
    """Run the ``prefect`` command; fail the test with its output if it fails."""
    done = subprocess.run([str(BIN / "prefect"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_for(check: Callable[[], T], seconds: float, message: str, every: float = 0.5) -> T:
    """``check()``'s first truthy value within ``seconds`` (generous: the machine is loaded)."""
    deadline = time.monotonic() + seconds
    while True:
        if value := check():
            return value
        assert time.monotonic() < deadline, message
        time.sleep(every)


def flow_run_pids(run_id: str) -> list[int]:
    """The live processes a worker started for the flow run (its environment names the run)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        named = f"PREFECT__FLOW_RUN_ID={run_id}".encode() in environ.split(b"\0")
        if named and "\nState:\tZ" not in status:  # a zombie holds nothing
            found.append(int(proc.name))
    return found
