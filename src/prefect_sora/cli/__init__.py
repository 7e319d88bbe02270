"""The `prefect-sora` command line: generate, batch, estimate and emulator.

Exit codes: 0 done; 2 bad input or no credentials; 3 refused by the budget;
4 the API or a job failed (for a batch: at least one item not stored);
130 interrupted.
"""

from __future__ import annotations

import os
import sys

import typer

from prefect_sora.cli._emulator import emulator
from prefect_sora.cli._estimate import estimate
from prefect_sora.cli._generate import batch, generate

app = typer.Typer(
    name="prefect-sora",
    help="Generate Sora 2 videos with Prefect, estimate their cost, or run the local emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate)
app.command("batch")(batch)
app.command("estimate")(estimate)
app.command("emulator")(emulator)


def main() -> None:
    """Console-script entry point."""
    # Prefect configures its console logging when first imported: keep its run
    # logs (which still reach the Prefect API) off the terminal unless --verbose;
    # the command prints its own progress, summary and errors.
    if not {"-v", "--verbose"} & set(sys.argv[1:]):
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app()
