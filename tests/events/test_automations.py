"""The shipped automations on a real ``prefect server start``: the publish-video trigger and the proactive alert."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import REPOSITORY, Names, create_process_pool, deploy, prefect_api

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import text_to_video

pytestmark = pytest.mark.slow

PREFECT = Path(sys.executable).parent / "prefect"
#: Its pool and deployment on the shared server (tests/servers.py:Names).
NAMES = Names("automations")


def prefect(*args: str, env: dict[str, str], cwd: Path) -> str:
    """Run the ``prefect`` command against the session's server; fail the test with its output if it fails."""
    done = subprocess.run([str(PREFECT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def api(env: dict[str, str], method: str, path: str, body: object = None) -> Any:
    answer = prefect_api(method, f"{env['PREFECT_API_URL']}{path}", body)
    return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def publish_deployment(
    prefect_server_process: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The repository's publish-video deployment, deployed alone from prefect.yaml (its names the module's); its id.

    Deleted afterwards with its trigger, so that the rest of the session's stored
    videos do not start runs of it.
    """
    env = prefect_server_process
    path = tmp_path_factory.mktemp("publish-project")
    (path / "prefect.yaml").write_text(NAMES.prefect_yaml())
    create_process_pool(env["PREFECT_API_URL"], NAMES.pool)
    deploy(env["PREFECT_API_URL"], path, "--name", NAMES.deployment("publish-video"))
    deployment = api(env, "GET", f"/deployments/name/{NAMES.deployment('sora-publish-video/publish-video')}")
    yield deployment["id"]
    api(env, "DELETE", f"/automations/owned-by/prefect.deployment.{deployment['id']}")
    api(env, "DELETE", f"/deployments/{deployment['id']}")


def test_prefect_yaml_gives_publish_video_a_trigger_on_sora_video_stored(
    prefect_server_process: dict[str, str], publish_deployment: str
) -> None:
    (automation,) = api(
        prefect_server_process, "GET", f"/automations/related-to/prefect.deployment.{publish_deployment}"
    )

    trigger = automation["trigger"]
    assert (trigger["posture"], trigger["expect"], trigger["match"]) == (
        "Reactive",
        ["sora.video.stored"],
        {"prefect.resource.id": "sora.video.*"},
    )
    (action,) = automation["actions"]
    assert action["type"] == "run-deployment" and action["deployment_id"] == publish_deployment
    assert action["parameters"] == {
        "url": "{{ event.payload.url }}",
        "video_id": "{{ event.resource['sora.video.id'] }}",
    }


def test_a_stored_video_starts_a_publish_video_run_with_its_url(
    prefect_server_process: dict[str, str],
    publish_deployment: str,
    sora_emulator: Emulator,
    credentials: SoraCredentials,
    tmp_path: Path,
) -> None:
    # Let the server's triggers service pick up the automation made by the deploy.
    time.sleep(2)
    result = asyncio.run(text_to_video("A lighthouse in a storm", out=f"{tmp_path}/videos/", credentials=credentials))

    body = {"deployments": {"id": {"any_": [publish_deployment]}}}
    deadline = time.monotonic() + 90
    while not (
        runs := [
            r
            for r in api(prefect_server_process, "POST", "/flow_runs/filter", body)
            if r["parameters"].get("url") == result.url
        ]
    ):
        assert time.monotonic() < deadline, "no publish-video run with the stored URL"
        time.sleep(1)

    (run,) = runs
    assert run["parameters"] == {"url": result.url, "video_id": result.video_id}


def test_the_proactive_automation_file_is_accepted_by_prefect_automation_create(
    prefect_server_process: dict[str, str], tmp_path: Path
) -> None:
    env = prefect_server_process
    created = prefect(
        "automation",
        "create",
        "--from-file",
        str(REPOSITORY / "automations/video-not-completed.yaml"),
        env=env,
        cwd=tmp_path,
    )

    assert "Created automation 'sora-video-not-completed'" in created
    found = api(env, "POST", "/automations/filter", {"automations": {"name": {"any_": ["sora-video-not-completed"]}}})
    try:
        (automation,) = found
        trigger = automation["trigger"]
        assert trigger["posture"] == "Proactive"
        assert trigger["after"] == ["sora.video.submitted"]
        assert set(trigger["expect"]) == {
            "sora.video.completed",
            "sora.video.failed",
            "sora.video.cancelled",
            "sora.video.expired",
        }
        assert trigger["for_each"] == ["prefect.resource.id"]
        assert (trigger["threshold"], trigger["within"]) == (1, 1800.0)
        assert trigger["match"] == {"prefect.resource.id": "sora.video.*"}
        assert automation["enabled"] is True
    finally:
        for automation in found:
            api(env, "DELETE", f"/automations/{automation['id']}")
