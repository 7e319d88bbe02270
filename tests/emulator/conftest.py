"""Fixtures for the emulator's own tests: an HTTP client bound to the per-test emulator.

`sora_emulator` itself comes from the public pytest plugin, which the root conftest enables.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from emulator_helpers import AUTH

from prefect_sora.emulator import Emulator


@pytest.fixture
def api(sora_emulator: Emulator) -> Iterator[httpx.Client]:
    """An authenticated client for the emulator's `/v1` API."""
    with httpx.Client(base_url=sora_emulator.base_url, headers=AUTH, timeout=10) as client:
        yield client


@pytest.fixture
def admin(sora_emulator: Emulator) -> Iterator[httpx.Client]:
    """A client for the emulator's `/_emulator` routes (no bearer token)."""
    with httpx.Client(base_url=f"{sora_emulator.url}/_emulator", timeout=10) as client:
        yield client
