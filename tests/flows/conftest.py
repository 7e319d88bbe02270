"""Fixtures for the flows: the session's Prefect server, credentials for this test's emulator, output folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Every flow test runs against the session's real Prefect server."""


@pytest.fixture
def out(tmp_path: Path) -> str:
    """A local output folder, as the flows take it: a URL ending in ``/``."""
    return f"{tmp_path}/videos/"
