"""The block tests run against the session's real Prefect server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Every block test talks to the session's real Prefect server."""
