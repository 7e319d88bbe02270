"""Fixtures for the deployments: a ``prefect server start`` of their own, and the repository's project deployed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from deploy_helpers import REPOSITORY, Project, Server, prefect
from servers import prefect_server


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """The session's in-process Prefect server stays the default; these tests talk to their own."""


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``prefect server start`` on a free port, with its own PREFECT_HOME, healthy before the tests start."""
    home = tmp_path_factory.mktemp("prefect-home")
    # The worker looks for runs every second instead of every ten.
    with prefect_server(home, PREFECT_WORKER_QUERY_SECONDS="1") as env:
        yield Server(api_url=env["PREFECT_API_URL"], home=home, env=env)


@pytest.fixture(scope="module")
def project(prefect_api: Server, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The README's steps: create the ``sora-pool`` process pool, then ``prefect --no-prompt deploy --all``."""
    path = tmp_path_factory.mktemp("project")
    shutil.copy(REPOSITORY / "prefect.yaml", path / "prefect.yaml")
    prefect("work-pool", "create", "sora-pool", "--type", "process", server=prefect_api, cwd=path)
    prefect("--no-prompt", "deploy", "--all", server=prefect_api, cwd=path, timeout=120)
    return Project(server=prefect_api, path=path)
