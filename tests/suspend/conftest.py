"""Fixtures for waiting without a worker: the session's server, a process pool, a worker and a sora-watcher."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from servers import stop_workers
from suspend_helpers import BIN, REPOSITORY, Deployed, flow_run_pids, prefect, wait_for

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator

POOL = "sora-pool-suspend"
BLOCK = "sora-suspend"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    # Each test's prompts say how long their jobs take ([emulator:seconds=S]).
    with Emulator(job_seconds=1, poll_after_ms=200) as running:
        yield running


@pytest.fixture(scope="module")
def deployed(
    prefect_server_process: dict[str, str],
    prefect_server: None,
    emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    """text-to-video, nightly-batch and sora-watcher from prefect.yaml on this module's pool, a worker, the block.

    This process talks to the same server (reading, resuming runs, emitting an event).
    """
    env = prefect_server_process
    project = tmp_path_factory.mktemp("suspend-project")
    spec = (REPOSITORY / "prefect.yaml").read_text()
    (project / "prefect.yaml").write_text(spec.replace("name: sora-pool\n", f"name: {POOL}\n"))
    prefect("work-pool", "create", POOL, "--type", "process", "--overwrite", env=env, cwd=project)
    names = ("text-to-video", "nightly-batch", "sora-watcher")
    prefect("--no-prompt", "deploy", *(arg for name in names for arg in ("--name", name)), env=env, cwd=project)
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        SoraCredentials(api_key="sk-suspend", base_url=emulator.base_url).save(BLOCK, overwrite=True)
    folder = tmp_path_factory.mktemp("suspend-worker")
    log = (folder / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "suspend-worker"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deployed = Deployed(env=env, project=project, worker=worker, folder=folder)
    yield deployed
    stop_watchers(deployed)
    stop_workers(worker)


@pytest.fixture
def watcher(deployed: Deployed) -> Iterator[str]:
    """A sora-watcher run, running (its process up); killed at the end of the test."""
    run_id = start_watcher(deployed)
    yield run_id
    stop_watchers(deployed)


@pytest.fixture(autouse=True)
def no_watcher_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever watcher a test started is gone after it: the next test's runs are watched only as it says."""
    yield
    if "deployed" in request.fixturenames:
        stop_watchers(request.getfixturevalue("deployed"))


def stop_watchers(deployed: Deployed) -> None:
    """SIGKILL every watcher run started so far (a watcher has no state of its own to lose)."""
    for run_id in deployed.watchers:
        for pid in flow_run_pids(run_id):
            os.kill(pid, signal.SIGKILL)
    deployed.watchers.clear()


def start_watcher(deployed: Deployed) -> str:
    params = {"credentials": BLOCK, "interval_seconds": 1, "reemit_seconds": 20}
    run_id = deployment_run(deployed, "sora-watcher/sora-watcher", params)
    deployed.watchers.append(run_id)
    wait_for(lambda: flow_run_pids(run_id), 90, f"the watcher run {run_id} never started a process")
    return run_id


def deployment_run(deployed: Deployed, name: str, params: dict[str, object]) -> str:
    """``prefect deployment run`` with ``params``; the new run's id."""
    created = prefect("deployment", "run", name, "--params", json.dumps(params), env=deployed.env, cwd=deployed.project)
    match = re.search(r"UUID: ([0-9a-f-]{36})", created)
    assert match is not None, created
    return match[1]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "videos"
