"""Fixtures for the reliability and security tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hostile import HostileServer, serve
from servers import free_port


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
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                    return f"http://127.0.0.1:{port}/v1"
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("emulator did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def emulator_stats(base_url: str) -> dict[str, Any]:
    """The counters of an emulator started by `emulator_process`."""
    return dict(httpx.get(base_url.removesuffix("/v1") + "/_emulator/stats", timeout=5).json())
