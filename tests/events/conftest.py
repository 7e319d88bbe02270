"""Fixtures for the events: the session's real Prefect server, whose API the events are read back from."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Every events test emits to (and reads from) the session's real Prefect server."""


@pytest.fixture
def api_url(prefect_server_process: dict[str, str]) -> str:
    return prefect_server_process["PREFECT_API_URL"]


@pytest.fixture
def out(tmp_path: Path) -> str:
    """A local output folder, as the flows take it: a URL ending in ``/``."""
    return f"{tmp_path}/videos/"
