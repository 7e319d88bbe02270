"""What the browser tests share: the stack they run on, its API, and visiting a page that must not show the key."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import Names, final_flow_run, prefect_api

BIN = Path(sys.executable).parent
#: The key of the saved credentials block; it must appear on no page and in no answer the UI gets.
API_KEY = f"sk-UI-LEAKCANARY-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Stack:
    """A `prefect server` with the project deployed and a worker polling its pool."""

    api_url: str
    env: dict[str, str]
    worker_dir: Path
    #: The module's pool, deployments and block (tests/servers.py:Names).
    names: Names

    @property
    def ui(self) -> str:
        return self.api_url.removesuffix("/api") + "/v2"

    def get(self, path: str) -> Any:
        return prefect_api("GET", f"{self.api_url}{path}").json()

    def post(self, path: str, body: object) -> Any:
        return prefect_api("POST", f"{self.api_url}{path}", body).json()

    def deployment_id(self, name: str) -> str:
        """The id of the module's deployment ``name`` (as prefect.yaml names it)."""
        body = {"deployments": {"name": {"any_": [self.names.deployment(name)]}}}
        (deployment,) = self.post("/deployments/filter", body)
        return str(deployment["id"])

    def flow_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        return list(self.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}}))

    def wait_final(self, flow_run_id: str, timeout: float = 90) -> dict[str, Any]:
        """The flow run once the worker has taken it to a final state."""
        return final_flow_run(self.api_url, flow_run_id, timeout)

    def task_runs(self, flow_run_id: str) -> dict[str, dict[str, Any]]:
        runs = self.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}})
        return {run["name"]: run for run in runs}


def visit(page: Any, url: str, *, expect_text: str) -> str:
    """Open ``url``, wait until ``expect_text`` shows, and return the page's text; the key must not be in the page."""
    page.goto(url)
    page.get_by_text(expect_text, exact=False).first.wait_for(state="visible")
    html = str(page.content())
    assert API_KEY not in html, f"the API key is on {url}"
    return str(page.inner_text("body"))


class Screenshots:
    """Where the docs' screenshots go, if anywhere: ``take`` does nothing without a folder."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def __bool__(self) -> bool:
        return self.folder is not None

    def take(self, page: Any, name: str, *, full_page: bool = True) -> None:
        if self.folder is not None:
            page.screenshot(path=self.folder / name, full_page=full_page)
