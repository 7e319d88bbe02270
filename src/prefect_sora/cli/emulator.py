"""`prefect-sora emulator`: serve the local Sora 2 API emulator until interrupted.

Kept free of Prefect imports: the emulator runs in users' CI, where start-up time counts.
"""

from __future__ import annotations

from typing import Any

import typer

from prefect_sora.emulator.config import EmulatorConfig
from prefect_sora.emulator.server import serve


def emulator(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind (0 picks a free one)."),
    job_seconds: float = typer.Option(
        5.0, help="Every job (without faults) completes exactly this long after creation."
    ),
    seed: int = typer.Option(0, help="Seed for job plans and request faults."),
    api_key: str | None = typer.Option(None, help="Accept only this bearer token (default: any non-empty one)."),
    poll_after_ms: int | None = typer.Option(None, help="Send openai-poll-after-ms on unfinished polls."),
    content_ttl_seconds: float = typer.Option(3600.0, help="Content expires this long after completion."),
    max_running: int | None = typer.Option(None, help="Jobs generating at once; the rest queue."),
    failure_rate: float = typer.Option(0.0, help="Share of jobs that end failed."),
    stuck_rate: float = typer.Option(0.0, help="Share of jobs that stay in_progress forever."),
    rate_limit_rate: float = typer.Option(0.0, help="Share of requests answered 429."),
    retry_after_seconds: float = typer.Option(1.0, help="retry-after sent with a 429."),
    error_burst_rate: float = typer.Option(0.0, help="Share of requests starting a 5xx burst."),
    error_burst_length: int = typer.Option(3, help="Requests in one 5xx burst."),
    reset_rate: float = typer.Option(0.0, help="Share of requests whose connection is reset."),
    slow_rate: float = typer.Option(0.0, help="Share of requests delayed by --slow-seconds."),
    slow_seconds: float = typer.Option(2.0, help="Delay of a slow request."),
    truncate_rate: float = typer.Option(0.0, help="Share of downloads cut short."),
    lost_rate: float = typer.Option(0.0, help="Share of requests carried out whose answer is then lost (reset)."),
    synthetic_content_bytes: int | None = typer.Option(
        None, help="Serve every video as a synthetic body of this many bytes."
    ),
) -> None:
    """Serve the Sora 2 API emulator at http://HOST:PORT/v1 until interrupted."""
    settings: dict[str, Any] = {
        "seed": seed,
        "job_seconds": job_seconds,
        "api_key": api_key,
        "poll_after_ms": poll_after_ms,
        "content_ttl_seconds": content_ttl_seconds,
        "max_running": max_running,
        "failure_rate": failure_rate,
        "stuck_rate": stuck_rate,
        "rate_limit_rate": rate_limit_rate,
        "retry_after_seconds": retry_after_seconds,
        "error_burst_rate": error_burst_rate,
        "error_burst_length": error_burst_length,
        "reset_rate": reset_rate,
        "slow_rate": slow_rate,
        "slow_seconds": slow_seconds,
        "truncate_rate": truncate_rate,
        "lost_rate": lost_rate,
        "synthetic_content_bytes": synthetic_content_bytes,
    }
    try:
        config = EmulatorConfig(**settings)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    def announce(base_url: str) -> None:
        typer.echo(f"Sora 2 API emulator serving {base_url} (Ctrl-C to stop)")
        typer.echo(f"Admin: {base_url.removesuffix('/v1')}/_emulator/stats")

    serve(config, host=host, port=port, on_ready=announce)
