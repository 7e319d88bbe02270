"""`prefect-sora emulator`: serve the local Sora 2 API emulator until interrupted."""

from __future__ import annotations

import typer


def emulator(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    job_seconds: float = typer.Option(5.0, help="Every job completes exactly this long after creation."),
) -> None:
    """Serve the Sora 2 API emulator at http://HOST:PORT/v1 until interrupted."""
    raise typer.Exit(code=2)  # filled in by the emulator work
