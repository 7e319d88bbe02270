"""Fixtures for the reliability and security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile import HostileServer, serve


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A broken API on loopback; set its answers with ``hostile.on(method, path, reply)``."""
    with serve(HostileServer()) as server:
        yield server
