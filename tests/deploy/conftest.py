"""Fixtures for the deployments: the session's ``prefect server start``, and the repository's project deployed to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_helpers import Project, Server, prefect
from servers import Names, create_process_pool, deploy, drop_publish_trigger


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """This process talks to the session's Prefect server too (saving blocks, reading runs)."""


@pytest.fixture(scope="module")
def prefect_api(prefect_server_process: dict[str, str]) -> Server:
    """The session's ``prefect server start``, shared with every other test that needs a server."""
    env = prefect_server_process
    return Server(api_url=env["PREFECT_API_URL"], home=Path(env["PREFECT_HOME"]), env=env)


@pytest.fixture(scope="module")
def project(prefect_api: Server, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The README's steps: create the process pool, then ``prefect --no-prompt deploy --all``.

    The pool, deployments and block names are this module's own (tests/servers.py:Names),
    so that no other module on the shared server replaces its deployments or has one of
    its runs picked up; a module that sets ``README_NAMES = True`` keeps prefect.yaml's
    deployment and block names (only one may: tests/deploy/test_deployments.py). A module that sets
    ``ONE_PROCESS_RUNS = True`` gets its pool through the API, its deployments from the
    same command run inside this process, and its flow runs started in one process
    each; the others get the README's commands and Prefect's defaults.
    """
    names = Names.of(request.module, readme=getattr(request.module, "README_NAMES", False))
    pool = names.pool
    path = tmp_path_factory.mktemp("project")
    (path / "prefect.yaml").write_text(names.prefect_yaml())
    if getattr(request.module, "ONE_PROCESS_RUNS", False):
        create_process_pool(prefect_api.api_url, pool)  # flow runs in one process each (tests/servers.py)
        deploy(prefect_api.api_url, path, "--all")  # the same command, in this process
    else:
        prefect("work-pool", "create", pool, "--type", "process", "--overwrite", server=prefect_api, cwd=path)
        prefect("--no-prompt", "deploy", "--all", server=prefect_api, cwd=path, timeout=120)
    drop_publish_trigger(prefect_api.api_url, names)
    return Project(server=prefect_api, path=path, pool=pool, names=names)
