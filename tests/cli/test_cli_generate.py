"""``prefect-sora generate``: a stored MP4 and its cost; credentials from a block, the environment or the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import probe, stored_paths
from pydantic import SecretStr
from typer.testing import Result

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator

Run = Callable[..., Result]


def test_generate_on_the_emulator_stores_an_mp4_and_prints_where_and_the_cost(run: Run, tmp_path: Path) -> None:
    result = run(
        "generate",
        "A koi pond at dawn",
        "--size",
        "1280x720",
        "--emulator",
        "--emulator-job-seconds",
        "0.2",
        "--out",
        "clips/",
    )

    assert result.exit_code == 0, result.output
    ((video_id, path),) = stored_paths(result.stdout)
    assert path == tmp_path / "clips" / f"{video_id}.mp4"
    assert probe(path) == (1280, 720, 4.0)
    assert "cost $0.40 (estimated $0.40)" in result.stdout
    assert f"{path.stat().st_size:,} bytes" in result.stdout


def test_generate_reads_the_key_and_base_url_from_the_environment(
    run: Run, sora_emulator: Emulator, api_key: str, tmp_path: Path
) -> None:
    env = {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}

    result = run("generate", "A red kite", "--json", "--out", f"{tmp_path}/out/", env=env)

    assert result.exit_code == 0, result.output
    video = json.loads(result.stdout)
    assert video["status"] == "stored" and video["actual_usd"] == "0.40"
    assert probe(Path(video["url"].removeprefix("file://"))) == (720, 1280, 4.0)
    assert sora_emulator.stats()["creates"] == 1, "the job went to the emulator named by SORA_BASE_URL"
    assert api_key not in result.output


def test_generate_uses_a_saved_block_by_name(run: Run, sora_emulator: Emulator, api_key: str) -> None:
    SoraCredentials(api_key=api_key, base_url=sora_emulator.base_url).save("cli-saved-block", overwrite=True)

    result = run("generate", "A red kite", "--block", "cli-saved-block")

    assert result.exit_code == 0, result.output
    ((video_id, path),) = stored_paths(result.stdout)
    assert path.exists()
    assert sora_emulator.stats()["creates"] == 1
    assert sora_emulator.plan(video_id)["outcome"] == "complete"
    assert api_key not in result.output


def test_a_refused_key_exits_4_without_printing_it(run: Run, api_key: str) -> None:
    with Emulator(job_seconds=0.2, api_key="sk-the-right-one") as emulator:
        result = run("generate", "A red kite", env={"SORA_API_KEY": api_key, "SORA_BASE_URL": emulator.base_url})

    assert result.exit_code == 4
    assert "AuthenticationFailed" in result.stderr
    assert api_key not in result.output


def test_no_credentials_at_all_exits_2_saying_how_to_provide_them(run: Run) -> None:
    result = run("generate", "A red kite")

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "--block" in message and "SORA_API_KEY" in message and "--emulator" in message


def test_a_budget_below_the_estimate_exits_3_before_any_request(
    run: Run, sora_emulator: Emulator, api_key: str
) -> None:
    env = {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}

    result = run("generate", "A red kite", "--seconds", "8", "--max-cost-usd", "0.5", env=env)

    assert result.exit_code == 3
    assert "$0.80" in result.stderr and "nothing was submitted" in result.stderr
    assert sora_emulator.stats()["requests_total"] == 0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--seconds", "10"], "seconds"),
        (["--size", "640x480"], "size"),
        (["--model", "sora-3"], "model"),
    ],
)
def test_bad_parameters_exit_2_naming_the_parameter_before_any_request(
    run: Run, sora_emulator: Emulator, api_key: str, args: list[str], named: str
) -> None:
    env = {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}

    result = run("generate", "A red kite", *args, env=env)

    assert result.exit_code == 2, result.output
    assert f"Invalid {named}=" in result.stderr
    assert sora_emulator.stats()["requests_total"] == 0


def test_an_error_is_printed_as_written_never_read_as_rich_markup(
    run: Run, sora_emulator: Emulator, api_key: str
) -> None:
    env = {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}

    result = run("generate", "A red kite", "--model", "sora[/]-[bold]x", env=env)

    assert result.exit_code == 2, result.output
    assert "sora[/]-[bold]x" in result.stderr


def test_an_unknown_block_name_exits_2_naming_it(run: Run) -> None:
    result = run("generate", "A red kite", "--block", "no-such-block")

    assert result.exit_code == 2, result.output
    assert "Invalid --block='no-such-block'" in " ".join(result.stderr.split())


def test_a_plain_http_remote_base_url_exits_2_without_printing_the_key(run: Run, api_key: str) -> None:
    result = run("generate", "A red kite", env={"SORA_API_KEY": api_key, "SORA_BASE_URL": "http://api.example.com/v1"})

    assert result.exit_code == 2, result.output
    assert "Invalid base_url='http://api.example.com/v1'" in " ".join(result.stderr.split())
    assert api_key not in result.output


def test_a_saved_block_with_a_plain_http_remote_url_exits_2_naming_the_field_and_the_fix(
    run: Run, api_key: str
) -> None:
    # As a Prefect UI form saves it: unchecked. Prefect's own load error says only "failed validation".
    SoraCredentials.model_construct(api_key=SecretStr(api_key), base_url="http://api.example.com/v1").save(
        "cli-over-http", overwrite=True
    )

    result = run("generate", "A red kite", "--block", "cli-over-http")

    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "Invalid base_url='http://api.example.com/v1'" in message and "allow_insecure_http" in message
    assert api_key not in result.output
