"""The `prefect-sora` command line: generate, batch, estimate and emulator."""

from __future__ import annotations

import typer

from prefect_sora.cli.emulator import emulator

app = typer.Typer(
    name="prefect-sora",
    help="Generate Sora 2 videos with Prefect, estimate their cost, or run the local emulator.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("emulator")(emulator)


def main() -> None:
    """Console-script entry point."""
    app()
