"""wait="suspend" when the watcher fails, when a journal is gone, and for a batch that submits in waves.

The same real parts as test_suspend.py (a ``prefect server start``, a process pool, a
worker, sora-watcher runs); a file of its own so that the two run side by side.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest
from servers import prefect_api, wait_for
from suspend_helpers import (
    SUSPENDED,
    Deployed,
    deployment_run,
    ends,
    finish_held,
    flow_run_pids,
    run_video,
    start_watcher,
    suspended_without_process,
)

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.slow


def test_the_watcher_killed_while_jobs_are_outstanding_is_restarted_and_every_run_still_resumes(
    deployed: Deployed, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]
    first = start_watcher(deployed)
    runs = [run_video(deployed, out / str(n), f"Waves {n} [emulator:hold]") for n in range(2)]
    for run_id in runs:
        suspended_without_process(deployed, run_id)

    for pid in flow_run_pids(first):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not flow_run_pids(first), 30, "the watcher survived SIGKILL")
    # The jobs end while nobody watches: the runs stay suspended, nothing is lost.
    finish_held(emulator, "Waves ", 2)
    time.sleep(3)
    assert [deployed.state(r) for r in runs] == [SUSPENDED] * 2

    start_watcher(deployed)
    for n, run_id in enumerate(runs):
        assert ends(deployed, run_id)["state"]["type"] == "COMPLETED"
        assert len(list((out / str(n)).glob("video_*.mp4"))) == 1
    assert emulator.stats()["creates"] == creates + 2


@pytest.mark.timeout(600)
def test_a_job_no_journal_knows_is_reported_never_paid_for_and_never_polled(
    deployed: Deployed, emulator: Emulator, out: Path, tmp_path: Path
) -> None:
    # No watcher runs before this one (each test's are stopped after it): none can have read the journal.
    before = emulator.stats()["creates"]
    run_id = run_video(deployed, out, f"An owl {tmp_path.name} [emulator:hold]")
    try:
        suspended_without_process(deployed, run_id)
        shutil.rmtree(out / ".prefect-sora")  # its journal is gone: the watcher cannot know its job
        finish_held(emulator, f"An owl {tmp_path.name}", 1)  # and the job has ended
        stranger = _create(emulator, "A job made outside any flow")  # at the gateway, in no journal
        creates = emulator.stats()["creates"]
        assert creates == before + 2  # the run's and the stranger's

        watcher_id = start_watcher(deployed)
        # Its warnings about this run: the other suspend module's runs, on the same server, it warns about too.
        logs = wait_for(
            lambda: [line for line in _warnings(deployed, watcher_id) if run_id in line],
            180,
            "the watcher never reported the run",
        )
        time.sleep(5)  # several of the watcher's 1 s rounds: it still does not resume the run

        assert any("no job" in line for line in logs), logs
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


@pytest.mark.timeout(600)
def test_a_suspended_batch_submits_in_waves_of_concurrency_and_stores_every_video_paying_once_each(
    deployed: Deployed, watcher: str, emulator: Emulator, out: Path
) -> None:
    creates = emulator.stats()["creates"]
    params = {
        "requests": [{"prompt": f"Wave {n} [emulator:hold]", "seconds": "4", "size": "720x1280"} for n in range(3)],
        "out": f"{out}/",
        "credentials": deployed.names.block,
        "wait": "suspend",
        "concurrency": 2,
        "max_cost_usd": 5.0,
    }
    run_id = deployment_run(deployed, "sora-batch-text-to-video/nightly-batch", params)
    suspended_without_process(deployed, run_id)
    # The first wave: two jobs generating, the third item not submitted while the run holds no process.
    assert emulator.stats()["creates"] == creates + 2
    assert not list(out.glob("*.mp4"))
    finish_held(emulator, "Wave ", 2)

    # The rerun stores the first wave, submits the third item and suspends again.
    wait_for(
        lambda: "sora-wait-2" in deployed.run(run_id)["empirical_policy"]["pause_keys"],
        180,
        "the batch did not suspend for its second wave",
    )
    suspended_without_process(deployed, run_id)
    assert emulator.stats()["creates"] == creates + 3
    assert len(list(out.glob("video_*.mp4"))) == 2
    finish_held(emulator, "Wave 2", 1)

    run = ends(deployed, run_id, 300)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert len(list(out.glob("video_*.mp4"))) == 3
    assert emulator.stats()["creates"] == creates + 3
    wait_for(lambda: not flow_run_pids(run_id), 30, "the resumed run's process outlived it")


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
