"""`prefect-sora status | wait | fetch | list`: one video (or a page of them) by id, from the shell.

A paid video whose run died or whose wait timed out is collected here without
writing Python: the same wait loop as ``await_video``
(:func:`~prefect_sora._transport.waiting.wait_for_video`) and the same checked,
atomic download as ``fetch_video`` (:func:`~prefect_sora._durable.download.download`).
The id the user passes names the video in every line printed, whatever id a
gateway echoes back (LiteLLM re-encodes its ids per route).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from prefect_sora._errors import (
    ContentExpired,
    ContentNotReady,
    InvalidParameter,
    InvalidRequest,
    JobCancelled,
    JobFailed,
    UnexpectedResponse,
    VideoNotFound,
)
from prefect_sora.cli._exit import API_FAILURE, BAD_INPUT, err, exit_codes

if TYPE_CHECKING:
    from prefect_sora._models import StoredVideo, Video, VideoList, VideoVariant
    from prefect_sora._pricing import PriceTable
    from prefect_sora._transport.client import SoraClient
    from prefect_sora.blocks import SoraCredentials

R = TypeVar("R")

#: Exit codes of the commands on one video, beside _exit's 0, 2, 4 and 130.
NOT_FOUND = 5
EXPIRED = 6
JOB_FAILED = 7

NO_CREDENTIALS = (
    "No credentials. Pass --block NAME (a saved SoraCredentials block), or set SORA_API_KEY and "
    "SORA_BASE_URL (for a running `prefect-sora emulator`: SORA_BASE_URL=http://127.0.0.1:8000/v1 and any key)."
)

out = Console(highlight=False, soft_wrap=True)

_ID = typer.Argument(..., help="The video's id, as the create returned it.")
_BLOCK = typer.Option(None, "--block", help="Name of a saved SoraCredentials block.")
_BASE_URL = typer.Option(None, "--base-url", help="API root including /v1 (overrides the block or SORA_BASE_URL).")
_JSON = typer.Option(False, "--json", help="Print one JSON document on stdout and nothing else there.")


def status(
    video_id: str = _ID, block: str | None = _BLOCK, base_url: str | None = _BASE_URL, as_json: bool = _JSON
) -> None:
    """Show a video's status, progress, model, size, length, expiry and cost (exit 0 whatever its status)."""

    async def read(credentials: SoraCredentials, client: SoraClient) -> dict[str, Any]:
        return describe(video_id, await client.retrieve_video(video_id), credentials.prices())

    show(on_api(read, block=block, base_url=base_url), as_json=as_json)


def wait(
    video_id: str = _ID,
    timeout: float = typer.Option(3600.0, "--timeout", min=0.0, help="Longest wait, in seconds."),
    block: str | None = _BLOCK,
    base_url: str | None = _BASE_URL,
    as_json: bool = _JSON,
) -> None:
    """Wait for a video to complete, on the tasks' poll schedule, with a progress bar on stderr."""
    from prefect_sora._transport.waiting import wait_for_video
    from prefect_sora.cli._run import progress_bar

    async def until_done(credentials: SoraCredentials, client: SoraClient) -> dict[str, Any]:
        with progress_bar(1):
            video = await wait_for_video(client, video_id, timeout=timeout)
        return describe(video_id, video, credentials.prices())

    show(on_api(until_done, block=block, base_url=base_url), as_json=as_json)


