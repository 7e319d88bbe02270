"""Two processes racing on one spend limit on a real ``prefect server start``: never over it, all of it used."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from money_helpers import cents, gcl

from prefect_sora.emulator import Emulator

HERE = Path(__file__).parent
CLI = Path(sys.executable).parent / "prefect-sora"
PRICE = "0.40"  # one sora-2 720x1280 4 s video


def test_two_processes_never_pass_the_limit_together_and_leave_less_than_one_job_unused(
    sora_emulator: Emulator, prefect_server_process: dict[str, str], tmp_path: Path, limit_name: str
) -> None:
    env = dict(prefect_server_process)
    created = subprocess.run(
        [str(CLI), "spend-limit", "create", limit_name, "--usd", "3", "--window", "24h"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr

    # 12 videos wanted ($4.80), room for 7 ($2.80 of $3.00).
    start = time.time() + 12  # past both processes' imports, so their reservations overlap
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "race_batch.py"),
                sora_emulator.base_url,
                limit_name,
                f"{tmp_path}/p{i}/",
                f"{limit_name}-p{i}",
                str(start),
                "6",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [racer.communicate(timeout=300) for racer in racers]
    for racer, (_, stderr) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, stderr[-3000:]
    statuses = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]

    creates = sora_emulator.stats()["creates"]
    everything = statuses[0] + statuses[1]
    assert creates * cents(PRICE) <= cents("3.00")  # never over the limit together
    assert cents("3.00") - creates * cents(PRICE) < cents(PRICE)  # and all of it used: 7 videos
    assert creates == 7
    assert (everything.count("stored"), everything.count("refused")) == (7, 5)
    assert gcl(f"sora-spend:{limit_name}").active_slots == 7 * cents(PRICE)

    shown = subprocess.run(
        [str(CLI), "spend-limit", "show", limit_name, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert (state["spent_usd"], state["remaining_usd"]) == ("2.80", "0.20")
