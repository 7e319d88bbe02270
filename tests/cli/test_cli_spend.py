"""prefect-sora spend-limit create and show, against the session's Prefect server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from prefect import get_client
from prefect.exceptions import ObjectNotFound
from typer.testing import Result


@pytest.fixture
def name() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


def _exists(gcl_name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(gcl_name)
        except ObjectNotFound:
            return False
    return True


def test_create_makes_a_limit_in_cents_over_the_window_and_show_reads_it_back(
    run: Callable[..., Result], name: str
) -> None:
    created = run("spend-limit", "create", name, "--usd", "100", "--window", "24h")

    assert created.exit_code == 0, created.stderr
    assert created.stdout.strip() == (
        f"Spend limit {name}: $100.00 per 1d; spent $0.00 in the window, $100.00 remaining"
    )
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(f"sora-spend:{name}")
    assert (limit.limit, limit.active_slots, limit.active) == (10000, 0, True)
    assert limit.slot_decay_per_second == pytest.approx(10000 / 86400)

    shown = run("spend-limit", "show", name, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "name": name,
        "limit_usd": "100.00",
        "window_seconds": 86400.0,
        "spent_usd": "0.00",
        "remaining_usd": "100.00",
    }


def test_show_of_a_missing_limit_names_the_command_that_creates_it(run: Callable[..., Result], name: str) -> None:
    shown = run("spend-limit", "show", name)

    assert shown.exit_code == 2
    assert f"no spend limit '{name}'" in shown.stderr
    assert f"prefect-sora spend-limit create {name} --usd 100 --window 24h" in shown.stderr


@pytest.mark.parametrize(
    ("usd", "window", "param"),
    [
        ("-5", "24h", "usd"),
        ("0", "24h", "usd"),
        ("nan", "24h", "usd"),
        ("inf", "24h", "usd"),
        ("-inf", "24h", "usd"),
        ("a lot", "24h", "usd"),
        ("100", "tomorrow", "window"),
        ("100", "0s", "window"),
        ("100", "-1h", "window"),
        ("100", "nan", "window"),
        ("100", "24hours", "window"),
        ("100", "400d", "window"),
    ],
)
def test_a_bad_amount_or_window_is_refused_and_nothing_is_created(
    run: Callable[..., Result], name: str, usd: str, window: str, param: str
) -> None:
    refused = run("spend-limit", "create", name, "--usd", usd, "--window", window)

    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Invalid input: Invalid {param}=")
    assert not _exists(f"sora-spend:{name}")


def test_a_bad_name_is_refused(run: Callable[..., Result]) -> None:
    refused = run("spend-limit", "create", "a/b", "--usd", "10")

    assert refused.exit_code == 2 and "Invalid name='a/b'" in refused.stderr


def test_windows_read_as_written(run: Callable[..., Result], name: str) -> None:
    created = run("spend-limit", "create", name, "--usd", "12.5", "--window", "1h30m", "--json")

    assert created.exit_code == 0, created.stderr
    assert json.loads(created.stdout)["window_seconds"] == 5400.0
    assert json.loads(created.stdout)["limit_usd"] == "12.50"