def fetch(
    video_id: str = _ID,
    out_url: str = typer.Option(..., "--out", help="fsspec URL of a folder (ending in /) or of the file to write."),
    variant: str = typer.Option("video", "--variant", help="video, thumbnail or spritesheet."),
    block: str | None = _BLOCK,
    base_url: str | None = _BASE_URL,
    as_json: bool = _JSON,
) -> None:
    """Download a completed video (or its thumbnail or spritesheet) atomically: all of it or nothing."""
    from prefect_sora._durable.download import download
    from prefect_sora._transport.waiting import terminal_error

    if variant not in ("video", "thumbnail", "spritesheet"):
        with exit_codes():
            raise InvalidParameter("--variant", variant, "must be video, thumbnail or spritesheet")
    chosen: VideoVariant = variant  # type: ignore[assignment]

    async def store(credentials: SoraCredentials, client: SoraClient) -> StoredVideo:
        # Ask first: a failed or unfinished job then gets its own reason, not the content route's 409.
        video = await client.retrieve_video(video_id)
        if video.category in ("failed", "cancelled", "expired"):
            raise terminal_error(video.model_copy(update={"id": video_id}))
        if not video.is_completed:
            raise ContentNotReady(
                f"Video {video_id} is {video.status} at {video.progress:.0f}%; "
                f"wait for it first: prefect-sora wait {video_id}",
                video_id=video_id,
            )
        return await download(client, video_id, out_url, variant=chosen)

    stored = on_api(store, block=block, base_url=base_url)
    if as_json:
        typer.echo(stored.model_dump_json())
        return
    out.print(f"[bold green]Stored[/] {stored.variant} of {escape(video_id)} at {escape(stored.url)}")
    out.print(f"{stored.bytes:,} bytes, {stored.content_type}, sha256 {stored.sha256}")


