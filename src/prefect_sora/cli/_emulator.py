"""`prefect-sora emulator`: serve the local Sora 2 API emulator until interrupted.

Kept free of Prefect imports: the emulator runs in users' CI, where start-up time counts.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._server import serve


def _pairs(option: str, values: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, target = value.partition("=")
        if not sep or not name or not target:
            raise typer.BadParameter(f"{option} takes NAME=VALUE, got {value!r}")
        pairs[name] = target
    return pairs


def emulator(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind (0 picks a free one)."),
    job_seconds: float = typer.Option(
        5.0, help="Every job (without faults) completes exactly this long after creation."
    ),
    seed: int = typer.Option(0, help="Seed for job plans and request faults."),
    api_key: str | None = typer.Option(None, help="Accept only this bearer token (default: any non-empty one)."),
    poll_after_ms: int | None = typer.Option(
        None, help="openai-poll-after-ms on unfinished jobs (default: until the job's planned end; 0: none)."
    ),
    content_ttl_seconds: float | None = typer.Option(
        None, help="Content expires this long after completion (default: 3600; azure profile 86400)."
    ),
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
    profile: str | None = typer.Option(
        None, help="Gateway to impersonate: openai, apiyi (default), azure (/openai/v1, api-key header), litellm."
    ),
    rpm: int | None = typer.Option(None, help="Requests per minute per key (token bucket); past it, 429."),
    rpm_burst: int | None = typer.Option(None, help="Bucket size for --rpm (default: max(1, rpm // 10))."),
    max_running_jobs: int | None = typer.Option(
        None, help="Queued or in-progress jobs per key; another create is a 429 (azure profile: 2)."
    ),
    # Annotated: a list-typed default call is what ruff's B008 (rightly) flags.
    deployment: Annotated[
        list[str] | None,
        typer.Option(help="NAME=MODEL: an Azure deployment (repeatable; azure profile default sora-2=sora-2)."),
    ] = None,
    status_alias: Annotated[
        list[str] | None, typer.Option(help="STATUS=SENT, e.g. in_progress=processing (repeatable).")
    ] = None,
    timestamp_format: str | None = typer.Option(None, help="Timestamps as int (default), float, string or iso."),
    null_field: Annotated[
        list[str] | None, typer.Option(help="Send this Video field as null: seconds, size, quality, progress.")
    ] = None,
    omit_field: Annotated[list[str] | None, typer.Option(help="Leave this Video field out (repeatable).")] = None,
    error_envelope: str | None = typer.Option(
        None, help="Error body shape: openai (default), string, message, msg, detail or text."
    ),
    retry_after_headers: bool = typer.Option(True, help="Send retry-after / retry-after-ms with 429s."),
) -> None:
    """Serve the Sora 2 API emulator at http://HOST:PORT/v1 (azure: /openai/v1) until interrupted."""
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
        "profile": profile,
        "rpm": rpm,
        "rpm_burst": rpm_burst,
        "max_running_jobs": max_running_jobs,
        "deployments": _pairs("--deployment", deployment) if deployment else None,
        "status_aliases": _pairs("--status-alias", status_alias) if status_alias else None,
        "timestamp_format": timestamp_format,
        "null_fields": null_field,
        "omit_fields": omit_field,
        "error_envelope": error_envelope,
        "retry_after_headers": retry_after_headers,
    }
    try:
        # Options left out are not passed, so the profile's defaults apply to them.
        config = EmulatorConfig(**{name: value for name, value in settings.items() if value is not None})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    def announce(base_url: str) -> None:
        typer.echo(f"Sora 2 API emulator serving {base_url} (Ctrl-C to stop)")
        root = base_url.removesuffix("/v1").removesuffix("/openai")
        typer.echo(f"Admin: {root}/_emulator/stats")

    serve(config, host=host, port=port, on_ready=announce)
