"""Fixtures for the flows: the session's Prefect server, credentials for this test's emulator, output folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Every flow test runs against the session's real Prefect server."""


@pytest.fixture
def api_key() -> str:
    """Distinctive, so that a leak into a result or an artifact is found by a plain search."""
    return "sk-test-LEAKCANARY-flows-91c4e2"


@pytest.fixture
def credentials(sora_emulator: Emulator, api_key: str) -> SoraCredentials:
    return SoraCredentials(api_key=api_key, base_url=sora_emulator.base_url)


@pytest.fixture
def out(tmp_path: Path) -> str:
    """A local output folder, as the flows take it: a URL ending in ``/``."""
    return f"{tmp_path}/videos/"
