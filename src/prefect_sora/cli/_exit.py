"""Exit codes of the command line, and turning errors into them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from prefect_sora._errors import BudgetExceeded, InvalidParameter, InvalidRequest, SoraError

BAD_INPUT = 2
BUDGET = 3
API_FAILURE = 4
INTERRUPTED = 130

# soft_wrap: an error is one line however narrow the terminal, so scripts can grep it whole.
err = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def exit_codes() -> Iterator[None]:
    """Print an error as one clear line and exit with the code for its kind."""
    try:
        yield
    except BudgetExceeded as exc:
        err.print(f"[bold red]Refused:[/] {escape(str(exc))}")
        raise typer.Exit(BUDGET) from None
    except (InvalidParameter, InvalidRequest) as exc:
        err.print(f"[bold red]Invalid input:[/] {escape(str(exc))}")
        raise typer.Exit(BAD_INPUT) from None
    except SoraError as exc:
        # What the gateway said is text, never Rich markup: "[policy]" must print as written.
        kind = escape(getattr(exc, "reason", None) or type(exc).__name__)
        err.print(f"[bold red]{kind}:[/] {escape(str(exc))}")
        raise typer.Exit(API_FAILURE) from None
    except KeyboardInterrupt:
        err.print("Interrupted.")
        raise typer.Exit(INTERRUPTED) from None
