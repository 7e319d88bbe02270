"""The `prefect-sora` command line: generate, batch, estimate, emulator, and status, wait, fetch, list by id.

Exit codes: 0 done; 2 bad input or no credentials; 3 refused by the budget;
4 the API or a job failed (for a batch: at least one item not stored; for
wait and fetch: the wait's deadline passed or the job is not finished yet;
for list: the gateway does not serve listing); 130 interrupted. For status,
wait and fetch by id: 5 no such video (404); 6 its content expired (410, or
status expired); 7 the job failed or was cancelled (not billed). ``status``
exits 0 whatever the job's status: it reports it.
"""

from __future__ import annotations

import os
import sys

import typer

from prefect_sora.cli._emulator import emulator
from prefect_sora.cli._estimate import estimate
from prefect_sora.cli._generate import batch, generate
from prefect_sora.cli._spend import spend_limit
from prefect_sora.cli._video import fetch, list_videos, status, wait

app = typer.Typer(
    name="prefect-sora",
    help="Generate Sora 2 videos with Prefect, estimate their cost, follow one by id, or run the local emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate)
app.command("batch")(batch)
app.command("estimate")(estimate)
app.command("emulator")(emulator)
app.command("status")(status)
app.command("wait")(wait)
app.command("fetch")(fetch)
app.command("list")(list_videos)
app.add_typer(spend_limit, name="spend-limit")


def main() -> None:
    """Console-script entry point."""
    # Prefect configures its console logging when first imported: keep its run
    # logs (which still reach the Prefect API) off the terminal unless --verbose;
    # the command prints its own progress, summary and errors.
    if not {"-v", "--verbose"} & set(sys.argv[1:]):
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app()
