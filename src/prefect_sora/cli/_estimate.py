"""`prefect-sora estimate`: what videos will cost, with no request made."""

from __future__ import annotations

import json

import typer

from prefect_sora._pricing import estimate as price
from prefect_sora._pricing import price_table
from prefect_sora._validation import check_model, check_size, normalize_seconds
from prefect_sora.cli._exit import exit_codes


def estimate(
    model: str = typer.Option("sora-2", help="sora-2 or sora-2-pro."),
    size: str = typer.Option("720x1280", help="WIDTHxHEIGHT within the model's tiers."),
    seconds: str = typer.Option("4", help="4, 8 or 12."),
    count: int = typer.Option(1, min=0, help="How many videos."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Estimate the cost of COUNT videos at list prices (USD per second by model and tier)."""
    with exit_codes():
        table = price_table()
        checked = check_model(model, table)
        result = price(checked, check_size(size, checked, table), int(normalize_seconds(seconds)), count, table)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json")))
        return
    typer.echo(
        f"{result.count} x {result.model} {result.size} ({result.tier}) x {result.seconds}s "
        f"at ${result.usd_per_second}/s = ${result.total_usd}"
    )
