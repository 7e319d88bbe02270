"""Fixtures for the core modules: clients of the emulator with fast, countable retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora.emulator import Emulator

ClientFactory = Callable[..., AbstractAsyncContextManager[SoraClient]]


@pytest.fixture
def make_client(sora_emulator: Emulator, api_key: str) -> ClientFactory:
    """``async with make_client(max_retries=0) as client``: a client of this test's emulator.

    Backoffs are a few hundredths of a second so retries can be counted without waiting.
    """

    @asynccontextmanager
    async def make(*, key: str = api_key, max_retries: int = 4) -> AsyncIterator[SoraClient]:
        retry = RetryPolicy(max_retries=max_retries, backoff_base=0.02, backoff_max=0.1)
        async with SoraClient(api_key=key, base_url=sora_emulator.base_url, retry=retry) as client:
            yield client

    return make
