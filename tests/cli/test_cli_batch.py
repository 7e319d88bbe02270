"""``prefect-sora batch FILE``: JSON Lines or CSV in, every video stored or exit 4; bad lines named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import RESUME_KEY, batch_run_state, probe
from typer.testing import Result

from prefect_sora.emulator import Emulator

Run = Callable[..., Result]


def test_a_json_lines_batch_on_the_emulator_stores_every_video(run: Run, tmp_path: Path) -> None:
    lines = [
        {"prompt": "A paper boat on a rainy street"},
        {"prompt": "Northern lights over a frozen lake", "model": "sora-2", "seconds": "4", "size": "1280x720"},
    ]
    (tmp_path / "requests.jsonl").write_text("".join(json.dumps(line) + "\n\n" for line in lines))

    result = run("batch", "requests.jsonl", "--emulator", "--emulator-job-seconds", "0.2", "--out", "clips")

    assert result.exit_code == 0, result.output
    assert "2 of 2 stored; cost $0.80 (estimated $0.80)" in result.stdout
    shapes = sorted(probe(path) for path in (tmp_path / "clips").glob("video_*.mp4"))
    assert shapes == [(720, 1280, 4.0), (1280, 720, 4.0)]
    key = RESUME_KEY.search(result.stdout)
    assert key is not None, result.stdout
    assert batch_run_state(key[1]) == "COMPLETED"


def test_a_csv_batch_with_a_failed_item_stores_the_others_and_exits_4(run: Run, tmp_path: Path) -> None:
    (tmp_path / "requests.csv").write_text(
        "prompt,model,seconds,size\n"
        '"A paper boat, folded from a map",sora-2,4,1280x720\n'
        "Something forbidden [emulator:fail=moderation_blocked],,,\n"
        "Dew on a spider web,sora-2-pro,,\n"
    )

    result = run("batch", "requests.csv", "--emulator", "--emulator-job-seconds", "0.2", "--json", "--out", "clips/")

    assert result.exit_code == 4
    batch = json.loads(result.stdout)
    assert [item["status"] for item in batch["items"]] == ["stored", "failed", "stored"]
    assert batch["items"][0]["prompt"] == "A paper boat, folded from a map"
    assert batch["items"][1]["video_id"].startswith("video_")
    assert batch["items"][1]["error_code"] == "moderation_blocked"
    assert batch["actual_usd"] == "1.60"  # 0.40 + 1.20; the failed job costs nothing
    assert len(list((tmp_path / "clips").glob("video_*.mp4"))) == 2
    # The exit code and the Prefect UI agree: the batch's flow run is Failed, not green.
    assert batch_run_state(batch["idempotency_key"]) == "FAILED"


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"prompt": "A paper boat"}\n{"prompt": "A kite",\n', "requests.jsonl:2"),
        ('{"prompt": "A paper boat"}\n\n{"prompt": "A kite", "seconds": "10"}\n', "requests.jsonl:3 seconds"),
        ('{"prompt": "A paper boat", "colour": "red"}\n', "requests.jsonl:1 colour"),
        ("", "file"),
    ],
)
def test_a_malformed_batch_file_exits_2_naming_the_line_before_any_request(
    run: Run, sora_emulator: Emulator, api_key: str, tmp_path: Path, content: str, where: str
) -> None:
    (tmp_path / "requests.jsonl").write_text(content)
    env = {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}

    result = run("batch", "requests.jsonl", env=env)

    assert result.exit_code == 2, result.output
    assert f"Invalid {where}" in " ".join(result.stderr.split())
    assert sora_emulator.stats()["requests_total"] == 0


def test_a_malformed_csv_row_is_named_by_its_line(run: Run, tmp_path: Path) -> None:
    (tmp_path / "requests.csv").write_text("prompt,model,seconds,size\nA paper boat,sora-2,4,\nA kite,sora-2,10,\n")

    result = run("batch", "requests.csv", "--emulator")

    assert result.exit_code == 2
    assert "Invalid requests.csv:3 seconds" in " ".join(result.stderr.split())


def test_a_batch_over_budget_in_total_exits_3_before_any_request(
    run: Run, sora_emulator: Emulator, api_key: str, tmp_path: Path
) -> None:
    (tmp_path / "requests.jsonl").write_text("".join(f'{{"prompt": "Take {i}"}}\n' for i in range(3)))
    env = {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}

    result = run("batch", "requests.jsonl", "--max-cost-usd", "1", env=env)

    assert result.exit_code == 3
    assert "$1.20" in result.stderr
    assert sora_emulator.stats()["requests_total"] == 0
