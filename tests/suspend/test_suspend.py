"""wait="suspend" on a real ``prefect server start``, a process work pool, a worker and the sora-watcher.

A suspended run holds no process while its job generates; the watcher's event and
the resume automation bring it back, and the rerun finds its job in the journal.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BLOCK, deployment_run, start_watcher
from prefect.exceptions import NotPausedError
from prefect.flow_runs import aresume_flow_run
from servers import prefect_api
from suspend_helpers import Deployed, flow_run_pids, wait_for

from prefect_sora._errors import InvalidParameter
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import text_to_video
from prefect_sora.flows._suspend import SUSPENDED_RUN_ROLE
from prefect_sora.tasks import _events as events

SUSPENDED = ("PAUSED", "Suspended")


def run_video(deployed: Deployed, out: Path, prompt: str) -> str:
    params = {
        "prompt": prompt,
        "seconds": "4",
        "size": "720x1280",
        "out": f"{out}/",
        "credentials": BLOCK,
        "wait": "suspend",
        "max_cost_usd": 1.0,
    }
    return deployment_run(deployed, "sora-text-to-video/text-to-video", params)


def suspended_without_process(deployed: Deployed, run_id: str, seconds: float = 120) -> None:
    wait_for(lambda: deployed.state(run_id) == SUSPENDED, seconds, f"run {run_id} never suspended")
    wait_for(lambda: not flow_run_pids(run_id), 30, f"run {run_id} is suspended but its process lives on")


def ends(deployed: Deployed, run_id: str, seconds: float = 180) -> dict[str, Any]:
    final = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
    wait_for(lambda: deployed.state(run_id)[0] in final, seconds, f"run {run_id} never ended: {deployed.state(run_id)}")
    return deployed.run(run_id)


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


@pytest.mark.slow
def test_a_suspended_run_holds_no_process_then_resumes_and_stores_its_one_video(
    deployed: Deployed, watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]

    run_id = run_video(deployed, out, "A fox in the snow [emulator:seconds=25]")
    suspended_without_process(deployed, run_id)

    # Still generating: the worker holds nothing for it.
    assert emulator.stats()["jobs_by_status"]["in_progress"] + emulator.stats()["jobs_by_status"]["queued"] >= 1
    assert deployed.worker.poll() is None
    run = ends(deployed, run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    (video,) = out.glob("video_*.mp4")
    assert video.stat().st_size > 0
    assert emulator.stats()["creates"] == creates + 1
    assert "sora-wait-1" in run["empirical_policy"]["pause_keys"]
    wait_for(lambda: not flow_run_pids(run_id), 30, "the resumed run's process outlived it")


@pytest.mark.slow
def test_a_job_that_fails_resumes_its_run_into_failed_with_the_reason(
    deployed: Deployed, watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]

    run_id = run_video(deployed, out, "A fox [emulator:fail=moderation_blocked] [emulator:seconds=20]")
    suspended_without_process(deployed, run_id)
    run = ends(deployed, run_id)

    assert run["state"]["type"] == "FAILED", run["state"]
    assert "failed" in run["state"]["message"] and "moderation" in run["state"]["message"], run["state"]["message"]
    assert emulator.stats()["creates"] == creates + 1
    assert not list(out.glob("*.mp4"))


@pytest.mark.slow
def test_the_watcher_killed_while_jobs_are_outstanding_is_restarted_and_every_run_still_resumes(
    deployed: Deployed, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]
    first = start_watcher(deployed)
    runs = [run_video(deployed, out / str(n), f"Waves {n} [emulator:seconds=30]") for n in range(3)]
    for run_id in runs:
        suspended_without_process(deployed, run_id)

    for pid in flow_run_pids(first):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not flow_run_pids(first), 30, "the watcher survived SIGKILL")
    # The jobs end while nobody watches: the runs stay suspended, nothing is lost.
    completed = emulator.stats()["jobs_by_status"]["completed"]
    wait_for(lambda: emulator.stats()["jobs_by_status"]["completed"] >= completed + 3, 90, "jobs never completed", 1)
    time.sleep(3)
    assert [deployed.state(r) for r in runs] == [SUSPENDED] * 3

    start_watcher(deployed)
    for n, run_id in enumerate(runs):
        assert ends(deployed, run_id)["state"]["type"] == "COMPLETED"
        assert len(list((out / str(n)).glob("video_*.mp4"))) == 1
    assert emulator.stats()["creates"] == creates + 3


@pytest.mark.slow
def test_a_run_resumed_by_hand_suspends_again_and_a_second_resume_changes_nothing(
    deployed: Deployed, watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]
    run_id = run_video(deployed, out, "A heron [emulator:seconds=45]")
    suspended_without_process(deployed, run_id)

    asyncio.run(aresume_flow_run(run_id))  # from the UI, long before the job ends
    wait_for(
        lambda: "sora-wait-2" in deployed.run(run_id)["empirical_policy"]["pause_keys"],
        120,
        "the resumed run did not suspend again",
    )
    suspended_without_process(deployed, run_id)
    assert emulator.stats()["creates"] == creates + 1  # the rerun found its job in the journal
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


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_job_no_journal_knows_is_reported_never_paid_for_and_never_polled(
    deployed: Deployed, emulator: Emulator, out: Path, tmp_path: Path
) -> None:
    # No watcher runs before this one (each test's are stopped after it): none can have read the journal.
    before = emulator.stats()["creates"]
    run_id = run_video(deployed, out, f"An owl {tmp_path.name} [emulator:seconds=10]")
    try:
        suspended_without_process(deployed, run_id)
        shutil.rmtree(out / ".prefect-sora")  # its journal is gone: the watcher cannot know its job
        stranger = _create(emulator, "A job made outside any flow")  # at the gateway, in no journal
        creates = emulator.stats()["creates"]
        assert creates == before + 2  # the run's and the stranger's

        watcher_id = start_watcher(deployed)
        logs = wait_for(lambda: _warnings(deployed, watcher_id), 180, "the watcher never reported the run")
        time.sleep(15)  # the job has long ended: the watcher still does not resume the run

        assert any(run_id in line and "no job" in line for line in logs), logs
        assert deployed.state(run_id) == SUSPENDED
        assert emulator.stats()["creates"] == creates  # neither the watcher nor a resumed run paid for anything
        assert stranger not in emulator.stats()["polls"]
    finally:
        # A run left suspended without its journal would pay again if anything resumed it: end it here.
        httpx.post(
            f"{deployed.env['PREFECT_API_URL']}/flow_runs/{run_id}/set_state",
            json={"state": {"type": "CANCELLED"}, "force": True},
            timeout=30,
        )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_suspended_batch_submits_in_waves_of_concurrency_and_stores_every_video_paying_once_each(
    deployed: Deployed, watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]
    params = {
        "requests": [
            {"prompt": f"Wave {n} [emulator:seconds=15]", "seconds": "4", "size": "720x1280"} for n in range(3)
        ],
        "out": f"{out}/",
        "credentials": BLOCK,
        "wait": "suspend",
        "concurrency": 2,
        "max_cost_usd": 5.0,
    }
    run_id = deployment_run(deployed, "sora-batch-text-to-video/nightly-batch", params)
    suspended_without_process(deployed, run_id)
    # The first wave: two jobs generating, the third item not submitted while the run holds no process.
    assert emulator.stats()["creates"] == creates + 2
    assert not list(out.glob("*.mp4"))

    run = ends(deployed, run_id, 300)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert len(list(out.glob("video_*.mp4"))) == 3
    assert emulator.stats()["creates"] == creates + 3
    keys = run["empirical_policy"]["pause_keys"]
    assert {"sora-wait-1", "sora-wait-2"} <= set(keys), keys  # suspended once per wave
    wait_for(lambda: not flow_run_pids(run_id), 30, "the resumed run's process outlived it")


def _video(emulator: Emulator, video_id: str) -> Any:
    async def read() -> Any:
        async with SoraCredentials(api_key="sk-suspend", base_url=emulator.base_url).get_client() as client:
            return await client.retrieve_video(video_id)

    return asyncio.run(read())


def _create(emulator: Emulator, prompt: str) -> str:
    from prefect_sora._validation import validate_request

    async def create() -> str:
        async with SoraCredentials(api_key="sk-suspend", base_url=emulator.base_url).get_client() as client:
            return (
                await client.create_video(validate_request(prompt=prompt, model="sora-2", seconds="4", size="720x1280"))
            ).id

    return asyncio.run(create())


def _warnings(deployed: Deployed, run_id: str) -> list[str]:
    body = {"logs": {"flow_run_id": {"any_": [run_id]}, "level": {"ge_": 30}}}
    answer = prefect_api("POST", f"{deployed.env['PREFECT_API_URL']}/logs/filter", body)
    return [log["message"] for log in answer.json()]
