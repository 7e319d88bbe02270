"""The approval gate in the browser: a paused batch's Resume form shows the estimate; submitting it resumes the run."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video

# The money tests' helpers (finding the paused run, its state), also when tests/ui runs alone.
sys.path.insert(0, str(Path(__file__).parents[1] / "money"))
from money_helpers import paused_run, run_state
from ui_helpers import Screenshots, submit

# As tests/ui/conftest.py starts it: root in CI, where the sandbox refuses to start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture
def approval_page(chromium: str, prefect_server: None) -> Iterator[Any]:
    """A tab on its own Chromium: this test needs no deployment, only the session's server."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        yield tab
        browser.close()


def test_the_resume_form_shows_the_estimate_and_submitting_it_approves_the_batch(
    approval_page: Any,
    sora_emulator: Emulator,
    credentials: SoraCredentials,
    tmp_path: Path,
    prefect_server_process: dict[str, str],
    screenshots: Screenshots,
) -> None:
    page = approval_page
    key = f"ui-approve-{uuid.uuid4().hex[:8]}"
    requests = [
        VideoRequest(prompt="A paper boat on a rainy street"),
        VideoRequest(prompt="Northern lights over a frozen lake", seconds="8", size="1280x720"),
        VideoRequest(prompt="Dew on a spider web", model="sora-2-pro"),
    ]
    call = batch_text_to_video(
        requests, out=f"{tmp_path}/videos/", credentials=credentials, idempotency_key=key, approve_over_usd=1
    )
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    running = pool.submit(contextvars.copy_context().run, asyncio.run, call)
    pool.shutdown(wait=False)

    run = paused_run("sora-batch-text-to-video", key, unless=running)
    ui = prefect_server_process["PREFECT_API_URL"].removesuffix("/api") + "/v2"
    page.goto(f"{ui}/runs/flow-run/{run.id}")
    page.get_by_role("button", name="Open menu").first.click()
    page.get_by_role("menuitem", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Approve $2.40 for 3 videos?").wait_for()

    shown = dialog.inner_text()
    for row in ("sora-2\t1280x720\t1\t8\t$0.80", "sora-2\t720x1280\t1\t4\t$0.40", "sora-2-pro\t720x1280\t1\t4\t$1.20"):
        assert row in shown, shown
    assert "First prompts (3 of 3)" in shown and "Northern lights over a frozen lake" in shown
    assert sora_emulator.stats()["creates"] == 0  # nothing while the form is open

    dialog.get_by_role("switch").click()
    dialog.locator("textarea").fill("Launch budget, approved by Ana")
    screenshots.take(page, "ui-approval-form.png", full_page=False)
    # Two steps, each bounded, so that a failure says which one: the form's answer reaching
    # the server (one CI run waited 120 s for the batch with no way to tell), then the batch.
    button = dialog.get_by_role("button", name="Resume")
    resumed = lambda: not run_state(run.id).is_paused()  # noqa: E731
    submit(page, button, resumed, "the run resumed by the form's Resume", sends="/resume")

    batch = running.result(timeout=180)
    assert [item.status for item in batch.items] == ["stored"] * 3
    assert sora_emulator.stats()["creates"] == 3
    assert run_state(run.id).is_completed()
