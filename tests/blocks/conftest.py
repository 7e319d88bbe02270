"""The block tests run against the session's real Prefect server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Every block test talks to the session's real Prefect server."""


@pytest.fixture
def api_key() -> str:
    """Distinctive, so that a leak into a dump, a repr or an error is found by a plain search."""
    return "sk-test-LEAKCANARY-93b1f0c7de"
