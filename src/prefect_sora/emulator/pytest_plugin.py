"""pytest fixtures for testing code that calls Sora 2, against a fresh emulator per test.

Enable it in your root ``conftest.py``::

    pytest_plugins = ["prefect_sora.emulator.pytest_plugin"]

then take the ``sora_emulator`` fixture::

    def test_my_pipeline(sora_emulator):
        client = OpenAI(base_url=sora_emulator.base_url, api_key="sk-test")
        video = client.videos.create_and_poll(model="sora-2", prompt="a red fox")
        assert video.status == "completed"
        assert sora_emulator.stats()["creates"] == 1

Jobs complete in 0.2 s, and every answer about an unfinished job says when it is due
(``openai-poll-after-ms``), so a whole create-poll-download round trip takes well under
a second. Override the
``sora_emulator_config`` fixture to change that (or any other setting) for a module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._server import Emulator

FAST_JOB_SECONDS = 0.2


@pytest.fixture
def sora_emulator_config() -> EmulatorConfig:
    """The config each `sora_emulator` starts with: fast jobs, polls hinted to their end, no faults."""
    return EmulatorConfig(job_seconds=FAST_JOB_SECONDS)


@pytest.fixture
def sora_emulator(sora_emulator_config: EmulatorConfig) -> Iterator[Emulator]:
    """A Sora 2 API emulator running for this test only, on a free loopback port."""
    with Emulator(sora_emulator_config) as emulator:
        yield emulator
