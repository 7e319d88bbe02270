"""wait="suspend" on a real ``prefect server start``, a process work pool, a worker and the sora-watcher.

A suspended run holds no process while its job generates; the watcher's event and
the resume automation bring it back, and the rerun finds its job in the journal.
Jobs are held (``[emulator:hold]``) until the run is where the test wants it, then
ended: no test guesses how long a loaded machine needs to suspend a run.
test_suspend_watcher.py has the watcher's own failures and the suspending batch.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.exceptions import NotPausedError
from prefect.flow_runs import aresume_flow_run
from servers import wait_for
from suspend_helpers import Deployed, ends, finish_held, flow_run_pids, run_video, suspended_without_process

from prefect_sora._errors import InvalidParameter
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import text_to_video
from prefect_sora.flows._suspend import SUSPENDED_RUN_ROLE
from prefect_sora.tasks import _events as events


def test_suspend_outside_a_deployment_is_refused_before_any_request(
    prefect_server: None, emulator: Emulator, tmp_path: Path
) -> None:
    credentials = SoraCredentials(api_key="sk-suspend", base_url=emulator.base_url)
    requests = emulator.stats()["requests_total"]

    with pytest.raises(InvalidParameter, match="deployment") as caught:
        asyncio.run(text_to_video("A fox", credentials=credentials, out=f"{tmp_path}/", wait="suspend"))

    assert caught.value.param == "wait"
    assert emulator.stats()["requests_total"] == requests
    assert not list(tmp_path.rglob("*.mp4"))


def test_a_suspended_run_holds_no_process_then_resumes_and_stores_its_one_video(
    deployed: Deployed, shared_watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]

    run_id = run_video(deployed, out, "A fox in the snow [emulator:hold]")
    suspended_without_process(deployed, run_id)

    # Still generating: the worker holds nothing for it.
    assert deployed.worker.poll() is None
    finish_held(emulator, "A fox in the snow", 1)
    run = ends(deployed, run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    (video,) = out.glob("video_*.mp4")
    assert video.stat().st_size > 0
    assert emulator.stats()["creates"] == creates + 1
    assert "sora-wait-1" in run["empirical_policy"]["pause_keys"]
    wait_for(lambda: not flow_run_pids(run_id), 30, "the resumed run's process outlived it")


@pytest.mark.slow
def test_a_job_that_fails_resumes_its_run_into_failed_with_the_reason(
    deployed: Deployed, shared_watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]

    run_id = run_video(deployed, out, "A doomed fox [emulator:fail=moderation_blocked] [emulator:hold]")
    suspended_without_process(deployed, run_id)
    finish_held(emulator, "A doomed fox", 1)
    run = ends(deployed, run_id)

    assert run["state"]["type"] == "FAILED", run["state"]
    assert "failed" in run["state"]["message"] and "moderation" in run["state"]["message"], run["state"]["message"]
    assert emulator.stats()["creates"] == creates + 1
    assert not list(out.glob("*.mp4"))


@pytest.mark.slow
def test_a_run_resumed_by_hand_suspends_again_and_a_second_resume_changes_nothing(
    deployed: Deployed, shared_watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]
    run_id = run_video(deployed, out, "A heron [emulator:hold]")
    suspended_without_process(deployed, run_id)

    asyncio.run(aresume_flow_run(run_id))  # from the UI, while the job still generates
    wait_for(
        lambda: "sora-wait-2" in deployed.run(run_id)["empirical_policy"]["pause_keys"],
        120,
        "the resumed run did not suspend again",
    )
    suspended_without_process(deployed, run_id)
    assert emulator.stats()["creates"] == creates + 1  # the rerun found its job in the journal
    finish_held(emulator, "A heron", 1)
    run = ends(deployed, run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    (video,) = out.glob("video_*.mp4")
    video_id = video.stem

    # The automation fires again (a second ending event naming the run), and a hand resume: both find nothing paused.
    related = [{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": SUSPENDED_RUN_ROLE}]
    events.completed(_video(emulator, video_id), credentials=None, related=related)
    with pytest.raises(NotPausedError):
        asyncio.run(aresume_flow_run(run_id))
    time.sleep(5)
    assert deployed.state(run_id)[0] == "COMPLETED"
    assert emulator.stats()["creates"] == creates + 1
    assert emulator.stats()["downloads"][video_id]["video"] == 1
    assert list(out.glob("video_*.mp4")) == [video]


def _video(emulator: Emulator, video_id: str) -> Any:
    async def read() -> Any:
        async with SoraCredentials(api_key="sk-suspend", base_url=emulator.base_url).get_client() as client:
            return await client.retrieve_video(video_id)

    return asyncio.run(read())
