"""``prefect-sora fetch``: a finished video (or its thumbnail or spritesheet) stored whole, or nothing stored.

Plus the installed console script as a real process, and the key on no output of any command.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import probe
from prefect.settings import PREFECT_API_URL
from test_cli_video import create, finished, one_line_failure
from typer.testing import Result

from prefect_sora.emulator import Emulator

Run = Callable[..., Result]
PREFECT_SORA = Path(sys.executable).parent / "prefect-sora"
IMAGE_MAGIC = (b"RIFF", b"\x89PNG", b"\xff\xd8\xff")


@pytest.fixture
def env(sora_emulator: Emulator, api_key: str) -> dict[str, str]:
    return {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}


@pytest.fixture
def done_id(sora_emulator: Emulator) -> str:
    """A completed 8-second 1280x720 job."""
    video_id = create(sora_emulator)
    finished(sora_emulator, video_id)
    return video_id


def everything_under(folder: Path) -> list[str]:
    """Every file below ``folder``, hidden partials included."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


def test_fetch_stores_the_whole_mp4_and_says_where(
    run: Run, sora_emulator: Emulator, env: dict[str, str], done_id: str, tmp_path: Path
) -> None:
    text = run("fetch", done_id, "--out", "clips/", env=env)
    as_json = run("fetch", done_id, "--out", f"{tmp_path}/exact/name.mp4", "--json", env=env)

    assert text.exit_code == 0, text.output
    path = tmp_path / "clips" / f"{done_id}.mp4"
    assert f"Stored video of {done_id} at file://{path}" in text.stdout
    assert probe(path) == (1280, 720, 8.0)
    stored = json.loads(as_json.stdout)
    exact = tmp_path / "exact" / "name.mp4"
    assert stored["url"] == f"file://{exact}" and stored["video_id"] == done_id
    assert stored["bytes"] == exact.stat().st_size == path.stat().st_size
    assert stored["sha256"] == hashlib.sha256(exact.read_bytes()).hexdigest()
    assert everything_under(tmp_path / "clips") == [f"{done_id}.mp4"], "no partial left beside it"
    assert sora_emulator.stats()["downloads_by_variant"] == {"video": 2}


@pytest.mark.parametrize("variant", ["thumbnail", "spritesheet"])
def test_fetch_a_variant_stores_an_image_named_for_it(
    run: Run, env: dict[str, str], done_id: str, tmp_path: Path, variant: str
) -> None:
    result = run("fetch", done_id, "--out", "images/", "--variant", variant, "--json", env=env)

    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    (name,) = everything_under(tmp_path / "images")
    assert name.startswith(f"{done_id}.{variant}.")
    assert stored["variant"] == variant and stored["content_type"].startswith("image/")
    assert (tmp_path / "images" / name).read_bytes().startswith(IMAGE_MAGIC)


def test_fetch_of_expired_content_exits_6_and_writes_nothing(
    run: Run, sora_emulator: Emulator, env: dict[str, str], done_id: str, tmp_path: Path
) -> None:
    sora_emulator.expire(done_id)

    result = run("fetch", done_id, "--out", "clips/", env=env)

    one_line_failure(result, 6, "Expired", done_id, "410")
    assert everything_under(tmp_path / "clips") == []


def test_fetch_of_a_failed_job_exits_7_with_its_reason_without_asking_for_content(
    run: Run, sora_emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    video_id = create(sora_emulator, "A storm [emulator:fail=moderation_blocked]")
    finished(sora_emulator, video_id)

    result = run("fetch", video_id, "--out", "clips/", env=env)

    one_line_failure(result, 7, "Job failed", "moderation_blocked", video_id)
    assert everything_under(tmp_path / "clips") == []
    assert sora_emulator.stats()["downloads_total"] == 0


def test_fetch_of_an_unfinished_job_exits_4_pointing_at_wait(
    run: Run, sora_emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    video_id = create(sora_emulator, "Forever [emulator:stuck]")

    result = run("fetch", video_id, "--out", "clips/", env=env)

    one_line_failure(result, 4, "Not ready", f"prefect-sora wait {video_id}")
    assert everything_under(tmp_path / "clips") == []


def test_fetch_cut_short_exits_4_and_leaves_no_partial(
    run: Run, sora_emulator: Emulator, env: dict[str, str], done_id: str, tmp_path: Path
) -> None:
    sora_emulator.inject("truncate", endpoint="content")

    result = run("fetch", done_id, "--out", "clips/", env=env)

    assert result.exit_code == 4, result.output
    assert result.stdout == ""
    assert everything_under(tmp_path / "clips") == []


def test_fetch_of_an_unknown_id_exits_5(run: Run, env: dict[str, str], tmp_path: Path) -> None:
    one_line_failure(run("fetch", "video_0000000000000000", "--out", "clips/", env=env), 5, "No such video")
    assert everything_under(tmp_path / "clips") == []


def test_fetch_refuses_an_unknown_variant_before_any_request(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    result = run("fetch", "video_0000000000000000", "--out", "clips/", "--variant", "poster", env=env)

    one_line_failure(result, 2, "--variant")
    assert sora_emulator.stats()["requests_total"] == 0


def test_the_key_is_on_no_output_of_any_command_success_or_failure(
    run: Run, sora_emulator: Emulator, env: dict[str, str], api_key: str, done_id: str
) -> None:
    failed = create(sora_emulator, "A storm [emulator:fail]")
    outputs = [
        run(*args, env=env)
        for args in (
            ("status", done_id),
            ("status", done_id, "--json"),
            ("wait", done_id),
            ("wait", failed, "--json"),
            ("fetch", done_id, "--out", "clips/"),
            ("fetch", "video_0000000000000000", "--out", "clips/"),
            ("list",),
            ("list", "--json"),
            ("status", "video_0000000000000000"),
        )
    ]

    assert [result.exit_code for result in outputs] == [0, 0, 0, 7, 0, 5, 0, 0, 5]
    assert all(api_key not in result.stdout + result.stderr for result in outputs)


def test_a_refused_key_exits_4_without_printing_it(run: Run, api_key: str) -> None:
    with Emulator(job_seconds=0.2, api_key="sk-the-right-one") as emulator:
        result = run(
            "status", "video_0000000000000000", env={"SORA_API_KEY": api_key, "SORA_BASE_URL": emulator.base_url}
        )

    one_line_failure(result, 4, "AuthenticationFailed")
    assert api_key not in result.stderr


def test_the_installed_command_fetches_printing_only_json_on_stdout(
    sora_emulator: Emulator, api_key: str, done_id: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_", "PREFECT_"))}
    env.update(
        SORA_API_KEY=api_key,
        SORA_BASE_URL=sora_emulator.base_url,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PREFECT_HOME=str(tmp_path / ".prefect"),
    )

    done = subprocess.run(
        [str(PREFECT_SORA), "fetch", done_id, "--out", "videos/", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    stored = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert stored["url"] == f"file://{tmp_path / 'videos' / f'{done_id}.mp4'}"
    assert probe(tmp_path / "videos" / f"{done_id}.mp4") == (1280, 720, 8.0)
    assert api_key not in done.stdout + done.stderr
