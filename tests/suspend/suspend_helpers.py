"""What the suspend tests share: starting and reading runs, finding a run's process, ending held jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from servers import Names, final_flow_run, prefect_api, run_deployment_now, wait_for

from prefect_sora.emulator import Emulator

BIN = Path(sys.executable).parent
SUSPENDED = ("PAUSED", "Suspended")


@dataclass
class Deployed:
    """The deployments on this module's pool, its worker, and the watcher runs started."""

    #: The module's pool, deployments and saved SoraCredentials block (its runs name it).
    names: Names
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


def deployment_run(deployed: Deployed, name: str, params: dict[str, object]) -> str:
    """A run of the module's deployment ``name`` (as prefect.yaml names it) with ``params``; its id.

    What ``prefect deployment run`` does.
    """
    return run_deployment_now(deployed.env["PREFECT_API_URL"], deployed.names.deployment(name), params)


def run_video(deployed: Deployed, out: Path, prompt: str) -> str:
    """A text-to-video run that waits suspended (``wait="suspend"``); its id."""
    params = {
        "prompt": prompt,
        "seconds": "4",
        "size": "720x1280",
        "out": f"{out}/",
        "credentials": deployed.names.block,
        "wait": "suspend",
        "max_cost_usd": 1.0,
    }
    return deployment_run(deployed, "sora-text-to-video/text-to-video", params)


def suspended_without_process(deployed: Deployed, run_id: str, seconds: float = 120) -> None:
    wait_for(lambda: deployed.state(run_id) == SUSPENDED, seconds, f"run {run_id} never suspended")
    wait_for(lambda: not flow_run_pids(run_id), 30, f"run {run_id} is suspended but its process lives on")


def ends(deployed: Deployed, run_id: str, seconds: float = 180) -> dict[str, Any]:
    return final_flow_run(deployed.env["PREFECT_API_URL"], run_id, seconds)


def finish_held(emulator: Emulator, marker: str, count: int) -> list[str]:
    """End now the ``count`` held jobs (``[emulator:hold]``) whose prompts contain ``marker``; their ids.

    The tests hold their jobs until the runs are where the test wants them (suspended,
    their watcher killed, ...), instead of guessing a job length a loaded machine needs.
    """
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer sk-suspend"}, timeout=30) as api:
        videos = api.get("/videos", params={"limit": 100}).json()["data"]
    held = [v["id"] for v in videos if marker in v["prompt"] and v["status"] in ("queued", "in_progress")]
    assert len(held) == count, (marker, [(v["prompt"], v["status"]) for v in videos])
    for video_id in held:
        emulator.finish(video_id)
    return held


def stop_watchers(deployed: Deployed) -> None:
    """SIGKILL every watcher run started so far (a watcher has no state of its own to lose)."""
    for run_id in deployed.watchers:
        for pid in flow_run_pids(run_id):
            os.kill(pid, signal.SIGKILL)
    deployed.watchers.clear()


def start_watcher(deployed: Deployed) -> str:
    params = {"credentials": deployed.names.block, "interval_seconds": 1, "reemit_seconds": 20}
    run_id = deployment_run(deployed, "sora-watcher/sora-watcher", params)
    deployed.watchers.append(run_id)
    wait_for(lambda: flow_run_pids(run_id), 90, f"the watcher run {run_id} never started a process")
    return run_id
