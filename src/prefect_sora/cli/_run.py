"""What `generate` and `batch` share: credentials, the in-process emulator, quiet Prefect logs, progress."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from prefect_sora._errors import InvalidParameter
from prefect_sora.cli._exit import BAD_INPUT, err

if TYPE_CHECKING:
    from prefect_sora._models import Video
    from prefect_sora.blocks import SoraCredentials

R = TypeVar("R")

NO_CREDENTIALS = (
    "No credentials. Pass --block NAME (a saved SoraCredentials block), or set SORA_API_KEY "
    "(and SORA_BASE_URL for your gateway), or add --emulator to run on the local emulator."
)


@contextmanager
def credentials_for(
    *, block: str | None, base_url: str | None, use_emulator: bool, job_seconds: float
) -> Iterator[SoraCredentials]:
    """The credentials to run with, starting an in-process emulator for ``--emulator``."""
    import typer

    from prefect_sora.blocks import SoraCredentials

    with ExitStack() as stack:
        if use_emulator:
            from prefect_sora.emulator import Emulator

            emulator = stack.enter_context(Emulator(job_seconds=job_seconds))
            err.print(f"Emulator running at {emulator.base_url}")
            yield SoraCredentials(api_key="sk-emulator", base_url=emulator.base_url)
            return
        # Both failures below would otherwise escape as tracebacks with exit code 1.
        if block:
            from prefect_sora.flows._credentials import invalid_block

            try:
                # Block.load dispatches on the context; from this sync code it returns the block.
                credentials = cast("SoraCredentials", SoraCredentials.load(block))
            except ValueError as exc:
                raise InvalidParameter("--block", block, "no SoraCredentials block of that name is saved") from exc
            except RuntimeError as exc:  # Prefect's "failed validation": say which field and how to fix it
                raise invalid_block(block, exc) from None
            yield credentials.model_copy(update={"base_url": base_url}) if base_url else credentials
            return
        if not os.environ.get("SORA_API_KEY", "").strip():
            err.print(f"[bold red]{NO_CREDENTIALS}[/]")
            raise typer.Exit(BAD_INPUT)
        try:
            credentials = SoraCredentials.from_env(**({"base_url": base_url} if base_url else {}))
        except ValidationError as exc:
            raise _refusal(exc) from None
        yield credentials


def _refusal(exc: ValidationError) -> InvalidParameter:
    """The block's own InvalidParameter (e.g. a plain-http base URL), which pydantic wrapped."""
    error = exc.errors()[0].get("ctx", {}).get("error")
    if isinstance(error, InvalidParameter):
        return error
    return InvalidParameter("SORA_API_KEY / SORA_BASE_URL", "<hidden>", "do not make valid credentials")


@contextmanager
def quiet_prefect_console(verbose: bool) -> Iterator[None]:
    """Keep Prefect's run logs off the terminal (they still reach the Prefect API) unless --verbose."""
    if verbose:
        yield
        return
    # Logging is configured already (the command imported Prefect); lower the
    # console handlers for this run only. ``main`` covers what runs at exit.
    handlers = [
        handler
        for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "prefect_sora")
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
    ]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[Video], None]]:
    """A live bar on stderr, fed by every status change the waits see."""
    from prefect_sora._transport.waiting import progress_listener

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    seen: dict[str, float] = {}
    bar: TaskID = progress.add_task("Waiting for the video" if total == 1 else f"0 of {total} videos done", total=100)

    def listen(video: Video) -> None:
        seen[video.id] = 100.0 if video.is_terminal else video.progress
        if total == 1:
            progress.update(bar, completed=seen[video.id], description=f"{video.id} {video.status}")
        else:
            done = sum(1 for value in seen.values() if value >= 100.0)
            progress.update(bar, completed=sum(seen.values()) / total, description=f"{done} of {total} videos done")

    token = progress_listener.set(listen)
    try:
        with progress:
            yield listen
    finally:
        progress_listener.reset(token)


def run_flow(
    call: Callable[[SoraCredentials], Coroutine[Any, Any, R]],
    *,
    videos: int,
    block: str | None,
    base_url: str | None,
    emulator: bool,
    job_seconds: float,
    verbose: bool,
) -> R:
    """Run one flow call with the chosen credentials, quiet Prefect logs and a live progress bar."""
    with (
        credentials_for(block=block, base_url=base_url, use_emulator=emulator, job_seconds=job_seconds) as credentials,
        quiet_prefect_console(verbose),
        progress_bar(videos),
    ):
        return asyncio.run(call(credentials))
