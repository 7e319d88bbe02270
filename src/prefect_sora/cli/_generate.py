"""`prefect-sora generate` and `prefect-sora batch`: run the flows from the shell."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from prefect_sora._errors import BatchIncomplete, InvalidParameter
from prefect_sora._validation import normalize_seconds
from prefect_sora.cli._exit import API_FAILURE, exit_codes
from prefect_sora.cli._run import run_flow

out_console = Console(highlight=False, soft_wrap=True)

_FILE = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines or CSV: prompt, model, seconds, size.")
_BLOCK = typer.Option(None, "--block", help="Name of a saved SoraCredentials block.")
_BASE_URL = typer.Option(None, "--base-url", help="API root including /v1 (overrides the block or SORA_BASE_URL).")
_EMULATOR = typer.Option(False, "--emulator", help="Run on an in-process emulator (no key, no cost).")
_JOB_SECONDS = typer.Option(3.0, "--emulator-job-seconds", help="How long each emulated job takes.")
_KEY = typer.Option(None, "--idempotency-key", help="Rerun with the same key to resume without paying twice.")
_TIMEOUT = typer.Option(3600.0, "--timeout", help="Longest wait for a job, in seconds.")
_JSON = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
_VERBOSE = typer.Option(False, "--verbose", "-v", help="Show Prefect's run logs.")


def generate(
    prompt: str = typer.Argument(..., help="What to generate."),
    model: str = typer.Option("sora-2", help="sora-2 or sora-2-pro."),
    seconds: str = typer.Option("4", help="4, 8 or 12."),
    size: str = typer.Option("720x1280", help="WIDTHxHEIGHT within the model's tiers."),
    out: str = typer.Option("videos/", help="fsspec URL of a folder (ending in /) or of the file to write."),
    max_cost_usd: float | None = typer.Option(None, help="Refuse if the estimate is higher (exit 3)."),
    block: str | None = _BLOCK,
    base_url: str | None = _BASE_URL,
    emulator: bool = _EMULATOR,
    emulator_job_seconds: float = _JOB_SECONDS,
    idempotency_key: str | None = _KEY,
    timeout: float = _TIMEOUT,
    as_json: bool = _JSON,
    verbose: bool = _VERBOSE,
) -> None:
    """Generate one video with the text_to_video flow and store it under --out."""
    with exit_codes():
        from prefect_sora.flows import text_to_video

        # The flow's signature only takes "4", "8" or "12": check here, or Prefect's
        # ParameterTypeError escapes as a traceback with exit code 1 instead of 2.
        checked_seconds = normalize_seconds(seconds)
        result = run_flow(
            lambda credentials: text_to_video(
                prompt,
                model=model,
                seconds=checked_seconds,
                size=size,
                out=out,
                max_cost_usd=max_cost_usd,
                credentials=credentials,
                idempotency_key=idempotency_key,
                timeout_seconds=timeout,
            ),
            videos=1,
            block=block,
            base_url=base_url,
            emulator=emulator,
            job_seconds=emulator_job_seconds,
            verbose=verbose,
        )
    if as_json:
        typer.echo(result.model_dump_json())
        return
    out_console.print(f"[bold green]Stored[/] {escape(str(result.video_id))} at {escape(str(result.url))}")
    out_console.print(
        f"{result.bytes:,} bytes, sha256 {result.sha256}; cost ${result.actual_usd} (estimated ${result.estimated_usd})"
    )


def batch(
    file: Path = _FILE,
    out: str = typer.Option("videos/", help="fsspec URL of the folder to store the videos in."),
    max_cost_usd: float | None = typer.Option(None, help="Refuse the whole batch if its estimate is higher (exit 3)."),
    concurrency: int = typer.Option(16, min=1, help="Most videos in flight at once."),
    block: str | None = _BLOCK,
    base_url: str | None = _BASE_URL,
    emulator: bool = _EMULATOR,
    emulator_job_seconds: float = _JOB_SECONDS,
    idempotency_key: str | None = _KEY,
    timeout: float = _TIMEOUT,
    as_json: bool = _JSON,
    verbose: bool = _VERBOSE,
) -> None:
    """Generate every video in FILE with the batch_text_to_video flow."""
    with exit_codes():
        from prefect_sora.flows import batch_text_to_video

        requests = read_requests(file)
        try:
            result = run_flow(
                lambda credentials: batch_text_to_video(
                    requests,
                    out=out,
                    max_cost_usd=max_cost_usd,
                    concurrency=concurrency,
                    credentials=credentials,
                    idempotency_key=idempotency_key,
                    timeout_seconds=timeout,
                ),
                videos=len(requests),
                block=block,
                base_url=base_url,
                emulator=emulator,
                job_seconds=emulator_job_seconds,
                verbose=verbose,
            )
        except BatchIncomplete as incomplete:
            # The flow run ended Failed; the items (stored ones too) are printed all the same.
            result = incomplete.result
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        table = Table("item", "status", "video id", "stored at / reason")
        for column in table.columns:
            column.overflow = "fold"
        for item in result.items:
            detail = item.url or (item.error or "")[:120]
            table.add_row(str(item.index), item.status, escape(item.video_id or "-"), escape(detail))
        out_console.print(table)
        out_console.print(
            f"{result.stored} of {len(result.items)} stored; cost ${result.actual_usd} "
            f"(estimated ${result.estimated_usd}); resume key {escape(result.idempotency_key)}"
        )
    if result.failed:
        raise typer.Exit(API_FAILURE)


def read_requests(file: Path) -> list[Any]:
    """Parse a batch file: JSON Lines (one object per line) or CSV with a header row."""
    from pydantic import ValidationError

    from prefect_sora._models import VideoRequest

    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".csv":
        rows: list[tuple[int, Any]] = [
            (number, {k: v for k, v in row.items() if v not in (None, "")})
            for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2)
        ]
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except ValueError as exc:
                    raise InvalidParameter(f"{file.name}:{number}", line[:80], "must be a JSON object") from exc
    requests = []
    for number, row in rows:
        try:
            requests.append(VideoRequest.model_validate(row))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "row"
            raise InvalidParameter(f"{file.name}:{number} {where}", problem.get("input"), problem["msg"]) from None
    if not requests:
        raise InvalidParameter("file", file.name, "holds no requests")
    return requests
