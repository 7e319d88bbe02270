"""The installed ``prefect-sora`` as a real process, including the README's first command exactly as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from cli_helpers import probe, stored_paths
from prefect.settings import PREFECT_API_URL

README = Path(__file__).parents[2] / "README.md"
PREFECT_SORA = Path(sys.executable).parent / "prefect-sora"


def environment(tmp_path: Path) -> dict[str, str]:
    """No SORA_* variables; the session's Prefect server, so no process starts its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_", "PREFECT_"))}
    env.update(PREFECT_API_URL=str(PREFECT_API_URL.value()), PREFECT_HOME=str(tmp_path / ".prefect"))
    return env


def readme_first_command() -> list[str]:
    """The ``prefect-sora generate ...`` part of the README's first bash block, as argv."""
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None, "the README has no bash block"
    (step,) = [part for part in block.group(1).split("&&") if "prefect-sora generate" in part]
    argv = shlex.split(step)
    assert argv[0].endswith("/prefect-sora"), argv
    return [str(PREFECT_SORA), *argv[1:]]


def test_the_readme_first_command_stores_the_video_it_promises(tmp_path: Path) -> None:
    argv = readme_first_command()
    promise = re.search(
        r"\(`videos/video_….mp4`, (\d+)x(\d+), (\d+) s\) and what\s+it would have cost \((\$[\d.]+)\)",
        README.read_text(),
    )
    assert promise is not None, "the README no longer says what the first command prints"
    width, height, seconds, cost = int(promise[1]), int(promise[2]), float(promise[3]), promise[4]

    done = subprocess.run(argv, cwd=tmp_path, env=environment(tmp_path), capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    ((video_id, path),) = stored_paths(done.stdout)
    assert path == tmp_path / "videos" / f"{video_id}.mp4"
    assert probe(path) == (width, height, seconds)
    assert f"cost {cost}" in done.stdout


def test_no_credentials_exits_2_from_the_installed_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(PREFECT_SORA), "generate", "A red kite"],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "SORA_API_KEY" in message and "--emulator" in message and "--block" in message
    assert "Traceback" not in done.stderr
