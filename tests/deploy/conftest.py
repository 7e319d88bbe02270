"""Fixtures for the deployments: a ``prefect server start`` of their own, and the repository's project deployed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from deploy_helpers import BIN, REPOSITORY, Project, Server, free_port, prefect


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """The session's in-process Prefect server stays the default; these tests talk to their own."""


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``prefect server start`` on a free port, with its own PREFECT_HOME, healthy before the tests start."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "SORA_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
        # The worker looks for runs every second instead of every ten.
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    with (home / "server.log").open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (home / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "prefect server did not become healthy in 60 s"
            time.sleep(0.2)
        yield Server(api_url=api_url, home=home, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def project(prefect_api: Server, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The README's steps: create the ``sora-pool`` process pool, then ``prefect --no-prompt deploy --all``."""
    path = tmp_path_factory.mktemp("project")
    shutil.copy(REPOSITORY / "prefect.yaml", path / "prefect.yaml")
    prefect("work-pool", "create", "sora-pool", "--type", "process", server=prefect_api, cwd=path)
    prefect("--no-prompt", "deploy", "--all", server=prefect_api, cwd=path, timeout=120)
    return Project(server=prefect_api, path=path)
