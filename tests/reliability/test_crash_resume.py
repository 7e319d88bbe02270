"""Kill a batch with SIGKILL after some jobs were submitted; the rerun pays for none of them again.

A real subprocess, a real Prefect server and an emulator in its own process:
nothing is simulated. Whatever instant the kill lands on (before a create,
during one, after it, during a download), the rerun with the same
idempotency key must end with exactly one create per item and every video
stored, with no partial file left anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from servers import emulator_stats

pytestmark = pytest.mark.slow

ITEMS = 12

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora.flows import batch_text_to_video
    from prefect_sora._models import VideoRequest

    base_url, out, key, items = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    requests = [VideoRequest(prompt=f"crash test item {i}") for i in range(items)]
    credentials = SoraCredentials(api_key="sk-crash-test", base_url=base_url)
    result = asyncio.run(
        batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key=key, concurrency=4)
    )
    print(json.dumps({"stored": result.stored, "failed": result.failed,
                      "resumed": sum(item.resumed for item in result.items),
                      "ids": [item.video_id for item in result.items]}))
    """
)


def run_batch(script: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("kill_after_creates", [1, 6])
def test_a_killed_batch_resumes_without_a_second_create(
    tmp_path: Path,
    prefect_server_process: dict[str, str],
    emulator_process: object,
    kill_after_creates: int,
) -> None:
    base_url = emulator_process("--job-seconds", "2.5")  # type: ignore[operator]
    script = tmp_path / "batch.py"
    script.write_text(SCRIPT)
    out = tmp_path / "videos"
    env = {**os.environ, **prefect_server_process}
    args = (base_url, f"{out}/", "crash-resume", str(ITEMS))

    first = run_batch(script, env, *args)
    deadline = time.monotonic() + 60
    while emulator_stats(base_url)["creates"] < kill_after_creates:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the batch never started submitting"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    submitted_before = emulator_stats(base_url)["creates"]
    assert 0 < submitted_before < ITEMS

    second = run_batch(script, env, *args)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr[-3000:]
    report = json.loads(stdout.strip().splitlines()[-1])

    stats = emulator_stats(base_url)
    assert stats["creates"] == ITEMS, "a job submitted before the kill was paid for again"
    assert report["stored"] == ITEMS and report["failed"] == 0
    assert report["resumed"] >= submitted_before
    assert len(set(report["ids"])) == ITEMS
    videos = sorted(p.name for p in out.iterdir() if p.is_file())
    assert videos == sorted(f"{video_id}.mp4" for video_id in report["ids"])
    assert not [p for p in out.rglob("*") if ".partial-" in p.name or p.name.endswith(".tmp")]
