"""The API key never reaches the Prefect database, logs, artifacts, results or CLI output.

Flows (with the key in a saved block, and in a block object passed as a
parameter), failures (a failed job, a refused key), the command line (from a
block and from SORA_API_KEY, quiet and verbose) and a deployment run by a real
worker all use one distinctive key against a real Prefect server; then every
byte they left behind is searched for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml
from servers import Names, create_process_pool, final_flow_run, run_deployment_now, stop_workers

pytestmark = pytest.mark.slow

KEY = f"sk-LEAKCHECK-{uuid.uuid4().hex}"

FLOWS = textwrap.dedent(
    """
    import asyncio, os, sys
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora._errors import BatchIncomplete
    from prefect_sora.flows import batch_text_to_video, text_to_video
    from prefect_sora._models import VideoRequest

    base_url, out = sys.argv[1], sys.argv[2]
    key = os.environ["LEAK_KEY"]
    SoraCredentials(api_key=key, base_url=base_url).save("leak-check", overwrite=True)
    asyncio.run(text_to_video("from a saved block", credentials="leak-check", out=out))
    as_object = SoraCredentials(api_key=key, base_url=base_url)
    asyncio.run(text_to_video("from a block object", credentials=as_object, out=out))
    try:
        asyncio.run(batch_text_to_video(
            [VideoRequest(prompt="fine"), VideoRequest(prompt="doomed [emulator:fail=moderation_blocked]")],
            credentials=as_object, out=out,
        ))
    except BatchIncomplete as exc:
        print("incomplete as expected:", exc)
    wrong = SoraCredentials(api_key=key + "-wrong", base_url=base_url)
    try:
        asyncio.run(text_to_video("with a refused key", credentials=wrong, out=out))
    except Exception as exc:
        print("refused as expected:", type(exc).__name__, exc)
    """
)

#: This test's own pool on the session's shared server, so no other module's worker takes its run.
#: Its pool and deployment on the shared server (tests/servers.py:Names).
NAMES = Names("secrets")
POOL = NAMES.pool


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1, 4), output[-3000:]
    return output


def run_worker_until_done(prefect: str, flow_run_id: str, env: dict[str, str], cwd: Path) -> str:
    """Run a process worker until the flow run is final; return everything it printed."""
    log = cwd / "worker.log"
    with log.open("w") as handle:
        worker = subprocess.Popen(
            [prefect, "worker", "start", "--pool", POOL],
            env=env,
            cwd=cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        run = final_flow_run(env["PREFECT_API_URL"], flow_run_id, 120)
    except AssertionError as never:
        raise AssertionError(f"{never}\n{log.read_text()[-3000:]}") from None
    finally:
        stop_workers(worker)  # everything it printed is in its log by now
    output = log.read_text()
    assert run["state"]["type"] == "COMPLETED", output[-3000:]
    return output


def occurrences(root: Path, text: str = KEY) -> list[str]:
    """Files under ``root`` whose bytes contain ``text`` (SQLite WAL files included)."""
    needle = text.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_distinctive_key_appears_nowhere(
    tmp_path: Path, prefect_server_process: dict[str, str], emulator_process: object
) -> None:
    base_url = emulator_process("--job-seconds", "0.5", "--api-key", KEY)  # type: ignore[operator]
    out = tmp_path / "videos"
    env = {
        **os.environ,
        **prefect_server_process,
        "LEAK_KEY": KEY,
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOGGING_LEVEL": "DEBUG",
    }
    env.pop("SORA_API_KEY", None)
    outputs = []

    script = tmp_path / "flows.py"
    script.write_text(FLOWS)
    outputs.append(run([sys.executable, str(script), base_url, f"{out}/"], env, tmp_path))
    assert "refused as expected: VideoNotStored" in outputs[-1]

    cli = str(Path(sys.executable).with_name("prefect-sora"))
    outputs.append(
        run([cli, "generate", "cli from a block", "--block", "leak-check", "--out", f"{out}/"], env, tmp_path)
    )
    outputs.append(
        run(
            [cli, "generate", "cli from the env", "--base-url", base_url, "--out", f"{out}/", "--verbose"],
            {**env, "SORA_API_KEY": KEY},
            tmp_path,
        )
    )
    bad_key = {**env, "SORA_API_KEY": KEY + "x"}
    outputs.append(run([cli, "generate", "cli, bad key", "--base-url", base_url], bad_key, tmp_path))
    assert "Stored" in outputs[1] and "Stored" in outputs[2]

    # A deployment of text_to_video, run by a real process worker.
    project = tmp_path / "project"
    project.mkdir()
    spec = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())
    spec["deployments"] = [d for d in spec["deployments"] if d["name"] == "text-to-video"]
    spec["deployments"][0]["work_pool"] = {**spec["deployments"][0]["work_pool"], "name": POOL}
    spec["deployments"][0]["name"] = NAMES.deployment("text-to-video")
    spec["deployments"][0]["parameters"].update(credentials="leak-check", out=f"{out}/", seconds="4", size="720x1280")
    (project / "prefect.yaml").write_text(yaml.safe_dump(spec))
    prefect = str(Path(sys.executable).with_name("prefect"))
    create_process_pool(env["PREFECT_API_URL"], POOL)
    outputs.append(run([prefect, "--no-prompt", "deploy", "--all"], env, project))
    run_id = run_deployment_now(env["PREFECT_API_URL"], NAMES.deployment("sora-text-to-video/text-to-video"))
    outputs.append(run_worker_until_done(prefect, run_id, env, project))

    stored = sorted(p.name for p in out.glob("*.mp4"))
    assert len(stored) >= 5  # every path above really ran against the emulator
    for text in outputs:
        assert KEY not in text
    home = Path(prefect_server_process["PREFECT_HOME"])
    # The search looks where the runs really went: their prompts are in there.
    assert occurrences(home, "from a block object") and occurrences(home, "cli from the env")
    assert occurrences(home) == []  # database, logs, persisted results
    assert occurrences(out) == []  # videos and the resume journal
    assert occurrences(project) == []
