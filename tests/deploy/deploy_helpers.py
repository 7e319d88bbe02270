"""What the deployment tests share: the server and project they run against, and running ``prefect``."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import Names, prefect_api

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Server:
    """A ``prefect server start`` process and the environment its clients need."""

    api_url: str
    home: Path
    env: dict[str, str]

    def get(self, path: str) -> Any:
        return prefect_api("GET", f"{self.api_url}{path}").json()

    def post(self, path: str, body: object) -> Any:
        return prefect_api("POST", f"{self.api_url}{path}", body).json()


@dataclass(frozen=True)
class Project:
    """A copy of the repository's prefect.yaml, deployed with ``prefect deploy --all`` to its own work pool."""

    server: Server
    path: Path
    pool: str
    #: What its pool, deployments and block are called (tests/servers.py:Names).
    names: Names


def prefect(*args: str, server: Server, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the ``prefect`` command against ``server``; fail the test with its output if it fails."""
    done = subprocess.run(
        [str(BIN / "prefect"), *args], cwd=cwd, env=server.env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done
