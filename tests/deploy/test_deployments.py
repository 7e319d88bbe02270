"""The repository's prefect.yaml deployed to a real Prefect server and run by a real process worker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from deploy_helpers import Project, Server, prefect
from prefect.settings import PREFECT_API_URL, temporary_settings
from servers import REPOSITORY

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.slow
#: The one module on the shared server that deploys prefect.yaml under its own names (tests/servers.py:Names).
README_NAMES = True

DEPLOYMENTS = {
    "sora-text-to-video/text-to-video": "prefect_sora.flows._text_to_video:text_to_video",
    "sora-batch-text-to-video/nightly-batch": "prefect_sora.flows._batch:batch_text_to_video",
    "sora-batch-text-to-video/sharded-batch": "prefect_sora.flows._batch:batch_text_to_video",
    "sora-batch-shard/batch-shard": "prefect_sora.flows._shards:batch_shard",
    "sora-image-to-video/image-to-video": "prefect_sora.flows._image_to_video:image_to_video",
    "sora-remix-video/remix": "prefect_sora.flows._remix:remix_video",
    "sora-publish-video/publish-video": "prefect_sora.flows._publish:publish_video",
    "sora-watcher/sora-watcher": "prefect_sora.flows._watcher:sora_watcher",
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.5, poll_after_ms=20) as running:
        yield running


@pytest.fixture(scope="module")
def sora_block(project: Project, emulator: Emulator) -> str:
    """The ``sora`` SoraCredentials block the deployments name, saved on the project's server."""
    with temporary_settings(updates={PREFECT_API_URL: project.server.api_url}):
        SoraCredentials(api_key="sk-deployed", base_url=emulator.base_url).save("sora", overwrite=True)
    return "sora"


def deployments(project: Project) -> dict[str, dict[str, Any]]:
    """The deployments on this module's pool by their ``flow/deployment`` names.

    The session's server also holds other modules' deployments (their own pools).
    """
    server = project.server
    flows = {flow["id"]: flow["name"] for flow in server.post("/flows/filter", {})}
    body = {"work_pools": {"name": {"any_": [project.pool]}}}
    return {f"{flows[d['flow_id']]}/{d['name']}": d for d in server.post("/deployments/filter", body)}


def flow_runs_of(server: Server, deployment_id: str) -> list[dict[str, Any]]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}}
    return list(server.post("/flow_runs/filter", body))


def probe(path: Path) -> tuple[int, int, float]:
    """Width, height and duration of an MP4, read by FFmpeg (PyAV); decodes a frame to prove it plays."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert container.duration is not None
        return frame.width, frame.height, container.duration / av.time_base


def test_deploy_all_creates_the_four_deployments_on_the_sora_pool(project: Project) -> None:
    found = deployments(project)

    assert set(found) == set(DEPLOYMENTS)
    for name, entrypoint in DEPLOYMENTS.items():
        assert found[name]["entrypoint"] == entrypoint
        assert found[name]["work_pool_name"] == project.pool
        # A shard's runs are given everything by the batch flow; publish-video's by its trigger.
        if name not in ("sora-batch-shard/batch-shard", "sora-publish-video/publish-video"):
            assert found[name]["parameters"]["credentials"] == "sora"
    (nightly,) = found["sora-batch-text-to-video/nightly-batch"]["schedules"]
    assert nightly["schedule"]["cron"] == "0 2 * * *" and nightly["active"] is False


def test_a_worker_runs_a_text_to_video_flow_run_and_stores_the_mp4(
    project: Project, sora_block: str, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    creates = emulator.stats()["creates"]
    params = json.dumps({"out": f"{out}/", "seconds": "4"})
    created = prefect("deployment", "run", "sora-text-to-video/text-to-video", "--params", params, **at(project))
    match = re.search(r"UUID: ([0-9a-f-]{36})", created.stdout)
    assert match is not None, created.stdout

    prefect("worker", "start", "--pool", project.pool, "--run-once", server=project.server, cwd=tmp_path, timeout=120)

    run = project.server.get(f"/flow_runs/{match[1]}")
    assert run["state"]["type"] == "COMPLETED", run["state"]
    (video,) = out.glob("video_*.mp4")
    assert probe(video) == (1280, 720, 4.0)  # the deployment's size, the run's seconds
    assert emulator.stats()["creates"] == creates + 1


def test_run_deployment_from_another_flow_returns_the_video_result_as_the_readme_shows(
    project: Project, sora_block: str, emulator: Emulator, tmp_path: Path
) -> None:
    caller, worker = tmp_path / "caller", tmp_path / "worker"
    caller.mkdir()
    worker.mkdir()
    deployment_id = deployments(project)["sora-text-to-video/text-to-video"]["id"]
    before = len(flow_runs_of(project.server, deployment_id))

    # The docs' example flow (docs/deployments.md), run as written in a process of its own; a worker picks
    # up the run it creates.
    script = readme_run_deployment_example() + "\n\nweekly_trailers()\n"
    with subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=caller,
        env=project.server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while len(flow_runs_of(project.server, deployment_id)) == before:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "run_deployment created no flow run"
                time.sleep(0.2)
            prefect(
                "worker", "start", "--pool", project.pool, "--run-once", server=project.server, cwd=worker, timeout=120
            )
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 0, stderr
    # print(run.state.name, run.state.result()): "Completed" and the VideoResult's fields.
    printed = re.search(r"^Completed (index=0 .*)$", stdout, re.MULTILINE)
    assert printed is not None, stdout
    assert "status='stored'" in printed[1] and "seconds='12'" in printed[1]
    assert "actual_usd=Decimal('1.20')" in printed[1]
    url = re.search(r"url='file://([^']+)'", printed[1])
    assert url is not None
    # The deployment's relative out: videos/ lands where the worker runs, and stays.
    video = Path(url[1])
    assert video.parent == worker.resolve() / "videos"
    assert probe(video) == (1280, 720, 12.0)  # the example's "seconds": "12"


def readme_run_deployment_example() -> str:
    """The python block the docs' Deployments page gives for calling a deployment from another flow."""
    text = (REPOSITORY / "docs" / "deployments.md").read_text()
    _, after = text.split("Call a deployment with parameters and wait for its result:", 1)
    block = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert block is not None
    return block[1]


def at(project: Project) -> dict[str, Any]:
    return {"server": project.server, "cwd": project.path}
