"""``prefect-sora estimate``: the price of videos at list prices, with no request made."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import Result

Run = Callable[..., Result]


def test_estimate_prints_the_total(run: Run) -> None:
    result = run("estimate", "--model", "sora-2-pro", "--size", "1920x1080", "--seconds", "8", "--count", "3")

    assert result.exit_code == 0
    assert result.stdout.strip() == "3 x sora-2-pro 1920x1080 (1080p) x 8s at $0.70/s = $16.80"


def test_estimate_as_json(run: Run) -> None:
    result = run("estimate", "--model", "sora-2-pro", "--size", "1024x1792", "--seconds", "12", "--json")

    assert result.exit_code == 0
    estimate = json.loads(result.stdout)
    assert (estimate["total_usd"], estimate["usd_per_second"], estimate["tier"]) == ("6.00", "0.50", "1024p")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--size", "640x480"], "size"),
        (["--model", "sora-2", "--size", "1920x1080"], "size"),
        (["--seconds", "10"], "seconds"),
        (["--model", "sora-3"], "model"),
    ],
)
def test_estimate_refuses_bad_input_with_exit_2(run: Run, args: list[str], named: str) -> None:
    result = run("estimate", *args)

    assert result.exit_code == 2
    assert f"Invalid {named}=" in result.stderr