def list_videos(
    limit: int = typer.Option(20, "--limit", min=1, max=100, help="Jobs on this page (1-100)."),
    after: str | None = typer.Option(None, "--after", help="Start after this id (the last id of the previous page)."),
    order: str = typer.Option("desc", "--order", help="desc (newest first) or asc."),
    block: str | None = _BLOCK,
    base_url: str | None = _BASE_URL,
    as_json: bool = _JSON,
) -> None:
    """List the account's recent jobs, one page at a time."""
    if order not in ("asc", "desc"):
        with exit_codes():
            raise InvalidParameter("--order", order, "must be asc or desc")
    direction: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"

    async def page(credentials: SoraCredentials, client: SoraClient) -> VideoList:
        try:
            return await client.list_videos(limit=limit, order=direction, after=after)
        except (InvalidRequest, VideoNotFound, UnexpectedResponse) as exc:
            if exc.status_code not in (400, 404, 405, 501) or getattr(exc, "param", None) in (
                "limit",
                "order",
                "after",
            ):
                raise
            # LiteLLM's proxy answers 400 to GET /videos whatever the query: listing is not served there.
            err.print(
                "[bold red]Not supported:[/] this gateway does not support listing videos "
                f"(GET /videos answered {exc.status_code}: {escape(exc.message)}); "
                "use `prefect-sora status VIDEO_ID` for each id you have"
            )
            raise typer.Exit(API_FAILURE) from None

    videos = on_api(page, block=block, base_url=base_url)
    if as_json:
        typer.echo(videos.model_dump_json())
        return
    rows = [("id", "status", "progress", "model", "size", "seconds", "created (UTC)")]
    rows += [
        (
            video.id,
            video.status,
            f"{video.progress:.0f}%",
            video.model or "-",
            video.size or "-",
            video.seconds or "-",
            _when(video.created_at) or "-",
        )
        for video in videos.data
    ]
    # Plain aligned columns, never folded: an id cut over three lines cannot be copied.
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        out.print(escape("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()))
    more = f"; next page: --after {escape(videos.last_id)}" if videos.has_more and videos.last_id else ""
    out.print(f"{len(videos.data)} video{'' if len(videos.data) == 1 else 's'}{more}")


def on_api(
    work: Callable[[SoraCredentials, SoraClient], Awaitable[R]],
    *,
    block: str | None,
    base_url: str | None,
) -> R:
    """Run ``work`` with an open client, every error turned into one line on stderr and its exit code."""
    from prefect_sora.cli._run import credentials_for

    if not block and not os.environ.get("SORA_API_KEY", "").strip():
        # Not _run's message: it offers --emulator, which cannot know a video made elsewhere.
        err.print(f"[bold red]{NO_CREDENTIALS}[/]")
        raise typer.Exit(BAD_INPUT)

    async def main(credentials: SoraCredentials) -> R:
        async with credentials.get_client() as client:
            return await work(credentials, client)

    with video_exit_codes(), credentials_for(block=block, base_url=base_url, use_emulator=False, job_seconds=0.0) as c:
        return asyncio.run(main(c))


@contextmanager
def video_exit_codes() -> Iterator[None]:
    """Exits 5, 6 and 7 for an unknown id, expired content and a failed job; the rest as ``generate``'s."""
    with exit_codes():
        try:
            yield
        except VideoNotFound as exc:
            _fail(NOT_FOUND, "No such video", f"{exc}; check the id and the gateway (--base-url / SORA_BASE_URL)")
        except ContentExpired as exc:
            _fail(EXPIRED, "Expired", f"{exc}; the download window is over, the content cannot be fetched any more")
        except JobCancelled as exc:
            _fail(JOB_FAILED, "Cancelled", str(exc))
        except JobFailed as exc:
            _fail(JOB_FAILED, "Job failed", f"{exc}{f' [{exc.code}]' if exc.code else ''}")
        except ContentNotReady as exc:
            _fail(API_FAILURE, "Not ready", str(exc))


def _fail(code: int, kind: str, message: str) -> None:
    # Gateway text is never Rich markup: "[moderation_blocked]" prints as written.
    err.print(f"[bold red]{kind}:[/] {escape(message)}")
    raise typer.Exit(code) from None


def describe(video_id: str, video: Video, prices: PriceTable) -> dict[str, Any]:
    """The job as JSON-ready data under the id the user gave, with its price and what was billed.

    ``estimated_usd`` is priced from the model, size and seconds the job reports
    (None where the gateway leaves one out); ``actual_usd`` is that once the job
    completed, ``"0"`` for a failed or cancelled job (not billed), None otherwise.
    """
    from prefect_sora._pricing import estimate

    estimated: Decimal | None = None
    if video.model and video.size and video.duration_seconds:
        try:
            estimated = estimate(video.model, video.size, video.duration_seconds, 1, prices).total_usd
        except InvalidParameter:
            estimated = None  # a model or size with no price: say unknown rather than guess
    actual = estimated if video.is_completed else Decimal("0") if video.is_failed else None
    data = video.model_dump(mode="json")
    data["id"] = video_id
    if video.id != video_id:
        data["echoed_id"] = video.id
    data["estimated_usd"] = None if estimated is None else str(estimated)
    data["actual_usd"] = None if actual is None else str(actual)
    return data


def show(data: dict[str, Any], *, as_json: bool) -> None:
    """Print ``describe``'s data: one JSON document, or a few readable lines."""
    if as_json:
        import json

        typer.echo(json.dumps(data))
        return
    rows = [
        ("video", data["id"]),
        ("status", f"{data['status']} ({data['progress']:.0f}%)"),
        ("model", data.get("model") or "-"),
        ("size", data.get("size") or "-"),
        ("seconds", data.get("seconds") or "-"),
        ("created", _when(data.get("created_at")) or "-"),
        ("completed", _when(data.get("completed_at")) or "-"),
        ("expires", _expiry(data.get("expires_at"))),
        ("cost", _cost(data)),
    ]
    if data.get("error"):
        error = data["error"]
        rows.append(("error", " ".join(str(part) for part in (error.get("code"), error.get("message")) if part)))
    if data.get("echoed_id"):
        rows.append(("echoed id", data["echoed_id"]))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.print(f"{name:<{width}}  {escape(str(value))}")


def _cost(data: dict[str, Any]) -> str:
    estimated, actual = data["estimated_usd"], data["actual_usd"]
    if actual == "0":
        return "$0 (not billed)"
    if estimated is None:
        return "unknown (the gateway did not report model, size and seconds)"
    return f"${estimated} (billed)" if actual is not None else f"${estimated} once it completes"


def _when(stamp: int | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _expiry(stamp: int | None) -> str:
    if stamp is None:
        return "-"
    left = stamp - datetime.now(tz=timezone.utc).timestamp()
    minutes = round(abs(left) / 60)
    relative = f"in {minutes} min" if left > 0 else f"{minutes} min ago (content gone)"
    return f"{_when(stamp)}, {relative}"
