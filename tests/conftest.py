"""Shared test setup: the emulator fixtures users get, and one Prefect server per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Quiet, offline Prefect for tests; set before Prefect is imported anywhere.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

# The same fixtures users enable in their own suites (dogfooding the public plugin).
pytest_plugins = ["prefect_sora.emulator.pytest_plugin"]


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real, temporary Prefect server and database for the whole session (~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real `prefect server start` in its own process and PREFECT_HOME, for subprocess tests.

    Yields the environment a child process needs to talk to it. Its SQLite
    database is ``$PREFECT_HOME/prefect.db``.
    """
    from servers import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-home")) as env:
        yield env
