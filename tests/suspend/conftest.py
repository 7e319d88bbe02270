"""Fixtures for waiting without a worker: the session's server, a process pool, a worker and a sora-watcher."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from servers import Names, create_process_pool, deploy, stop_workers
from suspend_helpers import BIN, Deployed, start_watcher, stop_watchers

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    # The tests hold their jobs ([emulator:hold]) and end them when they choose.
    with Emulator(job_seconds=1, poll_after_ms=200) as running:
        yield running


@pytest.fixture(scope="module")
def deployed(
    prefect_server_process: dict[str, str],
    prefect_server: None,
    emulator: Emulator,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    """text-to-video, nightly-batch and sora-watcher from prefect.yaml on this module's pool, a worker, the block.

    Named for the module (tests/servers.py:Names): the suspend modules run side by side
    on one server. This process talks to the same server (reading, resuming runs,
    emitting an event).
    """
    env = prefect_server_process
    names = Names.of(request.module)
    project = tmp_path_factory.mktemp("suspend-project")
    (project / "prefect.yaml").write_text(names.prefect_yaml())
    create_process_pool(env["PREFECT_API_URL"], names.pool)
    wanted = ("text-to-video", "nightly-batch", "sora-watcher")
    deploy(env["PREFECT_API_URL"], project, *(arg for name in wanted for arg in ("--name", names.deployment(name))))
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        SoraCredentials(api_key="sk-suspend", base_url=emulator.base_url).save(names.block, overwrite=True)
    folder = tmp_path_factory.mktemp("suspend-worker")
    log = (folder / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", names.pool, "--name", f"worker-{names.tag}"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deployed = Deployed(names=names, env=env, project=project, worker=worker, folder=folder)
    yield deployed
    stop_watchers(deployed)
    stop_workers(worker)


@pytest.fixture
def watcher(deployed: Deployed) -> Iterator[str]:
    """A sora-watcher run, running (its process up); killed at the end of the test."""
    run_id = start_watcher(deployed)
    yield run_id
    stop_watchers(deployed)


@pytest.fixture(scope="module")
def shared_watcher(deployed: Deployed) -> str:
    """One sora-watcher run for a module's tests that only need runs watched (one process start, not one a test)."""
    return start_watcher(deployed)


@pytest.fixture(autouse=True)
def no_watcher_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever watcher a test started is gone after it: the next test's runs are watched only as it says.

    A module's shared watcher (``shared_watcher``) stays for the module's next tests.
    """
    yield
    if "deployed" in request.fixturenames and "shared_watcher" not in request.fixturenames:
        stop_watchers(request.getfixturevalue("deployed"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "videos"
