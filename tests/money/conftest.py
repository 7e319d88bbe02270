"""Fixtures for money across runs: the session's Prefect server, an output folder, a fresh spend limit name."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Spend limits and approvals live on the session's real Prefect server."""


@pytest.fixture
def out(tmp_path: Path) -> str:
    """A local output folder, as the flows take it: a URL ending in ``/``."""
    return f"{tmp_path}/videos/"


@pytest.fixture
def limit_name() -> str:
    """A spend limit name no other test uses (they share one server)."""
    return f"team-{uuid.uuid4().hex[:10]}"
