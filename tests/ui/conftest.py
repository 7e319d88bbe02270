"""The browser tests' world: a real `prefect server` with the project deployed, a worker, the emulator, Chromium.

Chromium is the system's (the Debian package, which ``.ci/chromium`` installs in
CI), driven by Playwright through ``executable_path``: no browser is downloaded.
Where it cannot be installed the tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from servers import Names, create_process_pool, deploy, drop_publish_trigger, stop_workers
from ui_helpers import API_KEY, BIN, Screenshots, Stack

from prefect_sora.blocks import SoraCredentials, SoraStorage
from prefect_sora.emulator import Emulator

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_executable() -> str | None:
    """The system Chromium: $PREFECT_SORA_CHROMIUM, or Debian's /usr/bin/chromium."""
    for candidate in (os.environ.get("PREFECT_SORA_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium executable, or a skip that says how to install it."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no system Chromium: install the Debian package (apt-get install chromium, or bash .ci/chromium)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is in the test extra: pip install -e '.[test]'")
    return executable


@pytest.fixture(scope="module")
def browser(chromium: str, stack: Stack) -> Iterator[Any]:
    """Chromium under Playwright, started after the stack.

    Playwright's sync API runs an event loop in this thread while the browser is
    open, and Prefect's sync-or-async calls (``Block.save``) would then hand back
    a coroutine; so everything Prefect is set up first.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab at the width the artifacts must fit (1600 px)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


@pytest.fixture(scope="module")
def screenshots() -> Screenshots:
    """The docs' screenshots, taken only when $PREFECT_SORA_SCREENSHOTS names a folder (``docs`` refreshes them).

    A full-page screenshot costs a second or two of CPU on a loaded machine and asserts
    nothing, so the suite takes none by default.
    """
    folder = os.environ.get("PREFECT_SORA_SCREENSHOTS")
    return Screenshots(Path(folder) if folder else None)


@pytest.fixture(scope="module")
def stack(
    chromium: str,
    prefect_server_process: dict[str, str],
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The README's steps on the session's server: register the block, save it, make a pool, deploy, a worker.

    The pool, deployments and block are the module's own (tests/servers.py:Names), so
    that no other module on the shared server replaces them or picks up their runs.
    """
    env = prefect_server_process
    names = Names.of(request.module)
    project = tmp_path_factory.mktemp("ui-project")
    (project / "prefect.yaml").write_text(names.prefect_yaml())
    with Emulator(job_seconds=1.0) as emulator:
        stack = Stack(api_url=env["PREFECT_API_URL"], env=env, worker_dir=project, names=names)
        # tests/blocks/test_credentials.py runs `prefect block register`; here the same through the API.
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            for block in (SoraCredentials, SoraStorage):
                block.register_type_and_schema()
        create_process_pool(stack.api_url, names.pool)
        deploy(stack.api_url, project, "--all")
        drop_publish_trigger(stack.api_url, names)
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            SoraCredentials(api_key=API_KEY, base_url=emulator.base_url).save(names.block, overwrite=True)
        with (project / "worker.log").open("w") as log:
            worker = subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", names.pool],
                cwd=project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped with its flow runs as one process group
            )
        try:
            yield stack
        finally:
            stop_workers(worker)
