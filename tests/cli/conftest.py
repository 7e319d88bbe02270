"""Fixtures for the command line: the session's Prefect server, a clean environment, a runner, a key to look for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from prefect_sora.cli import app


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> None:
    """Every command runs its flows against the session's real Prefect server."""


@pytest.fixture(autouse=True)
def _no_credentials_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start each test with no SORA_* variables, in its own working directory."""
    monkeypatch.delenv("SORA_API_KEY", raising=False)
    monkeypatch.delenv("SORA_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run() -> Callable[..., Result]:
    """``run("generate", "A prompt", "--emulator")``: the command in-process, stdout and stderr apart."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke
