"""`prefect-sora spend-limit create|show`: a spend limit on the Prefect server that every process on a key shares."""

from __future__ import annotations

import asyncio
import json

import typer

from prefect_sora._spend import check_name, check_usd, parse_window
from prefect_sora.cli._exit import exit_codes
from prefect_sora.tasks._spend import SpendLimitState, create_spend_limit, read_spend_limit

spend_limit = typer.Typer(
    name="spend-limit",
    help="A spend limit on the Prefect server: name it in SoraCredentials(spend_limit_name=NAME) and every "
    "flow on the key reserves each job's estimate on it before the create.",
    no_args_is_help=True,
)


def _window(seconds: float) -> str:
    """A window as it was most likely written: 24h, 30m, 7d, else seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _print(state: SpendLimitState, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "name": state.name,
                    "limit_usd": str(state.limit_usd),
                    "window_seconds": state.window_seconds,
                    "spent_usd": str(state.spent_usd),
                    "remaining_usd": str(state.remaining_usd),
                }
            )
        )
        return
    typer.echo(
        f"Spend limit {state.name}: ${state.limit_usd} per {_window(state.window_seconds)}; "
        f"spent ${state.spent_usd} in the window, ${state.remaining_usd} remaining"
    )


@spend_limit.command("create")
def create(
    name: str = typer.Argument(..., help="The limit's name (letters, digits, '.', '_', '-')."),
    usd: str = typer.Option(..., "--usd", help="Most US dollars reserved within one window, e.g. 100."),
    window: str = typer.Option("24h", "--window", help="The rolling window: 24h, 30m, 7d, 1h30m or seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print the limit as JSON."),
) -> None:
    """Create spend limit NAME (or change an existing one's amount and window, keeping what was spent)."""
    with exit_codes():
        checked = check_name(name, param="name")
        amount = check_usd(usd, param="usd")
        seconds = parse_window(window, param="window")
        state = asyncio.run(create_spend_limit(checked, usd_limit=amount, window_seconds=seconds))
    _print(state, as_json)


@spend_limit.command("show")
def show(
    name: str = typer.Argument(..., help="The limit's name."),
    as_json: bool = typer.Option(False, "--json", help="Print the limit as JSON."),
) -> None:
    """Show spend limit NAME: its amount and window, what the window has counted, and what remains."""
    with exit_codes():
        state = asyncio.run(read_spend_limit(name, param="name"))
    _print(state, as_json)
