"""Fixtures for the reliability and security tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile import HostileServer, serve
from servers import free_port, wait_healthy


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A broken API on loopback; set its answers with ``hostile.on(method, path, reply)``."""
    with serve(HostileServer()) as server:
        yield server


@pytest.fixture
def emulator_process() -> Iterator[Callable[..., str]]:
    """Start `prefect-sora emulator` as its own process (so a killed flow does not take it along).

    Call it with extra CLI options; it returns the base URL. Stopped at teardown.
    """
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> str:
        port = free_port()
        cli = str(Path(sys.executable).with_name("prefect-sora"))
        process = subprocess.Popen(
            [cli, "emulator", "--port", str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        started.append(process)
        wait_healthy(f"http://127.0.0.1:{port}/_emulator/health", None, 30, process=process)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)
