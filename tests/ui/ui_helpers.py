"""What the browser tests share: the stack they run on, its API, and visiting a page that must not show the key."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from servers import Names, final_flow_run, prefect_api

BIN = Path(sys.executable).parent
#: The key of the saved credentials block; it must appear on no page and in no answer the UI gets.
API_KEY = f"sk-UI-LEAKCANARY-{uuid.uuid4().hex[:12]}"

T = TypeVar("T")


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


def submit(
    page: Any,
    button: Any,
    done: Callable[[], T | None],
    what: str,
    *,
    sends: str,
    fill: Callable[[], None] | None = None,
    idempotent: bool = True,
    clicks: int = 3,
    patience: float = 40,
) -> T:
    """``fill()`` the form and click its ``button``, then wait for ``done()`` to be truthy and return it.

    A user whose submit is answered with an error, or with nothing, types again and
    clicks again; so does this, ``clicks`` times at most, while the button is still
    there (a form that did submit has gone, and is only waited for):
    - the server refused the click's request (``sends``: a fragment of its API path)
      with a 5xx (a busy SQLite server answers 503 when a write waited past its lock
      timeout: nothing was written, and the browser does not retry where Prefect's
      Python client does): at once;
    - nothing came of the click after ``patience`` s (it landed while the form was still
      wiring itself up, or a late re-render cleared what was typed): only if the form is
      ``idempotent``, as a second run of a run form would be a second run.
    A failure names ``what``, the API calls the UI made that failed and the browser's
    console errors, and shows the page's text.
    """
    troubles: list[str] = []
    refused: list[int] = []

    def answered(response: Any) -> None:
        if "/api/" in response.url and response.status >= 400:
            troubles.append(f"{response.request.method} {response.url.split('/api', 1)[1]} -> {response.status}")
            if response.status >= 500 and sends in response.url:
                refused.append(response.status)

    def logged(message: Any) -> None:
        if message.type == "error":
            troubles.append(f"console: {message.text[:300]}")

    page.on("response", answered)
    page.on("console", logged)
    made = 0
    try:
        for _ in range(clicks):
            if made and not (refused or idempotent):
                break  # silence after a click on a form that must not be sent twice: no second click
            refused.clear()
            if button.is_visible() and button.is_enabled():
                if fill is not None:
                    fill()
                button.click()
                made += 1
            deadline = time.monotonic() + patience
            while time.monotonic() < deadline and not refused:
                value = done()
                if value:
                    return value
                page.wait_for_timeout(500)  # not time.sleep: Playwright hands over its events only while called
        value = done()
        if value:
            return value
        shown = str(page.inner_text("body"))[:1500]
        waited = f"nothing after {made} clicks, {patience:.0f} s each at most"
        raise AssertionError(f"{what}: {waited}; failed calls and console errors {troubles}; page: {shown!r}")
    finally:
        page.remove_listener("response", answered)
        page.remove_listener("console", logged)


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
